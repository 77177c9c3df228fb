"""Admin for style jobs and user quotas: where staff run the queue.

Jobs are read-only here (they come from the submission form, with checked images); what staff do
with them are the actions: cancel, requeue (a classic job resumes from its checkpoint), move to
the high-priority queue, take out of the gallery, and delete with their files. The queue itself
(queues, workers, RQ's failed registry) is django-rq's dashboard, linked from the admin index
(templates/admin/index.html).

Every staff member (is_staff) may do this without being given model permissions one by one: they
are the people who already see and cancel every job on the site (engine.models.is_queue_staff, the
rule StyleJob.objects.visible_to and manageable_by follow).
"""

from __future__ import annotations

from pathlib import Path

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.actions import delete_selected as confirm_deletion
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.core.files.base import ContentFile
from django.db.models import Count
from django.urls import reverse
from django.utils import timezone
from django.utils.dateformat import format as date_format
from django.utils.html import format_html
from django.utils.text import Truncator
from redis.exceptions import RedisError

from engine import hooks
from engine.jobs import cleanup
from engine.jobs import service as jobs
from engine.models import HIGH_QUEUE, LibraryStyle, StyleImage, StyleJob, UserQuota, is_queue_staff
from engine.nst import ImageError, images
from engine.runners import scores as job_scores
from engine.storage.job_files import file_for
from engine.studio import style_library
from engine.templatetags.nst import duration as format_duration


class StaffRunTheQueue:
    """Admin permissions for any active staff member (see the module notes)."""

    def _staff(self, request) -> bool:
        return is_queue_staff(request.user)

    def has_module_permission(self, request) -> bool:
        return self._staff(request)

    def has_view_permission(self, request, obj=None) -> bool:
        return self._staff(request)

    def has_change_permission(self, request, obj=None) -> bool:
        return self._staff(request)

    def has_delete_permission(self, request, obj=None) -> bool:
        return self._staff(request)

    def has_add_permission(self, request, obj=None) -> bool:
        return self._staff(request)


class StyleImageInline(admin.TabularInline):
    model = StyleImage
    extra = 0
    fields = ("position", "image", "weight", "library_style")
    readonly_fields = fields
    can_delete = False


def _image_link(job: StyleJob, kind: str, alt: str, shown: str = "") -> str:
    """The file `kind` shown as an image (or, `shown`, another kind of it: a result's display rendition,
    never a print-size PNG in the page) that links to the file itself."""
    url = reverse("engine:download", args=[job.pk, kind]) + "?inline=1"
    src = reverse("engine:download", args=[job.pk, shown]) if shown else url
    return format_html('<a href="{0}"><img src="{1}" alt="{2}" class="job-image"></a>', url, src, alt)


