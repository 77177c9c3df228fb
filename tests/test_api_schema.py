"""The API's description: /api/v1/schema/ is valid OpenAPI 3 (openapi-spec-validator) with every
endpoint of api/urls.py in it, the events a socket sends are all described, and the docs page is
served from this site."""

from __future__ import annotations

import re

import pytest
import yaml
from django.urls import URLPattern, reverse
from openapi_spec_validator import validate

pytestmark = pytest.mark.django_db


@pytest.fixture
def schema(client) -> dict:
    response = client.get(reverse("api:schema"))
    assert response.status_code == 200
    return yaml.safe_load(response.content)


def test_the_schema_is_valid_openapi_3(schema):
    assert schema["openapi"].startswith("3.")
    validate(schema)


def test_every_endpoint_and_method_is_in_the_schema(schema):
    from api import urls

    for pattern in urls.urlpatterns:
        assert isinstance(pattern, URLPattern)
        route = "/api/" + re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", str(pattern.pattern)).replace("{pk}", "{id}")
        view = pattern.callback
        if not route.startswith("/api/v1/") or route == "/api/v1/schema/":
            continue
        assert route in schema["paths"], route
        methods = {m for m in view.view_class.http_method_names if hasattr(view.view_class, m) and m != "options"}
        assert methods == set(schema["paths"][route]), route


def test_the_submission_is_described_with_the_forms_fields(schema):
    from engine.nst import schema as controls
    from engine.studio.forms import StyleJobForm

    body = schema["paths"]["/api/v1/jobs/"]["post"]["requestBody"]["content"]["multipart/form-data"]["schema"]
    fields = schema["components"]["schemas"][body["$ref"].rsplit("/", 1)[1]]["properties"]
    form_fields = set(StyleJobForm().fields) - {"content_staged", "style_1_staged", "style_2_staged",
                                                "style_3_staged"}
    assert form_fields <= set(fields)
    assert {c.name for c in controls.controls(web=True)} <= set(fields)
    assert {"settings_from", "webhook_url", "webhook_events"} <= set(fields)
    assert "callbacks" in schema["paths"]["/api/v1/jobs/"]["post"]


def test_every_field_of_a_live_event_is_described(schema, make_job, media_root, rq_redis):
    """The builders of engine.live.events against the LiveEvent schema: a field they add is a field
    to describe."""
    from engine.costs.estimates import QueueEstimate
    from engine.live import events

    described = set(schema["components"]["schemas"]["LiveEvent"]["properties"])
    job = make_job()
    estimate = QueueEstimate(position=0, workers=1, wait_seconds=1.0, run_seconds=2.0)
    progress = events.progress_state(job, epoch=1, step=2, eta_seconds=3.0, fps=4.0)
    built = [events.snapshot(job, losses=[], estimate=estimate), events.queued_event(job, estimate),
             events.started_event(job), events.progress_event(job, progress, losses=[], preview_epoch=1)]
    job.fail("broken")
    built.append(events.final_event(job, []))
    for event in built:
        assert set(event) - {"sent_at", "html"} <= described, event["event"]
    assert {"sent_at", "html"} <= described


def test_the_docs_page_serves_swagger_ui_from_this_site(client):
    page = client.get(reverse("api:docs"))
    assert page.status_code == 200
    html = page.content.decode()
    assert 'data-schema-url="/api/v1/schema/"' in html
    scripts = re.findall(r'<(?:script|link)[^>]+(?:src|href)="([^"]+)"', html)
    assert any("swagger-ui-bundle.js" in s for s in scripts)
    assert all(s.startswith("/") and not s.startswith("//") for s in scripts), scripts  # no CDN
    for asset in [s for s in scripts if "swagger" in s]:
        assert client.get(asset).status_code == 200, asset


def test_the_problem_types_page_lists_every_type(client):
    from api.problems import PROBLEMS

    html = client.get(reverse("api:problems")).content.decode()
    for slug in PROBLEMS:
        assert f'id="{slug}"' in html
