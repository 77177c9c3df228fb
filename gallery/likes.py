"""Likes: once per user and artwork, with Artwork.like_count kept equal to the number of Like rows.

The count changes only in the transaction that inserts or deletes a Like row, and only when that
row really was inserted or deleted, with an UPDATE ... SET like_count = like_count +/- 1 (F()),
never a read-modify-write in Python. Two requests of the same user racing to like: the unique
constraint lets one INSERT through, the other gets an IntegrityError and changes nothing. Two
racing unlikes: one DELETE finds the row, the other deletes nothing and changes nothing.

A count is on every page that shows the artwork (and "most liked" is sorted by it): a like that
changed it purges the cached pages (gallery.page_cache) in the same transaction.
"""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.db.models import F

from gallery import page_cache
from gallery.models import Artwork, Like


def like(artwork: Artwork, user) -> bool:
    """Like `artwork` as `user`. True if this call added the like, False if it was already there."""
    with transaction.atomic():
        try:
            with transaction.atomic():  # a savepoint: the IntegrityError must not spoil the outer block
                Like.objects.create(artwork=artwork, user=user)
        except IntegrityError:
            return False
        Artwork.objects.filter(pk=artwork.pk).update(like_count=F("like_count") + 1)
        page_cache.purge()
    return True


def unlike(artwork: Artwork, user) -> bool:
    """Take the like back. True if this call removed it, False if there was none."""
    with transaction.atomic():
        deleted, _ = Like.objects.filter(artwork=artwork, user=user).delete()
        if not deleted:
            return False
        Artwork.objects.filter(pk=artwork.pk).update(like_count=F("like_count") - 1)
        page_cache.purge()
    return True


def forget_likes_of(sender, instance, **kwargs) -> None:
    """pre_delete receiver for users: their likes go with them (cascade), so take them off the counts
    first, in one UPDATE."""
    if Artwork.objects.filter(likes__user=instance).update(like_count=F("like_count") - 1):
        page_cache.purge()
