"""The permission matrix: anonymous / owner / other user / staff against every URL of the site and
every websocket route, with the answer each must get. A URL added without a row here fails
`test_every_url_of_the_site_is_in_the_matrix`, so the matrix cannot silently fall behind.

What the answers mean: 200 shown; 302 done and sent on (a POST that acted); "login" sent to the
login page (nothing done); 404 not found (someone else's private object: its existence is not
revealed either); "admin-login" sent to the admin's login page.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from django.core.files.base import ContentFile
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from engine import email_verification
from engine.models import Batch, LibraryStyle, Status, StyleJob, Visibility, write_job_file
from engine.studio import staged_uploads, style_library
from gallery.models import Artwork

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media_root")]



@dataclass
class Objects:
    private: StyleJob     # the owner's finished private job, with an epoch preview
    public: StyleJob      # the owner's finished public job, in the gallery
    queued: StyleJob      # the owner's queued private job (cancel)
    artwork: Artwork      # `public`'s gallery entry
    hidden: Artwork       # an unpublished artwork (was public once)
    private_batch: Batch  # the owner's batch of two finished private jobs
    public_batch: Batch   # the owner's batch of two finished public jobs, in the gallery
    library: LibraryStyle  # a painting of the style library
    kept: str             # the token of an image kept for the owner after a refused submission
    token: object         # one of the owner's API tokens (api.models.ApiToken)


@pytest.fixture
def objects(make_job, image_bytes, owner) -> Objects:
    from api import tokens
    from gallery import publishing

    result = image_bytes("tubingen.jpg", 64, fmt="PNG")

    def finished(visibility: str, batch=None) -> StyleJob:
        job = make_job(mode="classic", visibility=visibility, batch=batch)
        assert job.start(worker="test")
        assert job.report_progress(epoch=1, step=5, preview=image_bytes("tubingen.jpg", 32))
        assert job.finish(image_png=result, history=None, device="CPU", network="vgg16", seconds=1.0)
        return job

    private, public, hidden_job = (finished(Visibility.PRIVATE), finished(Visibility.PUBLIC),
                                   finished(Visibility.PUBLIC))
    publishing.unpublish(hidden_job)
    batches = {visibility: Batch.objects.create(owner=owner) for visibility in Visibility.values}
    for visibility, batch in batches.items():
        finished(visibility, batch), finished(visibility, batch)
    style_library.create_bundled_rows()
    kept = staged_uploads.stage(owner, "content", ContentFile(result), name="photo.png", size=(64, 48))
    return Objects(private=private, public=public, queued=make_job(), artwork=Artwork.objects.get(job=public),
                   hidden=Artwork.objects.get(job=hidden_job), private_batch=batches[Visibility.PRIVATE],
                   public_batch=batches[Visibility.PUBLIC], library=LibraryStyle.objects.first(),
                   kept=kept.token, token=tokens.issue(owner, "matrix")[0])


@pytest.fixture
def clients(owner, other_user, staff_user) -> dict[str, Client]:
    out = {"anonymous": Client()}
    for role, user in (("owner", owner), ("other", other_user), ("staff", staff_user)):
        out[role] = Client()
        out[role].force_login(user)
    return out


# (name, method, url maker, {role: expected}); url makers take the Objects.
MATRIX = [
    ("home", "get", lambda o: reverse("home"), dict(anonymous=200, owner=200, other=200, staff=200)),
    ("engine:my_jobs", "get", lambda o: reverse("engine:my_jobs"),
     dict(anonymous="login", owner=200, other=200, staff=200)),
    ("engine:submit", "get", lambda o: reverse("engine:submit"),
     dict(anonymous="login", owner=200, other=200, staff=200)),
    ("engine:detail", "get", lambda o: reverse("engine:detail", args=[o.private.pk]),
     dict(anonymous=404, owner=200, other=404, staff=200)),
    ("engine:detail", "get", lambda o: reverse("engine:detail", args=[o.public.pk]),
     dict(anonymous=200, owner=200, other=200, staff=200)),
    ("engine:cancel", "post", lambda o: reverse("engine:cancel", args=[o.queued.pk]),
     dict(anonymous="login", owner=302, other=404, staff=302)),
    ("engine:cancel", "post", lambda o: reverse("engine:cancel", args=[o.public.pk]),
     dict(anonymous="login", owner=302, other=404, staff=302)),  # public, but not theirs to change
    ("engine:publish", "post", lambda o: reverse("engine:publish", args=[o.private.pk]),
     dict(anonymous="login", owner=302, other=404, staff=302)),
    ("engine:delete", "post", lambda o: reverse("engine:delete", args=[o.private.pk]),
     dict(anonymous="login", owner=302, other=404, staff=302)),  # unconfirmed: back to the job page
    ("engine:delete", "post", lambda o: reverse("engine:delete", args=[o.public.pk]),
     dict(anonymous="login", owner=302, other=404, staff=302)),  # public, but not theirs to delete
    ("engine:another_style", "post", lambda o: reverse("engine:another_style", args=[o.private.pk]),
     dict(anonymous="login", owner=302, other=404, staff=404)),  # the owner's photo, kept for the owner
    ("engine:another_style", "post", lambda o: reverse("engine:another_style", args=[o.public.pk]),
     dict(anonymous="login", owner=302, other=404, staff=404)),
    ("engine:download", "get", lambda o: reverse("engine:download", args=[o.private.pk, "display"]),
     dict(anonymous=404, owner=200, other=404, staff=200)),
    ("engine:download", "get", lambda o: reverse("engine:download", args=[o.public.pk, "thumb"]),
     dict(anonymous=200, owner=200, other=200, staff=200)),
    ("engine:download", "get", lambda o: reverse("engine:download", args=[o.private.pk, "png"]),
     dict(anonymous=404, owner=200, other=404, staff=200)),
    ("engine:download", "get", lambda o: reverse("engine:download", args=[o.private.pk, "content"]),
     dict(anonymous=404, owner=200, other=404, staff=200)),
    ("engine:download", "get", lambda o: reverse("engine:download", args=[o.private.pk, "style-1"]),
     dict(anonymous=404, owner=200, other=404, staff=200)),
    ("engine:download", "get", lambda o: reverse("engine:download", args=[o.public.pk, "png"]),
     dict(anonymous=200, owner=200, other=200, staff=200)),
    ("engine:preview", "get", lambda o: reverse("engine:preview", args=[o.private.pk, 1]),
     dict(anonymous=404, owner=200, other=404, staff=200)),
    ("engine:preview", "get", lambda o: reverse("engine:preview", args=[o.public.pk, 1]),
     dict(anonymous=200, owner=200, other=200, staff=200)),
    ("engine:batch", "get", lambda o: reverse("engine:batch", args=[o.private_batch.pk]),
     dict(anonymous=404, owner=200, other=404, staff=200)),
    ("engine:batch", "get", lambda o: reverse("engine:batch", args=[o.public_batch.pk]),
     dict(anonymous=200, owner=200, other=200, staff=200)),
    ("engine:batch_zip", "get", lambda o: reverse("engine:batch_zip", args=[o.private_batch.pk]),
     dict(anonymous=404, owner=200, other=404, staff=200)),
    ("engine:batch_zip", "get", lambda o: reverse("engine:batch_zip", args=[o.public_batch.pk]),
     dict(anonymous=200, owner=200, other=200, staff=200)),
    ("gallery:batch", "get", lambda o: reverse("gallery:batch", args=[o.public_batch.pk]),
     dict(anonymous=200, owner=200, other=200, staff=200)),
    ("gallery:batch", "get", lambda o: reverse("gallery:batch", args=[o.private_batch.pk]),
     dict(anonymous=404, owner=404, other=404, staff=404)),  # nothing of it is published
    ("engine:notify", "post", lambda o: reverse("engine:notify", args=[o.queued.pk]),
     dict(anonymous="login", owner=302, other=404, staff=404)),  # the owner's own e-mail only
    ("engine:estimate", "get", lambda o: reverse("engine:estimate") + "?mode=fast&size=256",
     dict(anonymous="login", owner=200, other=200, staff=200)),
    ("engine:staged_upload", "get", lambda o: reverse("engine:staged_upload", args=[o.kept]),
     dict(anonymous="login", owner=200, other=404, staff=404)),  # a kept image is its uploader's alone
    ("engine:library_thumbnail", "get", lambda o: reverse("engine:library_thumbnail", args=[o.library.pk]),
     dict(anonymous=200, owner=200, other=200, staff=200)),  # public-domain paintings
    ("favicon", "get", lambda o: "/favicon.ico", dict(anonymous=200, owner=200, other=200, staff=200)),
    ("gallery:index", "get", lambda o: reverse("gallery:index"), dict(anonymous=200, owner=200, other=200, staff=200)),
    ("gallery:detail", "get", lambda o: reverse("gallery:detail", args=[o.artwork.pk]),
     dict(anonymous=200, owner=200, other=200, staff=200)),
    ("gallery:detail", "get", lambda o: reverse("gallery:detail", args=[o.hidden.pk]),
     dict(anonymous=404, owner=302, other=404, staff=302)),  # owner and staff: sent to the job page
    ("gallery:like", "post", lambda o: reverse("gallery:like", args=[o.artwork.pk]),
     dict(anonymous="login", owner=302, other=302, staff=302)),
    ("gallery:like", "post", lambda o: reverse("gallery:like", args=[o.hidden.pk]),
     dict(anonymous="login", owner=404, other=404, staff=404)),
    ("gallery:unlike", "post", lambda o: reverse("gallery:unlike", args=[o.artwork.pk]),
     dict(anonymous="login", owner=302, other=302, staff=302)),
    ("gallery:rename", "post", lambda o: reverse("gallery:rename", args=[o.artwork.pk]),
     dict(anonymous="login", owner=302, other=404, staff=404)),  # its owner's title
    ("gallery:hide", "post", lambda o: reverse("gallery:hide", args=[o.artwork.pk]),
     dict(anonymous="login", owner=404, other=404, staff=302)),  # moderation: staff only
    ("gallery:show", "post", lambda o: reverse("gallery:show", args=[o.artwork.pk]),
     dict(anonymous="login", owner=404, other=404, staff=302)),
    ("gallery:download", "get", lambda o: reverse("gallery:download", args=[o.artwork.pk]),
     dict(anonymous=200, owner=200, other=200, staff=200)),
    ("gallery:download", "get", lambda o: reverse("gallery:download", args=[o.hidden.pk]),
     dict(anonymous=404, owner=404, other=404, staff=404)),
    ("gallery:thumbnail", "get", lambda o: reverse("gallery:thumbnail", args=[o.artwork.pk, "result"]),
     dict(anonymous=200, owner=200, other=200, staff=200)),
    ("gallery:thumbnail", "get", lambda o: reverse("gallery:thumbnail", args=[o.hidden.pk, "result"]),
     dict(anonymous=404, owner=404, other=404, staff=404)),
    ("gallery:user", "get", lambda o: reverse("gallery:user", args=[o.public.owner.username]),
     dict(anonymous=200, owner=200, other=200, staff=200)),
    ("gallery:page_generation", "get", lambda o: reverse("gallery:page_generation"),
     dict(anonymous=200, owner=200, other=200, staff=200)),  # a number, for the proxy (a 404 through it)
    ("signup", "get", lambda o: reverse("signup"), dict(anonymous=200, owner=302, other=302, staff=302)),
    ("login", "get", lambda o: reverse("login"), dict(anonymous=200, owner=200, other=200, staff=200)),
    ("logout", "post", lambda o: reverse("logout"), dict(anonymous=302, owner=302, other=302, staff=302)),
    ("password_change", "get", lambda o: reverse("password_change"),
     dict(anonymous="login", owner=200, other=200, staff=200)),
    ("password_change_done", "get", lambda o: reverse("password_change_done"),
     dict(anonymous="login", owner=200, other=200, staff=200)),
    ("email_status", "get", lambda o: reverse("email_status"),
     dict(anonymous="login", owner=200, other=200, staff=200)),
    # The link that confirms an address is its own credential: its page opens for whoever has it
    # (a POST confirms; tests/test_accounts.py).
    ("verify_email", "get", lambda o: reverse("verify_email", args=[email_verification.key_for(o.private.owner)]),
     dict(anonymous=200, owner=200, other=200, staff=200)),
    ("password_reset", "get", lambda o: reverse("password_reset"),
     dict(anonymous=200, owner=200, other=200, staff=200)),
    ("password_reset_done", "get", lambda o: reverse("password_reset_done"),
     dict(anonymous=200, owner=200, other=200, staff=200)),
    ("password_reset_confirm", "get", lambda o: reverse("password_reset_confirm", args=["MQ", "set-password"]),
     dict(anonymous=200, owner=200, other=200, staff=200)),  # an invalid link: a page that says so
    ("password_reset_complete", "get", lambda o: reverse("password_reset_complete"),
     dict(anonymous=200, owner=200, other=200, staff=200)),
    # The proxy's question before a large body (nstsite.request_limits.anonymous_uploads; the answers to an upload's
    # method, 204 signed in and 401 anonymous, are test_anonymous_uploads.py's): a GET may always come.
    ("may_upload", "get", lambda o: reverse("may_upload"), dict(anonymous=204, owner=204, other=204, staff=204)),
    ("admin:index", "get", lambda o: reverse("admin:index"),
     dict(anonymous="admin-login", owner="admin-login", other="admin-login", staff=200)),
    ("admin:engine_stylejob_changelist", "get", lambda o: reverse("admin:engine_stylejob_changelist"),
     dict(anonymous="admin-login", owner="admin-login", other="admin-login", staff=200)),
    ("admin:engine_stylejob_change", "get", lambda o: reverse("admin:engine_stylejob_change", args=[o.private.pk]),
     dict(anonymous="admin-login", owner="admin-login", other="admin-login", staff=200)),
    ("django_rq:home", "get", lambda o: reverse("django_rq:home"),
     dict(anonymous="admin-login", owner="admin-login", other="admin-login", staff=200)),
    # The "API tokens" page and its forms (a token of someone else's is not found: nothing revoked).
    ("api_tokens", "get", lambda o: reverse("api_tokens"), dict(anonymous="login", owner=200, other=200, staff=200)),
    ("api_token_revoke", "post", lambda o: reverse("api_token_revoke", args=[o.token.pk]),
     dict(anonymous="login", owner=302, other=302, staff=302)),
    ("api_webhook_secret", "post", lambda o: reverse("api_webhook_secret"),
     dict(anonymous="login", owner=302, other=302, staff=302)),
    # The API with the site's session (its own pages' scripts); with tokens: API_MATRIX below.
    ("api:docs", "get", lambda o: reverse("api:docs"), dict(anonymous=200, owner=200, other=200, staff=200)),
    ("api:problems", "get", lambda o: reverse("api:problems"), dict(anonymous=200, owner=200, other=200, staff=200)),
    ("api:schema", "get", lambda o: reverse("api:schema"), dict(anonymous=200, owner=200, other=200, staff=200)),
    ("api:jobs", "get", lambda o: reverse("api:jobs"), dict(anonymous=401, owner=200, other=200, staff=200)),
    ("api:job", "get", lambda o: reverse("api:job", args=[o.private.pk]),
     dict(anonymous=401, owner=200, other=404, staff=200)),
    ("api:job_cancel", "post", lambda o: reverse("api:job_cancel", args=[o.queued.pk]),
     dict(anonymous=401, owner=200, other=404, staff=409)),  # the owner cancelled it just before
    ("api:job_ticket", "post", lambda o: reverse("api:job_ticket", args=[o.private.pk]),
     dict(anonymous=401, owner=201, other=404, staff=201)),
    ("api:job_file", "get", lambda o: reverse("api:job_file", args=[o.private.pk, "png"]),
     dict(anonymous=401, owner=200, other=404, staff=200)),
    ("api:batches", "get", lambda o: reverse("api:batches"), dict(anonymous=401, owner=200, other=200, staff=200)),
    ("api:batch", "get", lambda o: reverse("api:batch", args=[o.private_batch.pk]),
     dict(anonymous=401, owner=200, other=404, staff=200)),
    ("api:styles", "get", lambda o: reverse("api:styles"), dict(anonymous=401, owner=200, other=200, staff=200)),
    ("api:estimate", "get", lambda o: reverse("api:estimate") + "?mode=fast&size=256",
     dict(anonymous=401, owner=200, other=200, staff=200)),
    ("api:settings", "post", lambda o: reverse("api:settings"), dict(anonymous=401, owner=400, other=400, staff=400)),
]

# URL names answered by the rows above, plus the ones a row for their app stands for: Django's
# admin and django-rq views all sit behind the same staff check, which the rows for the admin
# index, the job admin and the queue dashboard exercise, and `test_no_admin_page_opens_for_non_staff`
# checks for every admin URL that takes no argument.
COVERED = {row[0] for row in MATRIX}
STAFF_ONLY_PREFIXES = ("admin/",)


def _check(response, expected, url: str) -> str | None:
    """None when the answer is the expected one, else what was wrong."""
    status, location = response.status_code, response.get("Location", "")
    if expected == "login":
        ok = status == 302 and location.startswith(reverse("login"))
    elif expected == "admin-login":
        ok = status == 302 and location.startswith(reverse("admin:login"))
    else:
        ok = status == expected
    return None if ok else f"{url}: expected {expected}, got {status} {location}"


@pytest.mark.parametrize("name, method, url, expected", [pytest.param(*row, id=f"{i:02d}-{row[0]}")
                                                          for i, row in enumerate(MATRIX)])
def test_the_matrix(name, method, url, expected, objects, clients, rq_redis) -> None:
    """One row, the four roles in turn (the ones that may not act first: an action they were
    wrongly allowed would show in the later answers too)."""
    target = url(objects)
    wrong = {role: _check(getattr(clients[role], method)(target), expected[role], target)
             for role in ("anonymous", "other", "owner", "staff")}
    assert {role: problem for role, problem in wrong.items() if problem} == {}


def test_only_the_owner_and_staff_can_cancel_and_others_change_nothing(objects, clients, rq_redis) -> None:
    for role in ("anonymous", "other"):
        clients[role].post(reverse("engine:cancel", args=[objects.queued.pk]))
        clients[role].post(reverse("engine:publish", args=[objects.private.pk]), {"publish": "1"})
    objects.queued.refresh_from_db()
    objects.private.refresh_from_db()
    assert objects.queued.status == Status.QUEUED
    assert objects.private.visibility == Visibility.PRIVATE and not Artwork.objects.filter(job=objects.private)

    clients["staff"].post(reverse("engine:publish", args=[objects.private.pk]), {"publish": "1"})
    assert not Artwork.objects.filter(job=objects.private, published=True)  # only its owner publishes
    clients["owner"].post(reverse("engine:cancel", args=[objects.queued.pk]))
    objects.queued.refresh_from_db()
    assert objects.queued.status == Status.CANCELLED


def _site_urls(resolver: URLResolver | None = None, prefix: str = "", namespace: str = ""):
    """(route, name) of every URL pattern of the site, recursively."""
    resolver = resolver or get_resolver()
    for pattern in resolver.url_patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            inner = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
            yield from _site_urls(pattern, route, inner)
        elif isinstance(pattern, URLPattern):
            yield route, f"{namespace}{pattern.name}" if pattern.name else route


def test_every_url_of_the_site_is_in_the_matrix() -> None:
    missing = [(route, name) for route, name in _site_urls()
               if name not in COVERED and not route.startswith(STAFF_ONLY_PREFIXES)]
    assert missing == [], "add a row to MATRIX for each"


def test_no_admin_page_opens_for_non_staff(clients, objects, rq_redis) -> None:
    """Every admin and queue-dashboard URL that needs no argument: never shown to a non-staff user."""
    routes = [(route, name) for route, name in _site_urls()
              if route.startswith(STAFF_ONLY_PREFIXES) and "<" not in route and "(?P" not in route
              and not name.endswith(("logout", "login"))]
    assert len(routes) >= 10
    for route, _ in routes:
        url = "/" + route.replace("^", "").replace("$", "").replace("\\Z", "")
        for role in ("anonymous", "owner", "other"):
            response = clients[role].get(url)
            assert response.status_code in (302, 401, 403, 404), (url, role, response.status_code)
            if response.status_code == 302:
                assert response["Location"].startswith(reverse("admin:login")), (url, role)


def test_a_file_of_a_private_job_is_never_in_a_public_place(objects) -> None:
    """The job's files are served only by the access-checked views: nothing under MEDIA_URL."""
    from django.conf import settings

    assert not settings.MEDIA_URL or not any(
        str(p.pattern).startswith(settings.MEDIA_URL.lstrip("/")) for p in get_resolver().url_patterns)
    name = write_job_file(objects.private, "probe.txt", b"x")
    assert Client().get("/" + settings.MEDIA_URL.strip("/") + "/" + name).status_code == 404


