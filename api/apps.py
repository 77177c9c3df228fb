from django.apps import AppConfig


class ApiConfig(AppConfig):
    """The REST API (api/): tokens, jobs, live tickets, webhooks (see api/__init__.py)."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "api"
    verbose_name = "API"

    def ready(self) -> None:
        from api import authentication  # noqa: F401 - registers its OpenAPI description (drf-spectacular)
        from api.webhooks import triggers

        triggers.connect()