@admin.register(StyleJob)
class StyleJobAdmin(StaffRunTheQueue, admin.ModelAdmin):
    class Media:
        css = {"all": ["css/admin.css"]}  # a class, not style="": the CSP has no 'unsafe-inline'

    # Short columns, so that the list fits a 1280 px screen with its filters (the admin's navigation
    # sidebar is off for that, nstsite.urls): progress in the status column, the device as "CPU, 2
    # cores", the mode as its value, times without the year; the full values are on each job's own page.
    list_display = ("id", "owner", "short_mode", "size", "status_progress", "queue", "short_worker", "short_device",
                    "submitted", "ran", "duration", "short_visibility")
    list_filter = ("status", "mode", "queue", "visibility", "network", "device")
    search_fields = ("=id", "=uuid", "owner__username", "owner__email", "worker", "error")
    date_hierarchy = "created_at"
    list_select_related = ("owner",)
    ordering = ("-created_at",)
    inlines = (StyleImageInline,)
    actions = ("cancel_jobs", "requeue_jobs", "prioritise_jobs", "unpublish_jobs", "delete_selected")
    readonly_fields = (
        "uuid", "owner", "mode", "params", "size", "content", "visibility", "queue", "status", "epoch",
        "epochs", "step", "total_steps", "eta_seconds", "created_at", "started_at", "progress_at",
        "finished_at", "run_time", "worker", "device", "network", "result", "history", "plot", "preview",
        "checkpoint", "error", "result_image", "loss_plot", "share_originals", "notify_email", "peak_memory",
        "quality",
    )
    fieldsets = (
        (None, {"fields": ("uuid", "owner", "mode", "visibility", "share_originals", "notify_email", "queue",
                           "status", "error")}),
        ("Result", {"fields": ("result_image", "quality", "loss_plot")}),
        ("Parameters", {"fields": ("size", "params", "content")}),
        ("Progress", {"fields": ("epoch", "epochs", "step", "total_steps", "eta_seconds", "created_at",
                                 "started_at", "progress_at", "finished_at", "run_time")}),
        ("Where it ran", {"fields": ("worker", "device", "network", "peak_memory")}),
        ("Files", {"fields": ("result", "history", "plot", "preview", "checkpoint")}),
    )

    @admin.display(description="status", ordering="status")
    def status_progress(self, job: StyleJob) -> str:
        return f"{job.get_status_display()} · {job.step}/{job.total_steps}"

    @admin.display(description="mode", ordering="mode")
    def short_mode(self, job: StyleJob) -> str:
        return job.mode  # "fast", not "Fast (one pass, seconds)"

    @admin.display(description="worker", ordering="worker")
    def short_worker(self, job: StyleJob) -> str:
        return Truncator(job.worker).chars(9) or "—"

    @admin.display(description="visibility", ordering="visibility")
    def short_visibility(self, job: StyleJob) -> str:
        return job.visibility

    @admin.display(description="ran")
    def ran(self, job: StyleJob) -> str:
        """Started → finished, as times of day ("—" for what has not happened)."""
        def hms(when) -> str:
            return date_format(timezone.localtime(when), "H:i:s") if when else "—"
        return f"{hms(job.started_at)} → {hms(job.finished_at)}" if job.started_at else "—"

    @admin.display(description="duration")
    def duration(self, job: StyleJob) -> str:
        return format_duration(job.duration_seconds)

    @admin.display(description="device", ordering="device")
    def short_device(self, job: StyleJob) -> str:
        """ "CPU: Intel(R) Xeon(R) Processor, 2 cores" -> "CPU, 2 cores" (the whole name is on its page)."""
        kind, _, rest = job.device.partition(":")
        cores = rest.rsplit(",", 1)[1].strip() if "," in rest else ""
        return f"{kind}, {cores}" if cores else (kind or "—")

    @admin.display(description="submitted", ordering="created_at")
    def submitted(self, job: StyleJob) -> str:
        return date_format(timezone.localtime(job.created_at), "m-d H:i")

    @admin.display(description="run time")
    def run_time(self, job: StyleJob) -> str:
        """The run's wall time, rounded: "3 s", "2 min 5 s" ("—" before it has finished)."""
        return format_duration(job.run_seconds) if job.run_seconds is not None else "—"

    @admin.display(description="quality scores")
    def quality(self, job: StyleJob) -> str:
        """engine.runners.scores: style (closeness to the painting) and contours (the photo's kept), 0-1."""
        return job_scores.shown(job)

    @admin.display(description="peak memory")
    def peak_memory(self, job: StyleJob) -> str:
        peak = (job.measurements or {}).get("peak_bytes")
        return f"{peak / 1e9:.2f} GB" if peak else "—"

    @admin.display(description="result")
    def result_image(self, job: StyleJob) -> str:
        kind = "poster" if job.poster else "png"  # a video's poster frame stands for it
        if not file_for(job, kind):
            return "—"
        return _image_link(job, kind, f"{'Poster' if job.poster else 'Result'} of job {job.pk}",
                           shown="" if job.poster else "display")

    @admin.display(description="loss plot")
    def loss_plot(self, job: StyleJob) -> str:
        return _image_link(job, "plot", f"Loss plot of job {job.pk}") if job.plot else "—"

    # --- actions ----------------------------------------------------------------------------------

    @admin.action(description="Cancel the selected queued or running jobs")
    def cancel_jobs(self, request, queryset):
        cancelled = sum(jobs.cancel(job) for job in queryset)
        self.message_user(request, f"{cancelled} job(s) cancelled.", messages.SUCCESS)

    @admin.action(description="Requeue the selected failed or cancelled jobs (classic: from the last checkpoint)")
    def requeue_jobs(self, request, queryset):
        requeued, skipped = [], []
        for job in queryset:
            try:
                (requeued if jobs.requeue(job) else skipped).append(job.pk)
            except jobs.RequeueRefused as exc:
                self.message_user(request, f"Job {job.pk}: {exc}", messages.WARNING)
        if requeued:
            self.message_user(request, f"Requeued: {_ids(requeued)}.", messages.SUCCESS)
        if skipped:
            self.message_user(request, f"Not failed or cancelled, left as they are: {_ids(skipped)}.",
                              messages.INFO)

    @admin.action(description="Move the selected queued jobs to the high-priority queue")
    def prioritise_jobs(self, request, queryset):
        moved, skipped = [], []
        for job in queryset:
            try:
                (moved if jobs.prioritise(job, HIGH_QUEUE) else skipped).append(job.pk)
            except RedisError:
                self.message_user(request, f"Job {job.pk}: the queue cannot be reached.", messages.ERROR)
        if moved:
            self.message_user(request, f"Moved to the high-priority queue: {_ids(moved)}.", messages.SUCCESS)
        if skipped:
            self.message_user(request, f"Not waiting in the default queue (already high, started or "
                                       f"finished), left as they are: {_ids(skipped)}.", messages.INFO)

    @admin.action(description="Take the selected jobs out of the gallery (make them private)")
    def unpublish_jobs(self, request, queryset):
        publisher = hooks.publisher()  # the gallery's (engine.hooks)
        for job in queryset:
            publisher.unpublish(job)
        self.message_user(request, f"{len(queryset)} job(s) are private now.", messages.SUCCESS)

    @admin.action(description="Delete the selected jobs with their files", permissions=["delete"])
    def delete_selected(self, request, queryset):
        """Django's confirmation page first; once confirmed, engine.jobs.cleanup cancels running jobs,
        waits for their workers to let go, and deletes rows and folders."""
        if not request.POST.get("post"):
            return confirm_deletion(self, request, queryset)
        jobs = list(queryset)
        outcome = cleanup.delete_jobs(jobs)
        deleted = [job for job in jobs if job.pk in set(outcome.deleted)]
        if deleted:
            self.log_deletions(request, deleted)
            self.message_user(request, f"Deleted, with their files: {_ids(outcome.deleted)}.", messages.SUCCESS)
        if outcome.still_stopping:
            self.message_user(request, f"Cancelled but still stopping, not deleted yet: "
                                       f"{_ids(outcome.still_stopping)}. Try again in a moment.", messages.WARNING)
        return None

    def get_deleted_objects(self, objs, request):
        """A job's style images, artwork and likes go with it: deleting the job is the permission
        that counts (Django would otherwise ask for a delete permission on each of those models)."""
        deleted, model_count, _perms_needed, protected = super().get_deleted_objects(objs, request)
        return deleted, model_count, set(), protected

    def delete_model(self, request, obj: StyleJob) -> None:
        cleanup.delete_jobs([obj])

    def delete_queryset(self, request, queryset) -> None:
        cleanup.delete_jobs(queryset)

    def has_delete_permission(self, request, obj: StyleJob | None = None) -> bool:
        # One job's own delete page is for finished jobs; running ones go through the action,
        # which cancels them and waits for their worker.
        return super().has_delete_permission(request, obj) and (obj is None or not obj.is_active)

    def has_add_permission(self, request, obj=None) -> bool:
        return False  # jobs come from the submission form, with checked images