# --- the job pages, one case at a time ----------------------------------------------------------------

def test_it_hides_private_jobs_from_others(other_client, client, make_job, rq_redis):
    job = make_job()
    urls = [reverse("engine:detail", args=[job.pk]), reverse("engine:download", args=[job.pk, "content"]),
            reverse("engine:download", args=[job.pk, "style-1"])]
    for url in urls:
        assert other_client.get(url).status_code == 404, url
        assert client.get(url).status_code == 404, url


def test_others_cannot_cancel_a_job_even_a_public_one(other_client, make_job, rq_redis):
    for visibility in ("private", "public"):
        job = make_job(visibility=visibility)
        assert other_client.post(reverse("engine:cancel", args=[job.pk])).status_code == 404
        job.refresh_from_db()
        assert job.status == Status.QUEUED


def test_public_jobs_are_visible_to_everyone(client, other_client, make_job, rq_redis):
    job = make_job(visibility="public")
    assert client.get(reverse("engine:detail", args=[job.pk])).status_code == 200
    page = other_client.get(reverse("engine:detail", args=[job.pk])).content.decode()
    assert 'id="cancel-job"' not in page


def test_staff_can_see_and_cancel_any_job(staff_client, make_job, rq_redis):
    job = make_job()
    assert staff_client.get(reverse("engine:detail", args=[job.pk])).status_code == 200
    assert staff_client.post(reverse("engine:cancel", args=[job.pk])).status_code == 302
    job.refresh_from_db()
    assert job.status == Status.CANCELLED


