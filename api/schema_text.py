"""The OpenAPI document's words and the parts drf-spectacular cannot see in the views: the long
description (authentication, problems, idempotency, live events, webhooks, settings in results),
the `LiveEvent` message of the job websocket, and the webhook deliveries as a callback of
POST /api/v1/jobs/ (OpenAPI's way to say "the server will call this URL")."""

from __future__ import annotations

from api.webhooks.events import DEFAULT_EVENTS, EVENTS

DESCRIPTION = f"""\
An API for programs: submit photos (or clips) to be stylised, follow them, fetch the results. It
goes through the same checks as the site's pages: the form's messages, quotas, rate limits, upload
checks and who may see what. A walk-through with a complete Python example is docs/api.md.

**Authentication.** A personal token from your "API tokens" page (a link beside your name once
logged in), as `Authorization: Bearer nst_...`. A token reads, or reads and writes (submit, cancel,
delete); a read token gets 403 on writes, a revoked or expired one 401. The site's own pages use
their log-in session (with the CSRF header on writes).

**Refusals** are RFC 9457 problem details (`application/problem+json`): `type` (listed at
/api/problems/), `title`, `status`, `detail` (the sentence the page would show), `instance`, and for
a refused submission `errors` by field. A 429 carries `Retry-After`.

**Idempotency.** Send `Idempotency-Key: <any unique string>` with POST /api/v1/jobs/: a retry with
the same key within 24 hours gets the job made the first time (200) rather than a second job,
also when two arrive at once. The same key with other fields is refused (422).

**Live events.** POST /api/v1/jobs/{{id}}/ticket/ gives a one-use websocket URL; each message is a
`LiveEvent` (components below). Or offer your token as a websocket subprotocol:
`["nstsite.v1", "bearer.<token>"]`. Never put a token in a URL.

**Webhooks.** Submit with `webhook_url` (https, on a public address) and `webhook_events` (any of
{", ".join(EVENTS)}; by default {", ".join(DEFAULT_EVENTS)}). Each event is POSTed as a `WebhookEvent`,
signed in the Standard Webhooks format with your secret (on the "API tokens" page): headers
`webhook-id` (the same for every try of one event), `webhook-timestamp` (seconds) and
`webhook-signature` (`v1,` and the base64 HMAC-SHA256 of `{{id}}.{{timestamp}}.{{body}}` with the key
that follows `whsec_` in your secret, base64-decoded). Answer 2xx within 5 seconds; anything else is
tried again after 10 s, 1 min, 5 min, 15 min and 40 min, then given up. Redirects are not followed.
The job's page shows its owner each delivery.

**Settings inside results.** A result PNG carries an `iTXt` chunk `nstsite` (JSON: mode,
parameters, the library paintings' credits, the site's version; never your name or file names); a
video carries a `nstsite` metadata tag. POST /api/v1/settings/ reads it; `settings_from` on a
submission uses it. `omit_settings` leaves it out.
"""

