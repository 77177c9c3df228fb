"""Gallery pages: the grid of published artworks, an artwork's page, a user's page; likes,
thumbnails and counted downloads (gallery.downloads: once per visitor and day).

Everything starts from Artwork.objects.public() (`_get_public_artwork`): an artwork that is not
published is a 404 for everyone here, and its owner and staff are sent to the job's page
instead. An artwork's page shows the photo and style images it was made from only when its owner
chose to share them (StyleJob.share_originals); library paintings are credited either way.

Every page runs a fixed number of queries, whatever the number of artworks: a grid is a
COUNT and one page of rows with their authors (select_related), an artwork page one row with its
job and author, its style images, and (logged in) whether the user likes it.

The pages (grid, user, batch, artwork) are the same for every visitor who is not signed in: the
proxy keeps those (gallery.page_cache: `shared_for_visitors`), and a change to what they show
purges them. For everyone else, grid pages are the busiest part, so their HTML (without the site's
header, which differs per user) is cached for GRID_CACHE_SECONDS under a key holding GridVersion:
one small query tells whether anything was published, unpublished, liked or deleted since, and
such a change makes every cached grid stale at once (docs/benchmarks.md, "Gallery", for what
each saves).
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.core.files.storage import default_storage
from django.core.paginator import Page, Paginator
from django.db.models import Exists, OuterRef, Q
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.utils.safestring import SafeString, mark_safe
from django.views.decorators.http import require_POST

from engine.hooks import remix_credit
from engine.live.job_page import result_dims
from engine.models import Mode, is_queue_staff, may_manage, may_see_originals
from engine.storage.job_files import is_original, result_download
from engine.studio.describe import param_rows
from gallery import likes, moderation, titles
from gallery.downloads import count_download
from gallery.models import DEFAULT_SORT, SORTS, Artwork, ArtworkQuerySet, GridVersion, Like
from gallery.page_cache import shared_for_visitors
from nstsite.parsing import MAX_ID, whole_number
from nstsite.webtier.sendfile import send_file

PER_PAGE = 24
GRID_CACHE_SECONDS = 15
SORT_LABELS = {"newest": "Newest", "liked": "Most liked"}
# Browsers may keep a thumbnail for a few minutes; shared caches may not keep it at all, so an
# unpublished artwork is gone from everywhere but the viewer's own cache at once. The thumbnails
# of originals that only their owner and staff may see are kept by no cache (issue 24, finding 11).
THUMBNAIL_CACHE_CONTROL = "private, max-age=300"
PRIVATE_THUMBNAIL_CACHE_CONTROL = "private, no-store"


def _get_public_artwork(pk: int, artworks: ArtworkQuerySet | None = None) -> Artwork:
    """A published artwork, else 404 (also for an unpublished one: its existence is not revealed)."""
    return get_object_or_404((artworks if artworks is not None else Artwork.objects).public(), pk=pk)


def _grid(request: HttpRequest, artworks: ArtworkQuerySet, scope: str, *, batches_as_one: bool = True) -> SafeString:
    """The HTML of one grid page of `artworks` (`scope` names that set in the cache key), sorted,
    filtered and paged as the query string asks; from the cache when nothing was (un)published."""
    sort = request.GET.get("sort") if request.GET.get("sort") in SORTS else DEFAULT_SORT
    mode = request.GET.get("mode") if request.GET.get("mode") in Mode.values else ""
    number = str(whole_number(request.GET.get("page"), maximum=999_999) or 1)
    key = f"gallery:grid:{GridVersion.current()}:{scope}:{sort}:{mode}:{number}"
    html = cache.get(key)
    if html is None:
        artworks = artworks.filter(mode=mode) if mode else artworks
        page = _page(artworks.one_per_batch() if batches_as_one else artworks, sort, number)
        html = render_to_string("gallery/_grid.html", {
            "page": page, "sort": sort, "mode": mode, "sorts": SORT_LABELS.items(), "modes": Mode.choices})
        cache.set(key, html, GRID_CACHE_SECONDS)
    return mark_safe(html)  # our own template's output, escaped when it was rendered


def _page(artworks: ArtworkQuerySet, sort: str, number: str) -> Page:
    return Paginator(artworks.for_grid().sorted_by(sort), PER_PAGE).get_page(number)


@shared_for_visitors
def index(request: HttpRequest) -> HttpResponse:
    return render(request, "gallery/index.html", {"grid": _grid(request, Artwork.objects.public(), "all")})


@shared_for_visitors
def user_page(request: HttpRequest, username: str) -> HttpResponse:
    """An author's published artworks. 404 for a user who has published nothing: the page must not
    tell who has an account (issue 14: a list of usernames is where password guessing starts)."""
    published = Artwork.objects.public().filter(owner=OuterRef("pk"))
    author = get_object_or_404(get_user_model().objects.filter(Exists(published)), username=username, is_active=True)
    grid = _grid(request, Artwork.objects.public().by(author), f"user{author.pk}")
    return render(request, "gallery/user.html", {"author": author, "grid": grid})


@shared_for_visitors
def batch(request: HttpRequest, pk: int) -> HttpResponse:
    """The published artworks of one batch (its card in the grid opens here)."""
    if pk > MAX_ID:  # no id column holds it (SQLite raises OverflowError): issue 24, finding 8
        raise Http404("No such batch in the gallery.")
    artworks = Artwork.objects.public().filter(batch_id=pk)
    first = artworks.select_related("owner").order_by("pk").first()
    if first is None:
        raise Http404("No such batch in the gallery.")
    grid = _grid(request, artworks, f"batch{pk}", batches_as_one=False)
    return render(request, "gallery/batch.html", {"batch_id": pk, "author": first.owner, "grid": grid})


@shared_for_visitors
def detail(request: HttpRequest, pk: int) -> HttpResponse:
    """An artwork's page. One staff have hidden is shown to staff (to show it again), with who hid it."""
    artwork = Artwork.objects.select_related("job", "owner").filter(pk=pk).first()
    moderating = artwork is not None and artwork.hidden and is_queue_staff(request.user)
    if artwork is None or not (artwork.published or moderating):
        if artwork is not None and may_manage(request.user, artwork.owner_id):
            return redirect("engine:detail", pk=artwork.job_id)  # theirs, but not in the gallery now
        raise Http404("No such artwork in the gallery.")
    job = artwork.job
    styles = list(job.styles.select_related("library_style"))
    context = {
        "artwork": artwork, "job": job, "styles": styles, "params": param_rows(job),
        # Library paintings are public-domain works: credited even when the owner keeps their inputs private.
        "library_styles": [s for s in styles if s.library_style is not None],
        "liked": (request.user.is_authenticated
                  and Like.objects.filter(artwork=artwork, user=request.user).exists()),
        "is_owner": request.user.is_authenticated and request.user.pk == artwork.owner_id,
        "show_originals": job.originals_visible_to(request.user),
        "is_staff": is_queue_staff(request.user),
        "moderation": artwork.moderation.select_related("moderator").first() if moderating else None,
        "result_dims": result_dims(job),
        "remix_credit": remix_credit(job),  # "Remix of <artwork> by <user>" while that one is published
    }
    return render(request, "gallery/detail.html", context)


