"""Publishing and unpublishing: the one place that changes a job's visibility and its artwork's
`published` flag, so the two always agree (see gallery.models). What is published may be remixed
(remix_source). The engine calls these through engine.hooks (gallery.apps registers them).

- publish(job): the owner makes a job public. A succeeded job enters the gallery at once (its
  thumbnails are made the first time); a queued or running one enters it when it succeeds
  (publish_if_public, on engine.signals.job_succeeded). A failed or cancelled job has no result
  to show and cannot be published.
- unpublish(job): the job is private again and its artwork leaves the gallery at once. The
  artwork row stays, with its thumbnails and likes, for a later publish(). Websockets open on
  the job's page check again who may watch it (engine.live.updates.publish_access_changed): others'
  are closed, so a private job's progress stops reaching them.

Each change to what is published also purges the cached pages (gallery.page_cache: the proxy's
copies for visitors, Django's grids) in the same transaction: none is served once it commits.

A job that finishes while its owner publishes it: publish() writes the visibility and then reads
the status; the worker writes the status and then reads the visibility. Whichever reads second
sees both writes, so the artwork is made (by one or both: update_or_create tolerates that).
"""

from __future__ import annotations

from functools import partial

from django.db import transaction

from engine.hooks import NotPublishable
from engine.live import updates as live
from engine.models import FINAL_STATUSES, Status, StyleJob, Visibility
from engine.studio.describe import picture_title, style_credit
from gallery import page_cache
from gallery.models import CREDIT_LENGTH, TITLE_LENGTH, Artwork
from gallery.thumbnails import make_thumbnails

HIDDEN_BY_STAFF = ("Staff have taken this picture out of the gallery, so it cannot be published again. "
                   "It stays on its job page.")

__all__ = ["NotPublishable", "artwork_deleted", "publish", "publish_if_public", "published_work_of", "remix_source",
           "unpublish"]


def publish(job: StyleJob) -> Artwork | None:
    """Make `job` public. Returns its artwork when it is in the gallery now, None when it will be
    once it succeeds. Raises NotPublishable for a failed or cancelled job."""
    if job.status in FINAL_STATUSES and job.status != Status.SUCCEEDED:
        raise NotPublishable(f"Job {job.pk} {job.get_status_display().lower()} and has no result to publish.")
    if Artwork.objects.filter(job=job, hidden=True).exists():
        raise NotPublishable(HIDDEN_BY_STAFF)
    job.set_visibility(Visibility.PUBLIC)
    transaction.on_commit(partial(live.publish_access_changed, job.pk))
    job.refresh_from_db(fields=["status", "result"])  # it may have succeeded meanwhile
    if job.status != Status.SUCCEEDED:
        return None
    return _enter_gallery(job)


def unpublish(job: StyleJob) -> None:
    """Make `job` private: its artwork (if any) leaves the gallery with this commit."""
    with transaction.atomic():
        job.set_visibility(Visibility.PRIVATE)
        if Artwork.withdraw(job.pk):
            page_cache.purge()
        # Sockets watching it check again once this is committed: others' are closed.
        transaction.on_commit(partial(live.publish_access_changed, job.pk))


def remix_source(pk: int) -> Artwork | None:
    """The published artwork `pk`, whose settings and style images a new job may start from (the
    engine asks through engine.hooks; gallery.apps registers this)."""
    return Artwork.objects.public().select_related("job", "owner").filter(pk=pk).first()


def published_work_of(job_id: int) -> Artwork | None:
    """The published artwork of job `job_id`, with its author (engine.hooks.remix_credit: the credit
    a remix of it shows), or None."""
    return Artwork.objects.public().select_related("owner").filter(job_id=job_id).first()


def publish_if_public(sender, job: StyleJob, **kwargs) -> None:
    """engine.signals.job_succeeded receiver: a job submitted as public (or made public while it
    ran) enters the gallery when it succeeds. Reads the visibility from the database, not from
    the worker's copy of the job, which predates any change the owner made during the run."""
    if StyleJob.objects.filter(pk=job.pk, visibility=Visibility.PUBLIC).exists():
        _enter_gallery(job)


def _enter_gallery(job: StyleJob) -> Artwork:
    """Create or re-publish the artwork of a succeeded job (not one staff have hidden); thumbnails,
    title and credit only if it has none yet."""
    artwork = Artwork.objects.filter(job=job).first()
    if artwork is not None and artwork.hidden:
        return artwork
    if artwork is not None and artwork.thumbnails:
        with transaction.atomic():
            if artwork.republish():
                page_cache.purge()
        return artwork
    thumbs = make_thumbnails(job)  # files first, outside any transaction; the row then points at them
    styles = list(job.styles.select_related("library_style"))
    words = {"title": picture_title(job.content_name, styles)[:TITLE_LENGTH],
             "style_credit": style_credit(styles)[:CREDIT_LENGTH]}
    with transaction.atomic():
        artwork, _ = Artwork.objects.update_or_create(
            job=job,
            defaults={"published": True, "thumbnails": thumbs.names, "thumb_width": thumbs.width,
                      "thumb_height": thumbs.height},
            create_defaults={"owner_id": job.owner_id, "mode": job.mode, "batch_id": job.batch_id, "published": True,
                             "thumbnails": thumbs.names, "thumb_width": thumbs.width,
                             "thumb_height": thumbs.height, **words},
        )
        page_cache.purge()
    return artwork


def artwork_deleted(sender, instance: Artwork, **kwargs) -> None:
    """post_delete receiver (also for artworks deleted with their job or owner): cached pages must
    not show it any more."""
    if instance.published:
        page_cache.purge()
