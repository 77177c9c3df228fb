"""{% webhook_log job %}: a job's webhook deliveries, for its owner (templates/api/_webhook_log.html
on the job's page; nothing for anyone else, nor for a job without a webhook)."""

from django import template

from api.models import JobWebhook

register = template.Library()

SHOWN = 20


@register.inclusion_tag("api/_webhook_log.html", takes_context=True)
def webhook_log(context, job) -> dict:
    user = context["request"].user
    hook = None
    if user.is_authenticated and user.pk == job.owner_id:
        hook = JobWebhook.objects.filter(job_id=job.pk).first()
    deliveries = list(hook.deliveries.order_by("-created_at", "-id")[:SHOWN]) if hook else []
    return {"hook": hook, "deliveries": deliveries}
