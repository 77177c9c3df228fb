"""Admin for style jobs: the queue at a glance (a later issue adds queue actions)."""

from django.contrib import admin, messages

from . import queue
from .models import StyleImage, StyleJob


class StyleImageInline(admin.TabularInline):
    model = StyleImage
    extra = 0
    fields = ("position", "image", "weight")
    readonly_fields = fields
    can_delete = False


@admin.register(StyleJob)
class StyleJobAdmin(admin.ModelAdmin):
    list_display = ("id", "owner", "mode", "size", "status", "progress", "queue", "created_at", "run_seconds",
                    "device", "worker", "visibility")
    list_filter = ("status", "mode", "queue", "visibility", "network")
    search_fields = ("=id", "owner__username", "owner__email", "worker", "error")
    date_hierarchy = "created_at"
    list_select_related = ("owner",)
    ordering = ("-created_at",)
    inlines = (StyleImageInline,)
    actions = ("cancel_jobs",)
    readonly_fields = (
        "uuid", "owner", "mode", "params", "size", "content", "queue", "status", "epoch", "epochs", "step",
        "total_steps", "eta_seconds", "created_at", "started_at", "progress_at", "finished_at", "run_seconds",
        "worker", "device", "network", "result", "history", "plot", "preview", "checkpoint", "error",
    )
    fieldsets = (
        (None, {"fields": ("uuid", "owner", "mode", "visibility", "queue", "status", "error")}),
        ("Parameters", {"fields": ("size", "params", "content")}),
        ("Progress", {"fields": ("epoch", "epochs", "step", "total_steps", "eta_seconds", "created_at",
                                 "started_at", "progress_at", "finished_at", "run_seconds")}),
        ("Where it ran", {"fields": ("worker", "device", "network")}),
        ("Files", {"fields": ("result", "history", "plot", "preview", "checkpoint")}),
    )

    @admin.display(description="progress")
    def progress(self, job: StyleJob) -> str:
        return f"{job.step}/{job.total_steps}"

    @admin.action(description="Cancel the selected queued or running jobs")
    def cancel_jobs(self, request, queryset):
        cancelled = sum(queue.cancel_job(job) for job in queryset)
        self.message_user(request, f"{cancelled} job(s) cancelled.", messages.SUCCESS)

    def has_add_permission(self, request) -> bool:
        return False  # jobs come from the submission form, with checked images
