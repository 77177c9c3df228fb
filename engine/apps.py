from django.apps import AppConfig


class EngineConfig(AppConfig):
    """Style jobs and the stylisation engine (engine.nst, which has no Django imports)."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "engine"
    verbose_name = "Style transfer engine"
