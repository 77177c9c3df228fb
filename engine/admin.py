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

from django.contrib import admin, messages
from django.contrib.admin.actions import delete_selected as confirm_deletion
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.urls import reverse
from django.utils.html import format_html
from redis.exceptions import RedisError

from gallery import publishing

from . import cleanup, jobs
from .models import HIGH_QUEUE, StyleImage, StyleJob, UserQuota, is_queue_staff
from .templatetags.nst import duration as format_duration


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
    fields = ("position", "image", "weight")
    readonly_fields = fields
    can_delete = False


def _image_link(job: StyleJob, kind: str, alt: str) -> str:
    url = reverse("engine:download", args=[job.pk, kind]) + "?inline=1"
    return format_html('<a href="{0}"><img src="{0}" alt="{1}" class="job-image"></a>',
                       url, alt)


@admin.register(StyleJob)
class StyleJobAdmin(StaffRunTheQueue, admin.ModelAdmin):
    class Media:
        css = {"all": ["css/admin.css"]}  # a class, not style="": the CSP has no 'unsafe-inline'

    list_display = ("id", "owner", "mode", "size", "status", "progress", "queue", "worker", "device",
                    "created_at", "started_at", "finished_at", "duration", "visibility")
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
        "finished_at", "run_seconds", "worker", "device", "network", "result", "history", "plot", "preview",
        "checkpoint", "error", "result_image", "loss_plot",
    )
    fieldsets = (
        (None, {"fields": ("uuid", "owner", "mode", "visibility", "queue", "status", "error")}),
        ("Result", {"fields": ("result_image", "loss_plot")}),
        ("Parameters", {"fields": ("size", "params", "content")}),
        ("Progress", {"fields": ("epoch", "epochs", "step", "total_steps", "eta_seconds", "created_at",
                                 "started_at", "progress_at", "finished_at", "run_seconds")}),
        ("Where it ran", {"fields": ("worker", "device", "network")}),
        ("Files", {"fields": ("result", "history", "plot", "preview", "checkpoint")}),
    )

    @admin.display(description="progress")
    def progress(self, job: StyleJob) -> str:
        return f"{job.step}/{job.total_steps}"

    @admin.display(description="duration")
    def duration(self, job: StyleJob) -> str:
        return format_duration(job.duration_seconds)

    @admin.display(description="result")
    def result_image(self, job: StyleJob) -> str:
        if job.result_is_video:  # its poster frame stands for it
            return _image_link(job, "poster", f"Poster of job {job.pk}") if job.poster else "—"
        return _image_link(job, "png", f"Result of job {job.pk}") if job.result else "—"

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
        for job in queryset:
            publishing.unpublish(job)
        self.message_user(request, f"{len(queryset)} job(s) are private now.", messages.SUCCESS)

    @admin.action(description="Delete the selected jobs with their files", permissions=["delete"])
    def delete_selected(self, request, queryset):
        """Django's confirmation page first; once confirmed, engine.cleanup cancels running jobs,
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
