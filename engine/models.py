"""Style jobs: what a user asked for, where it is in its life, and what it produced.

The life cycle is a set of methods on the model (NetBox's Job.start()/terminate()):

    queued --start()--> running --finish()--> succeeded
       |                   |----fail()-----> failed
       |----fail()--------------------------> failed     (e.g. the queue was unreachable)
       '----cancel()----------------------->  cancelled  (also from running)
    failed/cancelled --requeue()--> queued              (staff; a lost worker's job: from running)

and, within a state: report_progress() and record_placement() (running), record_stop()
(cancelled: where it stopped), move_to_queue() (queued), set_visibility(), set_share_originals()
and set_notify_email() (any).
engine.jobs.service (the job service) calls these and then tells RQ and the browsers.

Each transition is ONE conditional UPDATE ... WHERE id = ... AND status IN (...): two workers, or a
worker and the owner's cancel request, cannot both win. A method returns False when the job was no
longer in a state it may leave (the caller then stops: e.g. a worker that loses the race to a
cancel does not run the job). Files (result, history, previews, checkpoint) are written before
the UPDATE that makes them visible, under one folder per job named by a random UUID.
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.files.storage import default_storage
from django.db import models
from django.db.models import Q
from django.utils import timezone

from engine.nst import schema
from engine.signals import job_cancelled, job_failed, job_started, job_succeeded, originals_shared
from engine.storage.job_files import (
    DISPLAY,
    HISTORY,
    PLOT,
    POSTER,
    RESULT,
    THUMBNAIL,
    epoch_checkpoint_name,
    is_video_name,
    job_file_name,
    preview_name,
    stop_checkpoint_name,
    style_kind,
    write_job_file,
)
from engine.storage.result_settings import embed_png, settings_of

if TYPE_CHECKING:
    from engine.nst import ClassicParams, FastParams, LossHistory, VideoParams
    from engine.storage.renditions import Renditions

logger = logging.getLogger(__name__)


# The modes, as the parameter schema declares them (engine.nst.schema.MODES, MODE_LABELS): Mode.CLASSIC,
# Mode.FAST, Mode.VIDEO. What each one runs is its runner's (engine.runners).
Mode = models.TextChoices("Mode", [(mode.upper(), (mode, schema.MODE_LABELS[mode])) for mode in schema.MODES])


class Status(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


class Visibility(models.TextChoices):
    """Public: anyone with the link sees the job's page, and once it has succeeded it is in the
    gallery (gallery.publishing keeps this and gallery.Artwork.published in step)."""

    PRIVATE = "private", "Private (only you)"
    PUBLIC = "public", "Public (in the gallery)"


ACTIVE_STATUSES = (Status.QUEUED, Status.RUNNING)
FINAL_STATUSES = (Status.SUCCEEDED, Status.FAILED, Status.CANCELLED)
# RQ queues: workers empty HIGH_QUEUE first (staff's jobs, and jobs staff move up). SCORE_QUEUE holds
# no style jobs: the quality scores of finished pictures (engine.runners.scores), taken last.
HIGH_QUEUE, DEFAULT_QUEUE, SCORE_QUEUE = "high", "default", "scores"
# The queues of a style worker, in the order it takes them (RQ tries them in the order given):
# scripts/lib/processes, docker-compose*.yml and settings.RQ_QUEUES name the same (tests check).
WORKER_QUEUES = (HIGH_QUEUE, DEFAULT_QUEUE, SCORE_QUEUE)


# --- who may see and manage a job: the one rule ----------------------------------------------------
# A job's page, previews and downloads are for whoever may see it: anyone for a public job, else its
# owner and staff. Cancelling, publishing and deleting are for whoever may manage it: its owner and
# staff. Two things stay with those who may manage it even on a public job: its originals (the
# content photo and style images, and their thumbnails) unless the owner chose to share them
# (share_originals), and where it ran (the worker's name and its hardware). The predicates below and
# StyleJobQuerySet.visible_to/manageable_by (their SQL form) are the only places that say so; views,
# websocket consumers, the gallery and the admin all ask them.

def is_queue_staff(user) -> bool:
    """Staff run the queue: they see and manage every job (and the admin's queue pages)."""
    return bool(user.is_authenticated and user.is_active and user.is_staff)


def may_manage(user, owner_id: int) -> bool:
    """May `user` manage a job (or artwork) whose owner is `owner_id`?"""
    return bool(user.is_authenticated and (user.pk == owner_id or is_queue_staff(user)))


def may_see_originals(user, owner_id: int, *, shared: bool) -> bool:
    """May `user`, who may see a job, have its originals (content photo, style images, their
    thumbnails)? Its owner and staff always; anyone else only if the owner shared them."""
    return bool(shared) or may_manage(user, owner_id)


def may_see_placement(user, owner_id: int) -> bool:
    """May `user`, who may see a job, see where it ran (worker, device)? Only those who may manage
    it: the hardware and host names of the workers are nobody else's business."""
    return may_manage(user, owner_id)


def progress_percent(status: str, step: int, total_steps: int) -> int:
    """How far a job is, in whole percent: StyleJob.progress_percent, and a live event's numbers
    (engine.live.job_page.ProgressState: the worker's step, newer than the row's)."""
    if status == Status.SUCCEEDED:
        return 100
    return min(100, round(100 * step / total_steps)) if total_steps else 0


def _content_upload_to(instance: StyleJob, filename: str) -> str:
    return job_file_name(instance, filename)


def _style_upload_to(instance: StyleImage, filename: str) -> str:
    return job_file_name(instance.job, filename)


class BatchQuerySet(models.QuerySet):
    def visible_to(self, user) -> BatchQuerySet:
        """Batches with a job `user` may see (the job rule below): theirs, public ones, all for staff."""
        if is_queue_staff(user):
            return self.all()
        public = Q(jobs__visibility=Visibility.PUBLIC)
        return self.filter(Q(owner=user) | public if user.is_authenticated else public).distinct()

    def manageable_by(self, user) -> BatchQuerySet:
        return self.all() if is_queue_staff(user) else self.filter(owner=user) if user.is_authenticated \
            else self.none()


class Batch(models.Model):
    """Several content files submitted together with one style and one set of settings. Each file is
    a StyleJob of its own in the queue (a failure stays local, other users' jobs interleave); the
    batch groups them for one page, one zip and one entry in "My jobs" and the gallery. Who may see
    a batch's jobs is each job's own rule: a batch only lists what the viewer may see."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="batches")
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    # When its owner was sent the one summary e-mail of the batch (engine.notifications): set by the
    # one conditional UPDATE that wins, so two of its jobs ending at once send one mail, not two.
    summary_sent_at = models.DateTimeField(null=True, blank=True, editable=False)

    objects = BatchQuerySet.as_manager()

    class Meta:
        ordering = ("-created_at", "-id")
        verbose_name_plural = "batches"

    def __str__(self) -> str:
        return f"Batch {self.pk}"


class StyleJobQuerySet(models.QuerySet):
    def for_user(self, user) -> StyleJobQuerySet:
        """The user's own jobs."""
        return self.filter(owner=user) if user.is_authenticated else self.none()

    def public(self) -> StyleJobQuerySet:
        return self.filter(visibility=Visibility.PUBLIC)

    def visible_to(self, user) -> StyleJobQuerySet:
        """What `user` may look at: public jobs, their own, and everything for staff."""
        if is_queue_staff(user):
            return self.all()
        if user.is_authenticated:
            return self.filter(Q(owner=user) | Q(visibility=Visibility.PUBLIC))
        return self.public()

    def manageable_by(self, user) -> StyleJobQuerySet:
        """What `user` may cancel, publish or delete: their own jobs, and everything for staff."""
        return self.all() if is_queue_staff(user) else self.for_user(user)

    def active(self) -> StyleJobQuerySet:
        return self.filter(status__in=ACTIVE_STATUSES)

    def one_per_batch(self) -> StyleJobQuerySet:
        """Jobs outside a batch, and the first job of each batch (the batch's entry in a list)."""
        earlier = type(self)(self.model, using=self._db).filter(batch=models.OuterRef("batch"),
                                                                pk__lt=models.OuterRef("pk"))
        return self.filter(Q(batch__isnull=True) | ~models.Exists(earlier))


class StyleJob(models.Model):
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="style_jobs")
    mode = models.CharField(max_length=16, choices=Mode.choices)
    # The engine's parameters, validated: params.to_dict() of the mode's params (engine.nst.schema).
    params = models.JSONField(default=dict)
    # Copied out of params for queries (queue estimates look for runs of a similar size).
    size = models.PositiveIntegerField()
    content = models.FileField(upload_to=_content_upload_to, max_length=255)
    # The content file's name as the user uploaded it ("holiday.jpg"): cards, titles and zip entries
    # say it (engine.storage.job_files.safe_name makes it fit for a file name). "" for older jobs.
    content_name = models.CharField(max_length=200, blank=True)
    visibility = models.CharField(max_length=16, choices=Visibility.choices, default=Visibility.PRIVATE)
    # Publishing shows the result; the inputs (content photo, style images) stay the owner's unless
    # they tick this separate box too. False for every job made before the box existed.
    share_originals = models.BooleanField(default=False)
    # The owner asked for an e-mail when the job ends (engine.notifications).
    notify_email = models.BooleanField(default=False)
    # Its result file carries its settings (engine.storage.result_settings); its owner may leave them out.
    embed_settings = models.BooleanField(default=True)
    queue = models.CharField(max_length=32, default=DEFAULT_QUEUE)
    # Submitted with other files as one batch (engine.models.Batch); None for a single job.
    batch = models.ForeignKey(Batch, null=True, blank=True, on_delete=models.SET_NULL, related_name="jobs")
    # A remix: the job whose published work this one started from (its styles and settings), for
    # the credit "Remix of <work> by <user>" (engine.hooks.remix_credit, which shows it only while
    # that work is still published). A job, not the gallery's artwork: the engine knows no gallery.
    remix_of = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="remixes")

    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    epoch = models.PositiveIntegerField(default=0)
    epochs = models.PositiveIntegerField(default=1)
    step = models.PositiveIntegerField(default=0)
    total_steps = models.PositiveIntegerField(default=1)
    eta_seconds = models.FloatField(null=True, blank=True, help_text="The engine's estimate while running.")

    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    progress_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    run_seconds = models.FloatField(null=True, blank=True, help_text="Wall time of a successful run.")

    worker = models.CharField(max_length=200, blank=True)
    device = models.CharField(max_length=200, blank=True)
    network = models.CharField(max_length=64, blank=True)

    result = models.FileField(max_length=255, blank=True)
    history = models.FileField(max_length=255, blank=True, help_text="Loss history, JSON.")
    plot = models.FileField(max_length=255, blank=True, help_text="Loss plot, PNG.")
    preview = models.FileField(max_length=255, blank=True, help_text="Latest epoch preview, JPEG.")
    poster = models.FileField(max_length=255, blank=True, help_text="A video result's middle frame, JPEG.")
    # What pages show of the result (engine.storage.renditions): never the full PNG inline, which a
    # print-size result makes ~100 MB. Made once, by the worker, when the job succeeds.
    display = models.FileField(max_length=255, blank=True, help_text="The result at display size, JPEG.")
    thumbnail = models.FileField(max_length=255, blank=True, help_text="The result for lists, JPEG.")
    checkpoint = models.FileField(max_length=255, blank=True, help_text="Latest classic checkpoint.")
    error = models.TextField(blank=True, help_text="Shown to the user.")
    # What the run cost, measured by the worker (engine.run_costs): peak memory, time per level
    # and outside the engine. The estimates (engine.costs.cost_model) are refitted from these.
    measurements = models.JSONField(default=dict, blank=True)

    objects = StyleJobQuerySet.as_manager()

    class Meta:
        ordering = ("-created_at", "-id")
        indexes = [
            models.Index(fields=("owner", "-created_at"), name="stylejob_owner_created"),
            models.Index(fields=("status", "queue"), name="stylejob_status_queue"),
        ]

    def __str__(self) -> str:
        return f"Job {self.pk} ({self.mode}, {self.status})"

    # --- life cycle ---------------------------------------------------------------------------

    def _transition(self, allowed: tuple[str, ...], **changes) -> bool:
        """One conditional UPDATE; on success the instance takes the new values too."""
        updated = type(self).objects.filter(pk=self.pk, status__in=allowed).update(**changes)
        if updated:
            for name, value in changes.items():
                setattr(self, name, value)
        else:
            self.refresh_from_db(fields=["status"])
        return bool(updated)

    def start(self, worker: str = "") -> bool:
        """queued -> running. False if the job was cancelled (or taken) meanwhile: do not run it."""
        now = timezone.now()
        ok = self._transition((Status.QUEUED,), status=Status.RUNNING, started_at=now, progress_at=now,
                              worker=worker[:200], error="")
        if ok:
            announce(job_started, self)
        return ok

    def report_progress(self, *, epoch: int, step: int, eta_seconds: float | None = None,
                        preview: bytes | None = None, checkpoint: bytes | None = None,
                        preview_epoch: int | None = None) -> bool:
        """Record progress of a running job, with an epoch's preview JPEG and checkpoint when given
        (the preview of `preview_epoch` when given: a video's chunk in progress, which its own preview
        replaces at the chunk's end). False when the job is no longer running (cancelled): the
        caller should stop."""
        changes: dict = {"epoch": epoch, "step": step, "eta_seconds": eta_seconds,
                         "progress_at": timezone.now()}
        old_checkpoint = self.checkpoint.name if checkpoint is not None else ""
        if preview is not None:
            name = preview_name(epoch if preview_epoch is None else preview_epoch)
            changes["preview"] = write_job_file(self, name, preview)
        if checkpoint is not None:
            # A new name per epoch, the old file removed only once the row points at the new one:
            # a crash mid-write never leaves the job without a usable checkpoint.
            changes["checkpoint"] = write_job_file(self, epoch_checkpoint_name(epoch), checkpoint)
        ok = self._transition((Status.RUNNING,), **changes)
        if ok and old_checkpoint and old_checkpoint != self.checkpoint.name:
            default_storage.delete(old_checkpoint)
        return ok

    def finish(self, *, image_png: bytes | None = None, history: LossHistory | None, device: str, network: str,
               seconds: float, result_name: str = "", poster_jpeg: bytes | None = None,
               measurements: dict | None = None, renditions: Renditions | None = None) -> bool:
        """running -> succeeded, with the result PNG (or, for a video, `result_name`: the MP4 the engine
        wrote into the job's folder, and its poster frame), what pages show of it (`renditions`,
        engine.storage.renditions) and (classic) the loss history and its plot.
        Also cancelled -> succeeded: a cancel that arrived after the engine's last step (it checks
        before each step) found nothing left to stop, and the finished result is kept rather than
        thrown away. False when the job is in neither state. A finished run needs no checkpoint
        (the engine resumes only with the same parameters): its file goes.
        Sends engine.signals.job_succeeded (the gallery publishes public jobs on it)."""
        old_checkpoint = self.checkpoint.name
        changes: dict = {
            "checkpoint": "",
            "status": Status.SUCCEEDED, "finished_at": timezone.now(), "run_seconds": seconds,
            "step": self.total_steps, "epoch": self.epochs, "eta_seconds": None,
            "device": device[:200], "network": network[:64],
            "result": result_name or write_job_file(self, RESULT, self._with_settings(image_png)),
            "measurements": measurements or {},
        }
        if poster_jpeg is not None:
            changes["poster"] = write_job_file(self, POSTER, poster_jpeg)
        if renditions is not None:
            changes.update(self._write_renditions(renditions))
        if history is not None:
            changes["history"] = write_job_file(self, HISTORY, history.to_json().encode())
            if history.rows:
                plot = history.plot_png(f"Job {self.pk}: loss per step")
                changes["plot"] = write_job_file(self, PLOT, plot)
        ok = self._transition((Status.RUNNING, Status.CANCELLED), **changes)
        if ok and old_checkpoint:
            default_storage.delete(old_checkpoint)
        if ok:
            announce(job_succeeded, self)
        return ok

    def _with_settings(self, png: bytes) -> bytes:
        """The result PNG with the job's settings inside, unless its owner left them out."""
        return embed_png(png, settings_of(self)) if self.embed_settings else png

    def _write_renditions(self, renditions: Renditions) -> dict:
        return {"display": write_job_file(self, DISPLAY, renditions.display),
                "thumbnail": write_job_file(self, THUMBNAIL, renditions.thumbnail)}

    def store_renditions(self, renditions: Renditions) -> bool:
        """The renditions of a job that succeeded before they existed (engine.storage.renditions.ensure).
        False when the job is no longer a succeeded one (deleted, requeued)."""
        return self._transition((Status.SUCCEEDED,), **self._write_renditions(renditions))

    def fail(self, error: str) -> bool:
        """queued/running -> failed, with a message for the user (never a traceback). Sends
        engine.signals.job_failed."""
        ok = self._transition(ACTIVE_STATUSES, status=Status.FAILED, error=error,
                              finished_at=timezone.now(), eta_seconds=None)
        if ok:
            announce(job_failed, self)
        return ok

    def cancel(self) -> bool:
        """queued/running -> cancelled. Only the database: engine.jobs.service.cancel() also takes
        the job off the RQ queue and tells a running worker to stop. Sends engine.signals.job_cancelled."""
        ok = self._transition(ACTIVE_STATUSES, status=Status.CANCELLED, finished_at=timezone.now(),
                              eta_seconds=None)
        if ok:
            announce(job_cancelled, self)
        return ok

    def record_stop(self, *, epoch: int, step: int, checkpoint: bytes | None) -> bool:
        """Where a cancelled run stopped, with the engine's checkpoint so a requeued run resumes."""
        changes: dict = {"epoch": epoch, "step": step}
        if checkpoint is not None:
            changes["checkpoint"] = write_job_file(self, stop_checkpoint_name(step), checkpoint)
        old = self.checkpoint.name
        ok = self._transition((Status.CANCELLED,), **changes)
        if ok and checkpoint is not None and old and old != self.checkpoint.name:
            default_storage.delete(old)
        return ok

    def requeue(self, *, queue: str | None = None,
                allowed: tuple[str, ...] = (Status.FAILED, Status.CANCELLED)) -> bool:
        """failed/cancelled -> queued again (staff's "requeue"; a lost worker's job passes
        allowed=(running,)). The checkpoint stays, so the next run resumes where the last one
        stopped; without one the progress starts again from zero. Only the database:
        engine.jobs.service.requeue() also puts it back on an RQ queue."""
        self.refresh_from_db(fields=["checkpoint"])
        changes: dict = {"status": Status.QUEUED, "error": "", "finished_at": None, "eta_seconds": None,
                         "run_seconds": None, "worker": ""}
        if not self.checkpoint:
            changes.update(epoch=0, step=0)
        if queue:
            changes["queue"] = queue
        return self._transition(allowed, **changes)

    def record_placement(self, *, device: str, network: str) -> bool:
        """Where a running job runs (the worker's device, the feature network), stored as soon as a
        worker has it, so its page shows them during the run. False when it is no longer running."""
        return self._transition((Status.RUNNING,), device=device[:200], network=network[:64])

    def move_to_queue(self, queue: str) -> bool:
        """Record that a queued job now waits on `queue` (engine.jobs.service.prioritise moves its RQ entry
        first). False when it is no longer queued."""
        return self._transition((Status.QUEUED,), queue=queue)

    def set_visibility(self, visibility: str) -> None:
        """Public or private, in any state (gallery.publishing keeps the artwork in step with it)."""
        type(self).objects.filter(pk=self.pk).update(visibility=visibility)
        self.visibility = visibility

    def set_share_originals(self, share: bool) -> None:
        """Whether the gallery shows the job's photo and style images beside its result (any state)."""
        type(self).objects.filter(pk=self.pk).update(share_originals=share)
        self.share_originals = share
        originals_shared.send(sender=type(self), job=self, share=share)

    def set_notify_email(self, notify: bool) -> None:
        """Whether its owner gets an e-mail when it ends (engine.notifications reads the row then)."""
        type(self).objects.filter(pk=self.pk).update(notify_email=notify)
        self.notify_email = notify

    # --- reading ------------------------------------------------------------------------------

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_STATUSES

    @property
    def progress_percent(self) -> int:
        return progress_percent(self.status, self.step, self.total_steps)

    @property
    def duration_seconds(self) -> float | None:
        if self.started_at is None:
            return None
        return ((self.finished_at or timezone.now()) - self.started_at).total_seconds()

    @property
    def result_is_video(self) -> bool:
        return is_video_name(self.result.name)

    @property
    def content_is_video(self) -> bool:
        return is_video_name(self.content.name)

    @property
    def rq_job_id(self) -> str:
        return self.rq_job_id_for(self.uuid)

    @staticmethod
    def rq_job_id_for(uuid) -> str:
        """The id of a job's RQ job, from its row's uuid."""
        return f"nst-{uuid.hex}"

    def engine_params(self) -> ClassicParams | FastParams | VideoParams:
        """The stored params as the engine's dataclass (keys since removed are ignored, controls since
        added take their defaults)."""
        from engine.nst import params_class

        return params_class(self.mode).from_dict(self.params)

    def is_manageable_by(self, user) -> bool:
        return may_manage(user, self.owner_id)

    def originals_visible_to(self, user) -> bool:
        return may_see_originals(user, self.owner_id, shared=self.share_originals)

    def placement_visible_to(self, user) -> bool:
        return may_see_placement(user, self.owner_id)

    def can_cancel(self, user) -> bool:
        return self.is_active and self.is_manageable_by(user)


