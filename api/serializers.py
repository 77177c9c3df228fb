"""What the API answers, described for drf-spectacular (the OpenAPI schema) and rendered from the
rows. The requests are described in api.requests_doc: the job form (engine.studio.forms) is what
validates them, so no serializer checks a submitted field.

A job's JSON has its state (status, progress in the runner's words, its place in the queue and the
wait while it is queued, the ETA while it runs, the error of a failed job), its parameters, its
styles (with a library painting's credits), its files as API URLs, and for its owner the webhook
with its last deliveries.
"""

from __future__ import annotations

from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from api.models import WebhookDelivery
from engine.models import Mode, Status, StyleJob
from engine.runners import runner_for
from engine.storage.job_files import DOWNLOADS, file_for, style_kind

DELIVERIES_SHOWN = 20


def absolute(request, name: str, *args) -> str:
    return request.build_absolute_uri(reverse(name, args=args))


def file_urls(job: StyleJob, request) -> dict[str, str]:
    """{kind: API URL} of the job's files that exist, originals only for those who may have them."""
    kinds = [kind for kind in DOWNLOADS if kind != "content" and file_for(job, kind)]
    if job.originals_visible_to(request.user):
        kinds += ["content", *(style_kind(s.position) for s in job.styles.all())]
    return {kind: absolute(request, "api:job_file", job.pk, kind) for kind in kinds}


class ProgressSerializer(serializers.Serializer):
    percent = serializers.IntegerField()
    epoch = serializers.IntegerField(help_text="Groups of work done: epochs (classic), chunks (video), passes (fast).")
    epochs = serializers.IntegerField()
    step = serializers.IntegerField(help_text="Units done: steps (classic), frames (video), images (fast).")
    total_steps = serializers.IntegerField()
    text = serializers.CharField(help_text="As the job's page says it: \"Epoch 2 of 5, step 40 of 100\".")


class QueueSerializer(serializers.Serializer):
    position = serializers.IntegerField(help_text="Queued jobs a worker takes before this one (0: next).")
    workers = serializers.IntegerField(allow_null=True)
    wait_seconds = serializers.FloatField(allow_null=True, help_text="Until it starts; null without workers.")
    finish_seconds = serializers.FloatField(allow_null=True, help_text="Until it ends.")
    run_seconds = serializers.FloatField(help_text="Its own expected run time.")


class LibraryCreditSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    painter = serializers.CharField()
    title = serializers.CharField()
    year = serializers.CharField()
    licence = serializers.CharField()


class JobStyleSerializer(serializers.Serializer):
    position = serializers.IntegerField()
    weight = serializers.FloatField()
    library = LibraryCreditSerializer(allow_null=True, help_text="The style library's painting, if one was chosen.")


class DeliverySerializer(serializers.Serializer):
    id = serializers.CharField(source="message_id", help_text="The `webhook-id` header of each of its tries.")
    event = serializers.CharField()
    state = serializers.ChoiceField(choices=[c[0] for c in WebhookDelivery._meta.get_field("state").choices])
    attempts = serializers.IntegerField()
    response_status = serializers.IntegerField(allow_null=True)
    error = serializers.CharField()
    created_at = serializers.DateTimeField()
    next_attempt_at = serializers.DateTimeField(allow_null=True)


class WebhookSerializer(serializers.Serializer):
    url = serializers.URLField()
    events = serializers.ListField(child=serializers.CharField())
    deliveries = DeliverySerializer(many=True, help_text=f"The last {DELIVERIES_SHOWN}, newest first.")


