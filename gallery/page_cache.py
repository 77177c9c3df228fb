"""The gallery's pages for visitors without an account, kept by the proxy (nginx's proxy_cache,
nstsite/webtier/page_cache.py) and purged when what they show changes.

A gallery page (the grid, a user's page, a batch's, an artwork's) is the same for every visitor
who is not signed in, and those are most of the gallery's traffic: nginx answers them from its
cache without asking Python. What may be kept is decided here, per response:

- `shared_for_visitors` (on the gallery's page views) marks a response as one nginx may keep for
  NST_PAGE_CACHE_SECONDS, with `X-Accel-Expires` (which nginx reads and does not pass on), only
  when it is a GET or HEAD of a visitor who is not signed in, a 200, and carries no cookie and no
  CSRF token (a form's token is the visitor's own). Everything else is never kept: nginx keeps
  only what carries that header, never a response that sets a cookie, and does not even look in
  its cache for a request that carries a session cookie (the proxy's side), so a signed-in user
  never gets a visitor's page and a visitor never gets a signed-in user's. The page's headers
  (Content-Security-Policy and the other security headers) are kept with it and sent with every
  copy.
- `purge()` makes every kept page stale at once: it bumps the gallery's generation
  (gallery.models.GridVersion, also the key of the grids' HTML that Django keeps), which is part
  of nginx's cache key. nginx learns the generation from `generation` (a tiny view it asks
  through an internal subrequest and keeps for NST_PAGE_CACHE_CHECK_SECONDS), so a purge reaches
  every visitor within that time (1 s) of its commit, from whichever process made it: a web
  process, or a worker on another machine publishing a job it finished. Call it in the
  transaction that changes what a page shows: publishing, withdrawing or deleting an artwork,
  a like, an owner's choice to show or hide their originals, staff hiding or showing an artwork
  (gallery.moderation) and its owner renaming it (gallery.titles).

Why a generation rather than deleting nginx's files: the change can happen on any machine (a
worker publishes what it finished), nginx's open-source build has no purge request, and one
number makes every page, sort and page number stale at once, which a like does (its count is on
the grid, the order of "most liked" may change). What it costs: at most one render of each page
per NST_PAGE_CACHE_CHECK_SECONDS while likes come in, and the grids' Django cache starts again.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_GET

from gallery.models import GridVersion

KEEP_HEADER = "X-Accel-Expires"          # nginx: keep this response for so many seconds
GENERATION_HEADER = "X-Page-Generation"  # nginx: the number its cache keys start with


def purge() -> None:
    """Every cached gallery page is stale once the caller's transaction commits (nginx notices
    within NST_PAGE_CACHE_CHECK_SECONDS)."""
    GridVersion.bump()


def purge_on_signal(sender, **kwargs) -> None:
    """A signal receiver that purges (gallery.apps connects it)."""
    purge()


def may_share(request: HttpRequest, response: HttpResponse) -> bool:
    """May nginx give this response to every visitor who is not signed in?"""
    user = getattr(request, "user", None)
    return (request.method in ("GET", "HEAD") and response.status_code == 200
            and (user is None or not user.is_authenticated)
            and not response.cookies
            and not request.META.get("CSRF_COOKIE_NEEDS_UPDATE")  # a form's token: the visitor's own
            and not _session_or_messages_written(request))


def _session_or_messages_written(request: HttpRequest) -> bool:
    """Their middleware writes the cookie after the view: nginx would not keep that response
    anyway (it never keeps one that sets a cookie), and this says so before."""
    session = getattr(request, "session", None)
    messages = getattr(request, "_messages", None)
    return bool((session is not None and session.modified)
                or (messages is not None and (messages.used or messages.added_new)))


def shared_for_visitors(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Mark the view's response as one nginx may keep for visitors (see may_share)."""
    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        response = view(request, *args, **kwargs)
        seconds = settings.NST_PAGE_CACHE_SECONDS
        if seconds > 0 and may_share(request, response):
            response[KEEP_HEADER] = str(seconds)
        return response
    return wrapper


@require_GET
def generation(request: HttpRequest) -> HttpResponse:
    """The gallery's generation, for nginx's subrequest (it keeps the answer for
    NST_PAGE_CACHE_CHECK_SECONDS). The proxy answers a browser's request for this URL with a 404."""
    response = HttpResponse(b"", content_type="text/plain")
    response[GENERATION_HEADER] = str(GridVersion.current())
    response[KEEP_HEADER] = str(settings.NST_PAGE_CACHE_CHECK_SECONDS)
    return response
