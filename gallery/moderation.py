"""Moderation: staff take an artwork out of the gallery in one click (its page's "Hide from the
gallery", or the admin's action), and may show it again. Logged twice: a ModerationAction row
(who, what, when: the admin lists them) and the "gallery.moderation" logger.

Hiding is not unpublishing: the job stays as its owner made it (public, its page open to anyone
with the link), but its artwork leaves every gallery page, and its owner's "Publish" is refused
(gallery.publishing) until staff show it again. Showing it again puts it back in the gallery only
if its owner still has the job public.

What is cached of the gallery must not outlive the change: gallery.page_cache.purge() in the same
transaction makes every kept page stale (the grids' HTML in Django's cache, the proxy's copies for
visitors).
"""

from __future__ import annotations

import logging

from django.db import transaction

from engine.models import Status, Visibility
from gallery import page_cache
from gallery.models import Artwork, ModerationAction

logger = logging.getLogger(__name__)


def hide(artwork: Artwork, moderator) -> bool:
    """Take `artwork` out of the gallery. False when staff had hidden it already (nothing logged)."""
    return _moderate(artwork, moderator, ModerationAction.HIDE, hidden=True, published=False)


def show(artwork: Artwork, moderator) -> bool:
    """Undo hide(): back in the gallery if its job is still public. False when it was not hidden."""
    public = artwork.job.visibility == Visibility.PUBLIC and artwork.job.status == Status.SUCCEEDED
    return _moderate(artwork, moderator, ModerationAction.SHOW, hidden=False, published=public)


def _moderate(artwork: Artwork, moderator, action: str, *, hidden: bool, published: bool) -> bool:
    with transaction.atomic():
        if not Artwork.objects.filter(pk=artwork.pk, hidden=not hidden).update(hidden=hidden, published=published):
            return False
        page_cache.purge()  # every kept gallery page is stale from this commit on
        ModerationAction.objects.create(artwork=artwork, moderator=moderator, action=action)
    artwork.hidden, artwork.published = hidden, published
    logger.info("Artwork %s (job %s): %s by %s", artwork.pk, artwork.job_id, action, moderator)
    return True