def _ids(pks: list[int]) -> str:
    return ", ".join(str(pk) for pk in sorted(pks))


# --- the style library ----------------------------------------------------------------------------------

class LibraryStyleForm(forms.ModelForm):
    """A new library painting: the upload is checked as a user's is (its content, at most 50
    megapixels) and stored re-encoded as PNG, at most style_library.COPY_MAX_SIDE."""

    class Meta:
        model = LibraryStyle
        fields = ("painter", "title", "year", "licence", "source", "image", "position", "retired")

    def clean_image(self):
        upload = self.cleaned_data.get("image")
        if self.instance.pk is not None or not upload:
            return upload
        try:
            img = images.open_image(upload)
        except ImageError as exc:
            raise forms.ValidationError(str(exc)) from None
        if max(img.size) > style_library.COPY_MAX_SIDE:
            img = images.resize_longest(img, style_library.COPY_MAX_SIDE)
        return ContentFile(images.encode_png(img), name=f"{Path(upload.name).stem[:80]}.png")

    def clean(self):
        data = super().clean()
        if self.instance.pk is None and not data.get("image"):
            self.add_error("image", "Upload the painting's image.")
        return data


@admin.register(LibraryStyle)
class LibraryStyleAdmin(StaffRunTheQueue, admin.ModelAdmin):
    """Staff add paintings and retire them (a retired one is no longer offered; jobs keep their copy).
    A painting's image cannot change once saved: workers cache what they compute from it."""

    form = LibraryStyleForm
    list_display = ("preview", "painter", "title", "year", "position", "retired", "uses")
    list_display_links = ("painter", "title")
    list_editable = ("position", "retired")
    list_filter = ("retired",)
    search_fields = ("painter", "title")
    actions = ("retire", "restore")

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(use_count=Count("job_styles"))

    def get_readonly_fields(self, request, obj=None):
        return ("preview", "bundled", "image") if obj is not None else ("preview",)

    @admin.display(description="image")
    def preview(self, style: LibraryStyle) -> str:
        if style.pk is None:
            return "—"
        url = reverse("engine:library_thumbnail", args=[style.pk])
        return format_html('<img src="{}" alt="{}" width="80">', url, str(style))

    @admin.display(description="jobs", ordering="use_count")
    def uses(self, style: LibraryStyle) -> int:
        return style.use_count

    @admin.action(description="Retire the selected styles (no longer offered on the form)")
    def retire(self, request, queryset):
        self.message_user(request, f"{queryset.update(retired=True)} style(s) retired.", messages.SUCCESS)

    @admin.action(description="Offer the selected styles again")
    def restore(self, request, queryset):
        self.message_user(request, f"{queryset.update(retired=False)} style(s) offered again.", messages.SUCCESS)

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # retire instead: a deleted painting's worker caches would outlive it


# --- quotas -------------------------------------------------------------------------------------------

@admin.register(UserQuota)
class UserQuotaAdmin(StaffRunTheQueue, admin.ModelAdmin):
    list_display = ("user", "max_active_jobs", "max_size", "max_steps", "max_storage_mb", "note")
    search_fields = ("user__username", "user__email", "note")
    raw_id_fields = ("user",)  # a select of every user would not scale
    list_select_related = ("user",)


class UserQuotaInline(StaffRunTheQueue, admin.StackedInline):
    """The quota on the user's own admin page; no row means the defaults shown here."""

    model = UserQuota
    can_delete = True
    extra = 1  # shown filled with the defaults; saved only when changed
    max_num = 1


User = get_user_model()
if admin.site.is_registered(User):
    user_admin_class = type(admin.site.get_model_admin(User))
    admin.site.unregister(User)
else:
    user_admin_class = UserAdmin


@admin.register(User)
class UserWithQuotaAdmin(user_admin_class):
    inlines = (*user_admin_class.inlines, UserQuotaInline)
