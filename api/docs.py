"""The API's description for people: the OpenAPI schema (/api/v1/schema/, drf-spectacular), a
Swagger UI page that reads it (/api/docs/: its files are drf-spectacular-sidecar's, served from this
site, and started by static/js/api_docs.js, so the page keeps to the site's Content-Security-Policy:
no CDN, no inline script or style), and the list of problem types (/api/problems/)."""

from __future__ import annotations

from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_safe
from drf_spectacular.views import SpectacularAPIView

from api.problems import PROBLEMS


class Schema(SpectacularAPIView):
    """The OpenAPI document, for anyone (it says what the API does, not what anyone has)."""

    authentication_classes = ()
    permission_classes = ()


@require_safe
def docs_page(request):
    return render(request, "api/docs.html", {"schema_url": reverse("api:schema")})


@require_safe
def problems_page(request):
    return render(request, "api/problems.html", {"problems": [(slug, title, meaning) for slug, (title, meaning)
                                                              in PROBLEMS.items()]})
