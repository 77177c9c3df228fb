"""An artwork's title: made from the photo's name and the painting when it is first published
(gallery.publishing, engine.studio.describe.picture_title), changed by its owner on its page."""

from __future__ import annotations

from django.db import transaction

from gallery import page_cache
from gallery.models import TITLE_LENGTH, Artwork


def rename(artwork: Artwork, title: str) -> str:
    """Its owner's title for `artwork` (spaces tidied, cut to TITLE_LENGTH); an empty one keeps the old."""
    title = " ".join(title.split())[:TITLE_LENGTH]
    if not title or title == artwork.title:
        return artwork.title
    with transaction.atomic():
        Artwork.objects.filter(pk=artwork.pk).update(title=title)
        page_cache.purge()  # kept pages (the grid's cards, its page) show the old title until this commit
    artwork.title = title
    return title
