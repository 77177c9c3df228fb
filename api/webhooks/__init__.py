"""Webhooks: a job may name a `webhook_url` and the events it wants (events.EVENTS); each event
becomes a WebhookDelivery row (triggers, on the engine's job signals) sent by an RQ job on its own
queue (delivery), signed in the Standard Webhooks format with its owner's secret (signing), only to
an address the SSRF guard lets through (guard), retried with back-off, and logged on the job's page
for its owner (templates/api/_webhook_log.html)."""
