from django.apps import AppConfig


class EngineConfig(AppConfig):
    """Style jobs and the stylisation engine (engine.nst, which has no Django imports)."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "engine"
    verbose_name = "Style transfer engine"

    def ready(self) -> None:
        from .notifications import job_ended
        from .signals import job_failed, job_succeeded

        job_succeeded.connect(job_ended, dispatch_uid="engine.notify_succeeded")
        job_failed.connect(job_ended, dispatch_uid="engine.notify_failed")