class JobSerializer(serializers.Serializer):
    """A job as its viewer may see it. context: request, estimates ({job pk: QueueEstimate})."""

    id = serializers.IntegerField(source="pk")
    url = serializers.SerializerMethodField()
    page = serializers.SerializerMethodField(help_text="The job's page on the site.")
    status = serializers.ChoiceField(choices=Status.choices)
    status_label = serializers.CharField(source="get_status_display")
    mode = serializers.ChoiceField(choices=Mode.choices)
    created_at = serializers.DateTimeField()
    started_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)
    progress = serializers.SerializerMethodField()
    queue = serializers.SerializerMethodField(help_text="While it is queued: its place and the wait; else null.")
    eta_seconds = serializers.FloatField(allow_null=True, help_text="While it runs: the engine's estimate.")
    run_seconds = serializers.FloatField(allow_null=True)
    params = serializers.JSONField(help_text="The engine's parameters of its mode (see GET /api/v1/estimate/).")
    error = serializers.CharField(help_text="Why it failed, as its page says; \"\" otherwise.")
    visibility = serializers.CharField()
    share_originals = serializers.BooleanField()
    embed_settings = serializers.BooleanField(help_text="Whether its result file carries its settings.")
    batch = serializers.SerializerMethodField()
    styles = serializers.SerializerMethodField()
    files = serializers.SerializerMethodField(help_text="Download URLs by kind (png or mp4, plot, csv, json, "
                                                        "preview, poster, content, style-N), for the files it has.")
    webhook = serializers.SerializerMethodField(help_text="Its owner only; null without one.")

    @extend_schema_field(OpenApiTypes.URI)
    def get_url(self, job: StyleJob) -> str:
        return absolute(self.context["request"], "api:job", job.pk)

    @extend_schema_field(OpenApiTypes.URI)
    def get_page(self, job: StyleJob) -> str:
        return absolute(self.context["request"], "engine:detail", job.pk)

    @extend_schema_field(ProgressSerializer)
    def get_progress(self, job: StyleJob) -> dict:
        return {"percent": job.progress_percent, "epoch": job.epoch, "epochs": job.epochs, "step": job.step,
                "total_steps": job.total_steps, "text": runner_for(job.mode).progress_text(job)}

    @extend_schema_field(QueueSerializer(allow_null=True))
    def get_queue(self, job: StyleJob) -> dict | None:
        estimate = self.context.get("estimates", {}).get(job.pk) if job.status == Status.QUEUED else None
        if estimate is None:
            return None
        return {"position": estimate.position, "workers": estimate.workers, "wait_seconds": estimate.wait_seconds,
                "finish_seconds": estimate.finish_seconds, "run_seconds": estimate.run_seconds}

    @extend_schema_field({"type": "object", "nullable": True, "properties": {
        "id": {"type": "integer"}, "url": {"type": "string", "format": "uri"}}})
    def get_batch(self, job: StyleJob) -> dict | None:
        if job.batch_id is None:
            return None
        return {"id": job.batch_id, "url": absolute(self.context["request"], "api:batch", job.batch_id)}

    @extend_schema_field(JobStyleSerializer(many=True))
    def get_styles(self, job: StyleJob) -> list[dict]:
        return [{"position": s.position, "weight": s.weight, "library": library_credit(s.library_style)}
                for s in job.styles.all()]

    @extend_schema_field({"type": "object", "additionalProperties": {"type": "string", "format": "uri"}})
    def get_files(self, job: StyleJob) -> dict[str, str]:
        return file_urls(job, self.context["request"])

    @extend_schema_field(WebhookSerializer(allow_null=True))
    def get_webhook(self, job: StyleJob) -> dict | None:
        request = self.context["request"]
        hook = getattr(job, "webhook", None)
        if hook is None or request.user.pk != job.owner_id:
            return None
        deliveries = hook.deliveries.all()[:DELIVERIES_SHOWN]
        return {"url": hook.url, "events": hook.events, "deliveries": DeliverySerializer(deliveries, many=True).data}


def library_credit(style) -> dict | None:
    if style is None:
        return None
    return {"id": style.pk, "painter": style.painter, "title": style.title, "year": style.year,
            "licence": style.licence}


class BatchSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    url = serializers.URLField()
    page = serializers.URLField()
    created_at = serializers.DateTimeField()
    jobs = JobSerializer(many=True, help_text="Its jobs you may see, in the order of the content files.")


class StyleSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="pk", help_text="Send it as `style_N_library`.")
    title = serializers.CharField()
    painter = serializers.CharField()
    year = serializers.CharField()
    licence = serializers.CharField()
    source = serializers.CharField()
    thumbnail = serializers.SerializerMethodField()

    @extend_schema_field(OpenApiTypes.URI)
    def get_thumbnail(self, style) -> str:
        return absolute(self.context["request"], "engine:library_thumbnail", style.pk)


class TicketSerializer(serializers.Serializer):
    ticket = serializers.CharField(help_text="Opens one socket, once.")
    url = serializers.CharField(help_text="The websocket URL with the ticket: ws(s)://host/ws/jobs/{id}/?ticket=...")
    expires_in = serializers.IntegerField(help_text="Seconds the ticket stays valid unused.")


class EstimateDeviceSerializer(serializers.Serializer):
    device = serializers.CharField()
    workers = serializers.IntegerField()
    seconds = serializers.FloatField()
    peak_bytes = serializers.IntegerField()
    memory_bytes = serializers.IntegerField(allow_null=True)
    fits = serializers.BooleanField()


class EstimateSerializer(serializers.Serializer):
    workers = serializers.IntegerField()
    wait_seconds = serializers.FloatField(allow_null=True)
    per_device = EstimateDeviceSerializer(many=True)
    seconds = serializers.FloatField()
    seconds_min = serializers.FloatField()
    peak_bytes = serializers.IntegerField()
    fits_somewhere = serializers.BooleanField()
    fits_everywhere = serializers.BooleanField()
    largest_fitting_size = serializers.IntegerField(allow_null=True)


class ResultSettingsSerializer(serializers.Serializer):
    settings = serializers.JSONField(help_text="The `nstsite` chunk as it is in the file.")
    fields = serializers.DictField(help_text="The submission fields it fills in (as a remix does): send them "
                                             "with POST /api/v1/jobs/, or send the PNG as `settings_from`.")
    missing_styles = serializers.ListField(child=serializers.IntegerField(),
                                           help_text="Style slots whose image was an upload: not in the file.")