@login_required
@require_POST
def rename(request: HttpRequest, pk: int) -> HttpResponse:
    """Its owner gives their artwork a title of their own (POST title)."""
    artwork = get_object_or_404(Artwork.objects.public().filter(owner=request.user), pk=pk)
    titles.rename(artwork, request.POST.get("title", ""))
    return redirect("gallery:detail", pk=pk)


@login_required
@require_POST
def moderate(request: HttpRequest, pk: int, hide: bool) -> HttpResponse:
    """Staff take an artwork out of the gallery in one click (hide=True), or show it again: it is back
    in the gallery if its owner still has it public (gallery.moderation, logged)."""
    if not is_queue_staff(request.user):
        raise Http404("No such artwork.")  # as for anyone who may not see it: nothing revealed
    artwork = get_object_or_404(Artwork.objects.select_related("job"), pk=pk)
    if not (moderation.hide if hide else moderation.show)(artwork, request.user):
        return redirect("gallery:detail", pk=pk)  # done already (another member of staff, a second click)
    if hide:
        messages.success(request, f"“{artwork.title}” is hidden from the gallery. Its owner can no longer "
                                  "publish it; you can show it again here.")
    elif artwork.published:
        messages.success(request, f"“{artwork.title}” is back in the gallery.")
    else:
        messages.success(request, f"“{artwork.title}” is no longer hidden; its owner has made it private meanwhile.")
        return redirect("engine:detail", pk=artwork.job_id)
    return redirect("gallery:detail", pk=pk)


@login_required
@require_POST
def like(request: HttpRequest, pk: int) -> HttpResponse:
    likes.like(_get_public_artwork(pk), request.user)
    return redirect("gallery:detail", pk=pk)


@login_required
@require_POST
def unlike(request: HttpRequest, pk: int) -> HttpResponse:
    likes.unlike(_get_public_artwork(pk), request.user)
    return redirect("gallery:detail", pk=pk)


def thumbnail(request: HttpRequest, pk: int, kind: str) -> FileResponse:
    """A thumbnail made at publication (gallery.thumbnails), served as stored: one query, no Pillow.
    Those of the inputs only where the originals may be seen (engine.models.may_see_originals).
    Staff also get those of an artwork they have hidden (its page, which they still see)."""
    shown = Q(published=True) | Q(hidden=True) if is_queue_staff(request.user) else Q(published=True)
    row = (Artwork.objects.filter(shown, pk=pk)
           .values_list("thumbnails", "owner_id", "job__share_originals").first())
    names, owner_id, shared = row or ({}, None, False)
    if not names or kind not in names:
        raise Http404("No such thumbnail.")
    if is_original(kind) and not may_see_originals(request.user, owner_id, shared=shared):
        raise Http404("The author keeps the original images to themselves.")
    try:
        response = FileResponse(default_storage.open(names[kind], "rb"), content_type="image/jpeg")
    except FileNotFoundError:
        raise Http404("No such thumbnail.") from None
    private = is_original(kind) and not shared
    response["Cache-Control"] = PRIVATE_THUMBNAIL_CACHE_CONTROL if private else THUMBNAIL_CACHE_CONTROL
    return response


def download(request: HttpRequest, pk: int) -> HttpResponseBase:
    """The full result as an attachment (PNG, or MP4 for a video), counted once per visitor and day
    (gallery.downloads)."""
    artwork = _get_public_artwork(pk, Artwork.objects.select_related("job"))
    spec = result_download(artwork.job)  # its picture or its clip
    if spec is None:
        raise Http404("This artwork's file is missing.")
    try:
        # Sent by nginx after this check when the proxy is in front (nstsite/webtier/sendfile.py).
        response = send_file(request, artwork.job.result, as_attachment=True, content_type=spec.content_type,
                             filename=f"nst-artwork-{artwork.pk}{spec.suffix}")
    except FileNotFoundError:
        raise Http404("This artwork's file is missing.") from None
    count_download(request, artwork)
    return response
