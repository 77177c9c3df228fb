"""The API's rows: personal tokens, each user's webhook secret, idempotency keys, and a job's
webhook with the log of its deliveries.

A token is stored only as its SHA-256 (tokens are 256 random bits: a slow hash would add nothing
but time to every request); its first characters stay readable so that its owner can tell tokens
apart on the "API tokens" page.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from engine.models import StyleJob


class Scope(models.TextChoices):
    READ = "read", "Read: see jobs, styles and estimates"
    WRITE = "write", "Read and write: also submit, cancel and delete jobs"


class ApiTokenQuerySet(models.QuerySet):
    def usable(self) -> ApiTokenQuerySet:
        """Neither revoked nor expired."""
        unexpired = Q(expires_at__isnull=True) | Q(expires_at__gt=timezone.now())
        return self.filter(unexpired, revoked_at__isnull=True)


class ApiToken(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16, help_text="The token's first characters, to tell it apart.")
    digest = models.CharField(max_length=64, unique=True, help_text="SHA-256 of the token, hex.")
    scope = models.CharField(max_length=8, choices=Scope.choices, default=Scope.READ)
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = ApiTokenQuerySet.as_manager()

    class Meta:
        ordering = ("-created_at", "-id")
        verbose_name = "API token"

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def may_write(self) -> bool:
        return self.scope == Scope.WRITE

    @property
    def state(self) -> str:
        """"active", "revoked" or "expired", for the tokens page."""
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= timezone.now():
            return "expired"
        return "active"


class WebhookSecret(models.Model):
    """The key a user's webhooks are signed with (Standard Webhooks: "whsec_" and base64 bytes)."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="webhook_secret")
    secret = models.CharField(max_length=100)
    created_at = models.DateTimeField(default=timezone.now)


class IdempotencyKey(models.Model):
    """A job-creating request made with an `Idempotency-Key` header: a retry within
    api.idempotency.WINDOW gets the same jobs back. `jobs` is empty while the first request is
    still being handled (a concurrent retry waits for it)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=64, help_text="SHA-256 of the request's fields and files.")
    jobs = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=("user", "key"), name="idempotencykey_user_key")]


class JobWebhook(models.Model):
    """Where a job's events go, and which of them (api.webhooks.events.EVENTS)."""

    job = models.OneToOneField(StyleJob, on_delete=models.CASCADE, related_name="webhook")
    url = models.URLField(max_length=2000)
    events = models.JSONField(default=list)

    def __str__(self) -> str:
        return f"Webhook of job {self.job_id}"


class DeliveryState(models.TextChoices):
    PENDING = "pending", "Waiting to be sent"
    DELIVERED = "delivered", "Delivered"
    RETRYING = "retrying", "Failed, will be tried again"
    FAILED = "failed", "Failed, given up"
    REFUSED = "refused", "Not sent: the address is not allowed"


class WebhookDelivery(models.Model):
    """One event for a job's webhook, with its tries: the body and `message_id` stay the same for
    every try (a receiver uses the id to drop duplicates), the timestamp and signature are each try's."""

    webhook = models.ForeignKey(JobWebhook, on_delete=models.CASCADE, related_name="deliveries")
    message_id = models.CharField(max_length=40, unique=True)
    event = models.CharField(max_length=32)
    payload = models.JSONField()
    state = models.CharField(max_length=16, choices=DeliveryState.choices, default=DeliveryState.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("-created_at", "-id")
        verbose_name_plural = "webhook deliveries"