# --- websockets ---------------------------------------------------------------------------------

# (route, path maker, {role: "snapshot" or the close code}); 4404 mirrors the page's 404, 4401 "log in".
WS_MATRIX = [
    ("ws/jobs/", lambda o: "/ws/jobs/", dict(anonymous=4401, owner="snapshot", other="snapshot", staff="snapshot")),
    ("ws/jobs/<int:pk>/", lambda o: f"/ws/jobs/{o.private.pk}/",
     dict(anonymous=4404, owner="snapshot", other=4404, staff="snapshot")),
    ("ws/jobs/<int:pk>/", lambda o: f"/ws/jobs/{o.public.pk}/",
     dict(anonymous="snapshot", owner="snapshot", other="snapshot", staff="snapshot")),
]


def test_every_websocket_route_is_in_the_matrix() -> None:
    from engine.routing import websocket_urlpatterns

    assert {str(p.pattern) for p in websocket_urlpatterns} == {row[0] for row in WS_MATRIX}


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
@pytest.mark.parametrize("route, path, expected", [pytest.param(*row, id=f"{i}-{row[0]}")
                                                   for i, row in enumerate(WS_MATRIX)])
async def test_the_websocket_matrix(route, path, expected, objects, owner, other_user, staff_user, cookie,
                                    rq_redis):
    from asgiref.sync import sync_to_async

    from tests.web_client import communicator

    target = path(objects)
    answers = {}
    for role, user in (("anonymous", None), ("owner", owner), ("other", other_user), ("staff", staff_user)):
        comm = communicator(target, await sync_to_async(cookie)(user))
        connected, _ = await comm.connect(timeout=5)
        message = await comm.receive_output(timeout=5) if connected else {"type": "refused"}
        await comm.disconnect()
        answers[role] = ("snapshot" if message["type"] == "websocket.send" and '"snapshot"' in message["text"]
                         else message.get("code", message["type"]))
    assert answers == expected


