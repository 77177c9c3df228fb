"""The gallery: published artworks and their likes.

An Artwork is the gallery's record of one succeeded StyleJob (one-to-one). It exists from the
job's first publication on and is never deleted while the job exists: unpublishing clears its
`published` flag, so its thumbnails (made once, with Pillow, at the first publication) and its
likes come back when the owner publishes it again. The job's own `visibility` says the same thing
in the job's terms, and gallery.publishing changes both in one transaction:

    job.visibility == "public" and job.status == "succeeded" and not artwork.hidden  <=>  job.artwork.published

(A public job that is still queued or running is published when it succeeds. `hidden`: staff took
the artwork out of the gallery, gallery.moderation; its owner cannot publish it again until staff
show it again.) Everything the
gallery shows goes through `Artwork.objects.public()`, so an unpublished or deleted artwork
leaves every gallery page, thumbnail and download at once.

Copied from the job for the gallery's own indexes (the grid never joins the jobs table):
owner, mode; and for its cards: the title (from the photo's name and the painting, which its owner
may change) and the style's credit (engine.studio.describe), made at the first publication.
Counted in place, with F() in the same transaction as what they count: like_count
(gallery.likes), download_count (the gallery's download view).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Count, Exists, F, IntegerField, OuterRef, Q, Subquery
from django.utils import timezone

from engine.models import Batch, Mode, StyleJob

SORTS = {
    # name -> ORDER BY; the pk last so that pages never overlap or skip on equal values
    "newest": ("-published_at", "-id"),
    "liked": ("-like_count", "-published_at", "-id"),
}
DEFAULT_SORT = "newest"
TITLE_LENGTH = 120
CREDIT_LENGTH = 300
PUBLISHED = models.Q(published=True)


class ArtworkQuerySet(models.QuerySet):
    def public(self) -> ArtworkQuerySet:
        """What the gallery shows, to everyone."""
        return self.filter(PUBLISHED)

    def by(self, user) -> ArtworkQuerySet:
        return self.filter(owner=user)

    def sorted_by(self, sort: str) -> ArtworkQuerySet:
        """`sort` is a key of SORTS; anything else sorts by newest."""
        return self.order_by(*SORTS.get(sort, SORTS[DEFAULT_SORT]))

    def for_grid(self) -> ArtworkQuerySet:
        """Only the columns a grid card shows (and its author's name, in the same query)."""
        return self.select_related("owner").only(
            "id", "mode", "published_at", "like_count", "thumb_width", "thumb_height", "owner__username",
            "batch_id", "title", "style_credit")

    def one_per_batch(self) -> ArtworkQuerySet:
        """Published artworks outside a batch, and the first published one of each batch, with
        `batch_count`: how many of its batch are published (the grid shows a batch as one card)."""
        siblings = Artwork.objects.filter(PUBLISHED, batch=OuterRef("batch"))
        earlier = siblings.filter(pk__lt=OuterRef("pk"))
        count = Subquery(siblings.order_by().values("batch").annotate(n=Count("pk")).values("n")[:1],
                         output_field=IntegerField())
        return self.filter(Q(batch__isnull=True) | ~Exists(earlier)).annotate(batch_count=count)


class Artwork(models.Model):
    job = models.OneToOneField(StyleJob, on_delete=models.CASCADE, related_name="artwork")
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="artworks")
    mode = models.CharField(max_length=16, choices=Mode.choices)
    # Copied from the job: the grid shows the published artworks of one batch as one card.
    batch = models.ForeignKey(Batch, null=True, blank=True, on_delete=models.SET_NULL, related_name="artworks")
    published = models.BooleanField(default=True)
    title = models.CharField(max_length=TITLE_LENGTH, blank=True)
    style_credit = models.CharField(max_length=CREDIT_LENGTH, blank=True)
    # Taken out of the gallery by staff (gallery.moderation, logged in ModerationAction).
    hidden = models.BooleanField(default=False)
    # The first publication: publishing again later keeps the artwork's place in "newest".
    published_at = models.DateTimeField(default=timezone.now)
    like_count = models.PositiveIntegerField(default=0)
    download_count = models.PositiveIntegerField(default=0)
    # kind ("result", "content", "style-1", ...) -> storage name of its JPEG (jobs/<uuid>/thumb-*.jpg),
    # written once by gallery.thumbnails; removed with the job's folder.
    thumbnails = models.JSONField(default=dict, blank=True)
    # The result thumbnail's size, so the grid reserves its space before the image arrives.
    thumb_width = models.PositiveSmallIntegerField(default=0)
    thumb_height = models.PositiveSmallIntegerField(default=0)

    objects = ArtworkQuerySet.as_manager()

    class Meta:
        ordering = SORTS[DEFAULT_SORT]
        # One index per way the gallery reads a page, so ORDER BY ... LIMIT walks an index instead
        # of sorting every published row. Partial (WHERE published): the query's own condition,
        # which SQLite cannot match against a leading boolean column.
        indexes = [
            models.Index(fields=("-published_at", "-id"), condition=PUBLISHED, name="artwork_newest"),
            models.Index(fields=("-like_count", "-published_at", "-id"), condition=PUBLISHED, name="artwork_liked"),
            models.Index(fields=("mode", "-published_at", "-id"), condition=PUBLISHED, name="artwork_mode_newest"),
            models.Index(fields=("mode", "-like_count", "-published_at", "-id"), condition=PUBLISHED,
                         name="artwork_mode_liked"),
            models.Index(fields=("owner", "-published_at", "-id"), condition=PUBLISHED, name="artwork_owner_newest"),
        ]

    def __str__(self) -> str:
        return f"Artwork {self.pk} (job {self.job_id})"

    # Publishing (gallery.publishing calls these, with GridVersion.bump, in one transaction).
    def republish(self) -> bool:
        """Back into the gallery. False when it was there already, or staff have hidden it."""
        done = bool(type(self).objects.filter(pk=self.pk, published=False, hidden=False).update(published=True))
        self.published = self.published or done
        return done

    @classmethod
    def withdraw(cls, job_id: int) -> bool:
        """The job's artwork (if any) leaves the gallery. False when it was not in it."""
        return bool(cls.objects.filter(job_id=job_id, published=True).update(published=False))


