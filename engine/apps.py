from django.apps import AppConfig


class EngineConfig(AppConfig):
    """Style jobs and the stylisation engine (engine.nst, which has no Django imports)."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "engine"
    verbose_name = "Style transfer engine"

    def ready(self) -> None:
        from django.contrib.auth import get_user_model
        from django.contrib.auth.signals import user_logged_out, user_login_failed
        from django.db.models.signals import post_delete, post_save

        from engine.live.updates import close_session_sockets
        from engine.models import StyleJob
        from engine.storage.retention import remove_job_folder
        from engine.usernames import keep_skeleton
        from nstsite import checks
        from nstsite.request_limits.rate_limits import count_failed_login

        # Failed log-ins per address, whatever the username (the accounts live in this app).
        user_login_failed.connect(count_failed_login, dispatch_uid="engine.count_failed_login")
        user_logged_out.connect(close_session_sockets, dispatch_uid="engine.close_session_sockets")
        # A job's files go with its row, however it is deleted (also with its owner's account).
        post_delete.connect(remove_job_folder, sender=StyleJob, dispatch_uid="engine.remove_job_folder")
        # What each username looks like, for sign-up's look-alike check, however a user is saved.
        post_save.connect(keep_skeleton, sender=get_user_model(), dispatch_uid="engine.keep_skeleton")
        checks.warn_at_start()  # also registers the project's system checks (check --deploy)
        from engine.notifications import job_ended
        from engine.signals import job_failed, job_succeeded

        job_succeeded.connect(job_ended, dispatch_uid="engine.notify_succeeded")
        job_failed.connect(job_ended, dispatch_uid="engine.notify_failed")