# --- the API with tokens --------------------------------------------------------------------------

# Roles: no credentials; the owner's revoked and expired tokens; another user's, the owner's read
# token, the owner's read-and-write token, staff's. In that order: those that may not act first.
API_ROLES = ("anonymous", "revoked", "expired", "other", "owner_read", "owner", "staff")
NO = dict(anonymous=401, revoked=401, expired=401)

API_MATRIX = [
    ("api:schema", "get", lambda o: reverse("api:schema"), dict.fromkeys(API_ROLES, 200)),
    ("api:docs", "get", lambda o: reverse("api:docs"), dict.fromkeys(API_ROLES, 200)),
    ("api:problems", "get", lambda o: reverse("api:problems"), dict.fromkeys(API_ROLES, 200)),
    ("api:jobs", "get", lambda o: reverse("api:jobs"),
     {**NO, "other": 200, "owner_read": 200, "owner": 200, "staff": 200}),
    ("api:jobs", "post", lambda o: reverse("api:jobs"),  # an empty submission: refused by the form
     {**NO, "other": 400, "owner_read": 403, "owner": 400, "staff": 400}),
    ("api:job", "get", lambda o: reverse("api:job", args=[o.private.pk]),
     {**NO, "other": 404, "owner_read": 200, "owner": 200, "staff": 200}),
    ("api:job", "get", lambda o: reverse("api:job", args=[o.public.pk]),
     {**NO, "other": 200, "owner_read": 200, "owner": 200, "staff": 200}),
    ("api:job", "delete", lambda o: reverse("api:job", args=[o.private.pk]),
     {**NO, "other": 404, "owner_read": 403, "owner": 204, "staff": 404}),  # gone once the owner deleted it
    ("api:job", "delete", lambda o: reverse("api:job", args=[o.public.pk]),
     {**NO, "other": 404, "owner_read": 403, "owner": 204, "staff": 404}),  # public, but not theirs to delete
    ("api:job_cancel", "post", lambda o: reverse("api:job_cancel", args=[o.queued.pk]),
     {**NO, "other": 404, "owner_read": 403, "owner": 200, "staff": 409}),
    ("api:job_ticket", "post", lambda o: reverse("api:job_ticket", args=[o.private.pk]),
     {**NO, "other": 404, "owner_read": 201, "owner": 201, "staff": 201}),  # watching is reading
    ("api:job_file", "get", lambda o: reverse("api:job_file", args=[o.private.pk, "png"]),
     {**NO, "other": 404, "owner_read": 200, "owner": 200, "staff": 200}),
    ("api:job_file", "get", lambda o: reverse("api:job_file", args=[o.public.pk, "content"]),
     {**NO, "other": 404, "owner_read": 200, "owner": 200, "staff": 200}),  # originals not shared
    ("api:batches", "get", lambda o: reverse("api:batches"),
     {**NO, "other": 200, "owner_read": 200, "owner": 200, "staff": 200}),
    ("api:batch", "get", lambda o: reverse("api:batch", args=[o.private_batch.pk]),
     {**NO, "other": 404, "owner_read": 200, "owner": 200, "staff": 200}),
    ("api:styles", "get", lambda o: reverse("api:styles"),
     {**NO, "other": 200, "owner_read": 200, "owner": 200, "staff": 200}),
    ("api:estimate", "get", lambda o: reverse("api:estimate") + "?mode=fast&size=256",
     {**NO, "other": 200, "owner_read": 200, "owner": 200, "staff": 200}),
    ("api:settings", "post", lambda o: reverse("api:settings"),  # no file: refused, changes nothing
     {**NO, "other": 400, "owner_read": 400, "owner": 400, "staff": 400}),
]


