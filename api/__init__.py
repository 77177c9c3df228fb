"""The REST API for programs (issue 22): personal tokens, jobs, live tickets, signed webhooks, and
its OpenAPI description. It takes the pages' own path for everything it does (engine.studio's
admission and form, engine.jobs.service, the permission rule of engine.models); see docs/api.md."""