LIVE_EVENT = {
    "type": "object",
    "description": "One message of the job websocket (engine.live.events). The first is a `snapshot`.",
    "required": ["event", "job", "status", "mode", "epoch", "epochs", "step", "total_steps", "progress_percent"],
    "properties": {
        "event": {"type": "string", "enum": ["snapshot", "queued", "started", "progress", "finished", "failed",
                                             "cancelled"]},
        "job": {"type": "integer"},
        "status": {"type": "string", "enum": ["queued", "running", "succeeded", "failed", "cancelled"]},
        "status_label": {"type": "string"},
        "mode": {"type": "string"},
        "epoch": {"type": "integer"}, "epochs": {"type": "integer"},
        "step": {"type": "integer"}, "total_steps": {"type": "integer"},
        "progress_percent": {"type": "integer"},
        "eta_seconds": {"type": "number", "nullable": True, "description": "snapshot, progress"},
        "fps": {"type": "number", "description": "progress of a video job: frames per second"},
        "losses": {"type": "array", "items": {"type": "array", "items": {"type": "number"}},
                   "description": "Loss points since the previous event: [step, total, content, style, tv, ...]."},
        "preview": {"type": "object", "nullable": True, "description": "progress: an epoch's new preview",
                    "properties": {"epoch": {"type": "integer"}, "url": {"type": "string"}}},
        "previews": {"type": "array", "description": "snapshot: every preview so far",
                     "items": {"type": "object", "properties": {"epoch": {"type": "integer"},
                                                                "url": {"type": "string"}}}},
        "queue": {"type": "object", "nullable": True, "description": "queued, snapshot of a queued job",
                  "properties": {"position": {"type": "integer"}, "workers": {"type": "integer", "nullable": True},
                                 "wait_seconds": {"type": "number", "nullable": True},
                                 "finish_seconds": {"type": "number", "nullable": True},
                                 "run_seconds": {"type": "number"}}},
        "message": {"type": "string", "description": "failed: why, as the page says"},
        "stopping": {"type": "boolean", "description": "cancelled: the worker has not stopped yet"},
        "sent_at": {"type": "number", "description": "When it was published, ms since the epoch."},
        "html": {"type": "string", "description": "The job page's parts, for the site's own pages; programs "
                                                  "may ignore it."},
    },
}

WEBHOOK_EVENT = {
    "type": "object",
    "description": "The body of a webhook delivery (api.webhooks.events).",
    "required": ["type", "timestamp", "data"],
    "properties": {
        "type": {"type": "string", "enum": [f"job.{name}" for name in EVENTS]},
        "timestamp": {"type": "string", "format": "date-time"},
        "data": {"type": "object", "required": ["job", "status", "mode", "url", "page", "progress"], "properties": {
            "job": {"type": "integer"}, "status": {"type": "string"}, "mode": {"type": "string"},
            "url": {"type": "string", "format": "uri"}, "page": {"type": "string", "format": "uri"},
            "progress": {"type": "object", "properties": {
                "epoch": {"type": "integer"}, "epochs": {"type": "integer"}, "step": {"type": "integer"},
                "total_steps": {"type": "integer"}}},
            "error": {"type": "string", "description": "job.failed"},
            "result": {"type": "string", "format": "uri", "description": "job.succeeded: the result's API URL"},
        }},
    },
}

_HEADER = {"required": True, "schema": {"type": "string"}}
CALLBACK = {"{$request.body#/webhook_url}": {"post": {
    "summary": "A job's event, POSTed to its webhook_url",
    "parameters": [
        {"name": "webhook-id", "in": "header", **_HEADER, "description": "The same for every try of one event."},
        {"name": "webhook-timestamp", "in": "header", **_HEADER, "description": "Seconds since the epoch."},
        {"name": "webhook-signature", "in": "header", **_HEADER, "description": "v1,<base64 HMAC-SHA256>"},
    ],
    "requestBody": {"required": True, "content": {"application/json": {
        "schema": {"$ref": "#/components/schemas/WebhookEvent"}}}},
    "responses": {"2XX": {"description": "Taken; anything else (or no answer within 5 s) is tried again."}},
}}}


def only_the_api(endpoints):
    """drf-spectacular's preprocessing hook: the /api/v1/ endpoints (not the docs page, not the schema)."""
    return [e for e in endpoints if e[0].startswith("/api/v1/") and not e[0].startswith("/api/v1/schema")]


def add_documents(result, generator, request, public):
    """drf-spectacular's postprocessing hook: the description, LiveEvent, WebhookEvent, the callback."""
    result["info"]["description"] = DESCRIPTION
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    schemas["LiveEvent"] = LIVE_EVENT
    schemas["WebhookEvent"] = WEBHOOK_EVENT
    result["paths"]["/api/v1/jobs/"]["post"]["callbacks"] = {"jobEvent": CALLBACK}
    return result