class LibraryStyleQuerySet(models.QuerySet):
    def offered(self) -> LibraryStyleQuerySet:
        """What the submission form offers: the styles staff have not retired."""
        return self.filter(retired=False)


class LibraryStyle(models.Model):
    """A painting users may pick instead of uploading one (engine.studio.style_library). The paintings
    shipped with the code are files of static/styles/ (`bundled`); staff add more in the admin
    (`image`, in the media storage). The image never changes once the row exists (the admin shows
    it read-only): workers cache what they compute from it under the row's pk. Retire a style
    rather than delete it: jobs that used it keep their own copy either way."""

    title = models.CharField(max_length=200)
    painter = models.CharField(max_length=200)
    year = models.CharField(max_length=40, blank=True, help_text='e.g. "1889" or "c. 1831".')
    licence = models.CharField(max_length=200, default="Public domain")
    source = models.CharField(max_length=500, blank=True, help_text="Where this photograph of the work comes from.")
    image = models.FileField(upload_to="library/", max_length=255, blank=True)
    bundled = models.CharField(max_length=100, blank=True, editable=False,
                               help_text="A file of static/styles/ shipped with the code.")
    retired = models.BooleanField(default=False, help_text="Not offered on the form any more.")
    position = models.PositiveSmallIntegerField(default=100, help_text="Lower comes first on the form.")
    created_at = models.DateTimeField(default=timezone.now)

    objects = LibraryStyleQuerySet.as_manager()

    class Meta:
        ordering = ("position", "painter", "title")
        verbose_name = "library style"

    def __str__(self) -> str:
        return f"{self.painter}, {self.title}" + (f" ({self.year})" if self.year else "")

    @property
    def identity(self) -> str:
        """A short name of the row's image (its file): with the pk, it names the painting even across
        a database made again from scratch, whose pks start over."""
        return hashlib.blake2b((self.bundled or self.image.name).encode(), digest_size=4).hexdigest()

    @property
    def cache_key(self) -> str:
        """What workers cache the painting's style vector and Gram targets under (engine.tasks)."""
        return f"library-{self.pk}-{self.identity}"