class ModerationAction(models.Model):
    """The log of moderation: who hid an artwork from the gallery, or showed it again, and when
    (gallery.moderation writes it; the admin lists it)."""

    HIDE, SHOW = "hide", "show"
    artwork = models.ForeignKey(Artwork, on_delete=models.CASCADE, related_name="moderation")
    moderator = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL,
                                  related_name="moderation_actions")
    action = models.CharField(max_length=8, choices=[(HIDE, "Hidden from the gallery"), (SHOW, "Shown again")])
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ("-at", "-id")

    def __str__(self) -> str:
        return f"{self.get_action_display()}: artwork {self.artwork_id} by {self.moderator}"


class Like(models.Model):
    """One user's like of one artwork. The unique constraint is what makes liking idempotent,
    also when two requests of the same user race: the second INSERT fails, and only the INSERT
    that succeeded adds to Artwork.like_count (gallery.likes)."""

    artwork = models.ForeignKey(Artwork, on_delete=models.CASCADE, related_name="likes")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="gallery_likes")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=("artwork", "user"), name="like_once_per_user")]

    def __str__(self) -> str:
        return f"Like of artwork {self.artwork_id} by user {self.user_id}"


class GridVersion(models.Model):
    """One row (pk 1, made by the migration): the gallery's generation, a number that changes
    whenever what its pages show does (publish, unpublish, delete, a like, an owner's originals
    shown or hidden: gallery.page_cache.purge). Cached grids (gallery.views) and the proxy's
    cached pages (gallery.page_cache) have it in their cache keys, so such a change makes every
    cached page stale at once, in every process."""

    version = models.PositiveBigIntegerField(default=0)

    @classmethod
    def current(cls) -> int:
        return cls.objects.filter(pk=1).values_list("version", flat=True).first() or 0

    @classmethod
    def bump(cls) -> None:
        """Call in the transaction that changes what is published: readers see both or neither.
        The row is made by the first bump (two racing first bumps count once; pages cached in
        that instant expire with GRID_CACHE_SECONDS)."""
        if not cls.objects.filter(pk=1).update(version=F("version") + 1):
            cls.objects.get_or_create(pk=1, defaults={"version": 1})
