"""System checks of this project's own settings (`manage.py check`, `check --deploy`).

email_backend: with DEBUG off, e-mail that goes to the console (or a file, or nowhere) is a
problem a server should not run with: password-reset links would be written to the server's log,
where whoever reads it can take over any account, or not be sent at all. It is a warning, not a
refusal, because the local run (scripts/run: DEBUG off, no mail server) is meant to work as it
is; `check --deploy` shows it, and so does every process's log at start (warn_at_start).
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.core import checks

logger = logging.getLogger("nstsite")

# Backends that deliver nothing to anyone's mailbox, and what happens to the mail instead.
UNDELIVERED = {
    "django.core.mail.backends.console.EmailBackend": "is written to the server's log",
    "django.core.mail.backends.filebased.EmailBackend": "is written to files on the server",
    "django.core.mail.backends.locmem.EmailBackend": "is kept in memory and never sent",
    "django.core.mail.backends.dummy.EmailBackend": "is thrown away",
}
HINT = ("Set DJANGO_EMAIL_BACKEND=django.core.mail.backends.smtp.EmailBackend and DJANGO_EMAIL_HOST, "
        "DJANGO_EMAIL_PORT, DJANGO_EMAIL_HOST_USER, DJANGO_EMAIL_HOST_PASSWORD, DJANGO_EMAIL_USE_TLS "
        "(README, \"E-mail\").")


def email_problem() -> str | None:
    """What is wrong with the e-mail settings of a production server, or None."""
    fate = UNDELIVERED.get(settings.EMAIL_BACKEND)
    if settings.DEBUG or fate is None:
        return None
    return (f"E-mail {fate} (EMAIL_BACKEND={settings.EMAIL_BACKEND}): password-reset links "
            "would be readable by whoever reads it, or never arrive.")


@checks.register(checks.Tags.security, deploy=True)
def email_backend(app_configs, **kwargs) -> list[checks.CheckMessage]:
    problem = email_problem()
    return [checks.Warning(problem, hint=HINT, id="nstsite.W001")] if problem else []


# Caches whose contents each process keeps to itself (or that keep nothing): counters there would
# let each web process allow the whole limit.
NOT_SHARED = ("django.core.cache.backends.locmem.LocMemCache", "django.core.cache.backends.dummy.DummyCache")


@checks.register(checks.Tags.caches)
def rate_limit_cache(app_configs, **kwargs) -> list[checks.CheckMessage]:
    """The rate limits' counters (nstsite.request_limits.rate_limits) must be in a cache all processes share."""
    backend = settings.CACHES.get(settings.RATELIMIT_USE_CACHE, {}).get("BACKEND")
    if backend is None or backend in NOT_SHARED:
        return [checks.Error(f"The rate limits' cache {settings.RATELIMIT_USE_CACHE!r} is {backend or 'missing'}: "
                             "each web process would count on its own.",
                             hint="Use Redis: CACHES['limits'] in nstsite/settings.py.", id="nstsite.E002")]
    return []


def warn_at_start() -> None:
    """Log the e-mail problem, if any, when a process starts (engine.apps.EngineConfig.ready)."""
    problem = email_problem()
    if problem and not getattr(settings, "TESTING", False):
        logger.warning("%s %s", problem, HINT)