class StyleImage(models.Model):
    """One of a job's 1-3 style images, with its mixing weight; a copy of a library style's image
    when the user picked one (`library_style` says which)."""

    job = models.ForeignKey(StyleJob, on_delete=models.CASCADE, related_name="styles")
    position = models.PositiveSmallIntegerField()  # 1..3, as on the form
    image = models.FileField(upload_to=_style_upload_to, max_length=255)
    weight = models.FloatField(default=1.0)
    library_style = models.ForeignKey(LibraryStyle, null=True, blank=True, on_delete=models.SET_NULL,
                                      related_name="job_styles")

    class Meta:
        ordering = ("position",)
        constraints = [models.UniqueConstraint(fields=("job", "position"), name="styleimage_job_position")]

    def __str__(self) -> str:
        return f"Style {self.position} of job {self.job_id}"

    @property
    def download_kind(self) -> str:
        """Its `kind` in the engine:download and gallery:thumbnail URLs."""
        return style_kind(self.position)


def announce(signal, job: StyleJob, **kwargs) -> None:
    """Send one of engine.signals' job signals; a failing receiver is logged, the job's new state stays."""
    for receiver, outcome in signal.send_robust(sender=StyleJob, job=job, **kwargs):
        if isinstance(outcome, Exception):
            logger.error("Receiver %r of a job signal failed for job %s", receiver, job.pk, exc_info=outcome)