@pytest.fixture
def token_clients(owner, other_user, staff_user) -> dict[str, Client]:
    from datetime import timedelta

    from django.utils import timezone

    from api import tokens

    def client(user, scope="write", **kwargs) -> Client:
        token, plain = tokens.issue(user, "matrix", scope, **kwargs)
        return Client(headers={"Authorization": f"Bearer {plain}"}), token

    revoked, token = client(owner)
    tokens.revoke(owner, token.pk)
    expired, _ = client(owner, expires_at=timezone.now() - timedelta(seconds=1))
    return {"anonymous": Client(), "revoked": revoked, "expired": expired, "other": client(other_user)[0],
            "owner_read": client(owner, "read")[0], "owner": client(owner)[0], "staff": client(staff_user)[0]}


@pytest.mark.parametrize("name, method, url, expected", [pytest.param(*row, id=f"{i:02d}-{row[0]}")
                                                          for i, row in enumerate(API_MATRIX)])
def test_the_api_matrix(name, method, url, expected, objects, token_clients, rq_redis) -> None:
    target = url(objects)
    answers = {role: getattr(token_clients[role], method)(target) for role in API_ROLES}
    assert {role: r.status_code for role, r in answers.items()} == expected
    for role, response in answers.items():
        if response.status_code >= 400 and name.startswith("api:") and name not in ("api:docs", "api:problems"):
            assert response["Content-Type"] == "application/problem+json", (role, response.content)
        if response.status_code == 401:
            assert response["WWW-Authenticate"].startswith("Bearer"), role


def test_every_api_url_is_in_the_api_matrix() -> None:
    names = {name for _, name in _site_urls() if name.startswith("api:")}
    assert names == {row[0] for row in API_MATRIX}


def test_a_read_token_changes_nothing(objects, token_clients, rq_redis) -> None:
    reader = token_clients["owner_read"]
    reader.post(reverse("api:job_cancel", args=[objects.queued.pk]))
    reader.delete(reverse("api:job", args=[objects.private.pk]))
    objects.queued.refresh_from_db()
    assert objects.queued.status == Status.QUEUED and StyleJob.objects.filter(pk=objects.private.pk).exists()


def test_nobody_revokes_anyone_elses_token(objects, clients) -> None:
    for role in ("other", "staff"):
        clients[role].post(reverse("api_token_revoke", args=[objects.token.pk]))
    objects.token.refresh_from_db()
    assert objects.token.revoked_at is None