def params_dict(params: ClassicParams | FastParams | VideoParams) -> dict:
    """The dict stored in StyleJob.params (tuples become lists in JSON anyway)."""
    return {k: list(v) if isinstance(v, tuple) else v for k, v in params.to_dict().items()}



class UserQuota(models.Model):
    """What one user may ask of the workers, set by staff in the admin. A user without a row gets
    the field defaults (engine.studio.quotas.limits_for); engine.studio.quotas enforces them on submission."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="quota")
    max_active_jobs = models.PositiveSmallIntegerField(
        default=3, help_text="Jobs queued or running at the same time.")
    max_size = models.PositiveIntegerField(default=1024, help_text="Longest side of a result, in pixels.")
    max_steps = models.PositiveIntegerField(
        default=2000, help_text="Optimisation steps of a classic job (epochs × steps per epoch).")
    # Clips (video mode) and batches. The clip's file size is also bounded by the server's
    # NST_MAX_CLIP_MB, which the request-size guard enforces before the form sees anything.
    max_clip_seconds = models.PositiveIntegerField(default=60, help_text="Longest clip, in seconds.")
    max_clip_side = models.PositiveIntegerField(default=1920, help_text="Longest side of a clip's frames, px.")
    max_clip_frames = models.PositiveIntegerField(default=3600, help_text="Most frames in a clip.")
    max_clip_mb = models.PositiveIntegerField(default=500, help_text="Largest clip file, MB.")
    max_batch_files = models.PositiveSmallIntegerField(
        default=20, help_text="Content files (photos and clips) in one submission.")
    max_active_batch_jobs = models.PositiveSmallIntegerField(
        default=20, help_text="Jobs of batches queued or running at the same time, all batches together (each of "
                              "a batch's jobs counts here; the batch takes one of the active jobs above).")
    max_storage_mb = models.PositiveIntegerField(
        default=500, help_text="Disk space for the files of all the user's jobs (inputs, results, previews) and "
                               "the uploads kept for them, in MB. A submission that would take more is refused.")
    note = models.CharField(max_length=200, blank=True, help_text="Why this user has these limits.")

    class Meta:
        verbose_name = "user quota"

    def __str__(self) -> str:
        return f"Quota of {self.user}"


class UsernameSkeleton(models.Model):
    """What a username looks like (engine.usernames: UTS #39's skeleton, case-folded after and
    before), kept for every user so that sign-up finds a look-alike of an existing name in one
    query. Written by engine.usernames.keep_skeleton on every save of a username, however made."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, primary_key=True,
                                related_name="username_skeleton")
    skeleton = models.CharField(max_length=600, db_index=True)
    folded = models.CharField(max_length=600, db_index=True)


class VerifiedEmail(models.Model):
    """The address a user proved is theirs by following the link e-mailed to it
    (engine.email_verification). The site mails nothing but that link to an address until then;
    a user whose address changes has the new one unverified (this row names the old one)."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, primary_key=True,
                                related_name="verified_email")
    email = models.EmailField(max_length=254)
    verified_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.email} (verified {self.verified_at:%Y-%m-%d})"
