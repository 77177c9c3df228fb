"""The style library: paintings a user picks instead of uploading one (engine.models.LibraryStyle).

- BUNDLED: the paintings shipped with the code, in static/styles/ (provenance in its SOURCES.md).
  The migration that made the table creates their rows with `create_bundled_rows`; staff add more
  (uploads, in the media storage) and retire any in the admin. A file the code stops shipping is
  named in WITHDRAWN, and a migration retires its row (`retire_withdrawn_rows`) and makes the rows
  of files added since.
- `open_original(style)`: the painting's file, wherever it lives.
- `job_copy(style)`: the PNG a job stores as its own style image. A copy, so the job keeps its input
  when the style is retired or deleted; made once per style (`library/<pk>-<id>-style.png` in the
  media storage) and then copied byte for byte, so a submission does not decode the painting again.
- `thumbnail(style)`: the picker's small JPEG, made once the same way.

Workers cache what they compute from a library style under its `cache_key` (engine.tasks), which
is why a style's image never changes once its row exists.
"""

from __future__ import annotations

from pathlib import Path
from typing import IO

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from engine.models import LibraryStyle
from engine.nst import images

BUNDLED_DIR = Path(settings.BASE_DIR) / "static" / "styles"
THUMB_SIDE = 320        # the picker shows ~10rem cards: sharp on high-density screens
THUMB_QUALITY = 82
COPY_MAX_SIDE = 2048    # as an upload's stored size (engine.studio.forms.STORED_MAX_SIDE)

_SOURCE = "Public domain: the painter died before 1955 and the work was published before 1929."
# (file in static/styles, painter, title, year, where the photograph comes from), in the order shown.
BUNDLED: tuple[tuple[str, str, str, str, str], ...] = (
    ("starry_night_van_gogh.jpg", "Vincent van Gogh", "The Starry Night", "1889",
     "jcjohnson/neural-style @07c4b82, examples/inputs/starry_night.jpg"),
    ("great_wave_hokusai.jpg", "Katsushika Hokusai", "The Great Wave off Kanagawa", "c. 1831",
     "lengstrom/fast-style-transfer @0d3d981, examples/style/wave.jpg"),
    ("woman_with_a_hat_matisse.jpg", "Henri Matisse", "Woman with a Hat", "1905",
     "jcjohnson/neural-style @07c4b82, examples/inputs/woman-with-hat-matisse.jpg"),
    ("udnie_picabia.jpg", "Francis Picabia", "Udnie", "1913",
     "lengstrom/fast-style-transfer @0d3d981, examples/style/udnie.jpg"),
    ("water_lilies_monet.jpg", "Claude Monet", "Water Lilies", "1919",
     "titu1994/Neural-Style-Transfer @d093348, images/inputs/style/water-lilies-1919-2.jpg"),
    ("shipwreck_of_the_minotaur_turner.jpg", "J. M. W. Turner", "The Wreck of a Transport Ship", "c. 1810",
     "lengstrom/fast-style-transfer @0d3d981, examples/style/the_shipwreck_of_the_minotaur.jpg"),
    ("flowers_sakai_hoitsu.jpg", "Sakai Hōitsu", "Flowering tree (screen painting)", "early 19th century",
     "titu1994/Neural-Style-Transfer @d093348, images/inputs/style/japanese_flower_sakai_hoitsu.jpg"),
    ("mauclair_vallotton.jpg", "Félix Vallotton", "Camille Mauclair (woodcut)", "c. 1896",
     "magenta/magenta @526d3eb, magenta/models/arbitrary_image_stylization/images/style_images/"
     "Camille_Mauclair.jpg"),
    ("composition_xiii_van_doesburg.jpg", "Theo van Doesburg", "Composition XIII (Woman in Studio)", "1918",
     "magenta/magenta @526d3eb, magenta/models/arbitrary_image_stylization/images/style_images/"
     "Theo_van_Doesburg_sq.jpg"),
)
# Files no longer shipped: a site that made their rows retires them (engine/migrations/0009_remix_of_and_library.py).
# shipwreck_turner.jpg was the same painting as shipwreck_of_the_minotaur_turner.jpg, mislabelled.
WITHDRAWN = ("shipwreck_turner.jpg",)


def create_bundled_rows(model=LibraryStyle) -> int:
    """Create the rows of the bundled paintings that have none (by file name); returns how many.
    `model` is the migration's historical model when a migration calls it."""
    have = set(model.objects.exclude(bundled="").values_list("bundled", flat=True))
    rows = [model(bundled=name, painter=painter, title=title, year=year, licence=_SOURCE,
                  source=source, position=position)
            for position, (name, painter, title, year, source) in enumerate(BUNDLED, 1) if name not in have]
    model.objects.bulk_create(rows)
    return len(rows)


def retire_withdrawn_rows(model=LibraryStyle) -> int:
    """Retire the rows of bundled files the code no longer ships (WITHDRAWN); returns how many.
    Retired, not deleted: jobs that used one keep pointing at it (and at their own copy)."""
    return model.objects.filter(bundled__in=WITHDRAWN, retired=False).update(retired=True)


def open_original(style: LibraryStyle) -> IO[bytes]:
    """The painting's file as shipped or uploaded; FileNotFoundError if it is gone."""
    if style.bundled:
        return (BUNDLED_DIR / Path(style.bundled).name).open("rb")
    if not style.image:
        raise FileNotFoundError(f"Library style {style.pk} has no image.")
    return style.image.open("rb")


def _derived_name(style: LibraryStyle, what: str) -> str:
    """Storage name of a file made from the style's image: named by the row and by its image's
    identity, so a database made again (its pks start over) never serves another painting's file."""
    return f"library/{style.pk}-{style.identity}-{what}"


def _derived(style: LibraryStyle, what: str, make) -> bytes:
    name = _derived_name(style, what)
    try:
        with default_storage.open(name, "rb") as fh:
            return fh.read()
    except FileNotFoundError:
        pass
    with open_original(style) as fh:
        img = images.open_image(fh)
    data = make(img)
    if not default_storage.exists(name):  # two first requests at once: the second keeps the first's
        default_storage.save(name, ContentFile(data))
    return data


def job_copy(style: LibraryStyle) -> ContentFile:
    """The style's image as a job's own style file (8-bit sRGB PNG, at most COPY_MAX_SIDE)."""
    def make(img) -> bytes:
        if max(img.size) > COPY_MAX_SIDE:
            img = images.resize_longest(img, COPY_MAX_SIDE)
        return images.encode_png(img)

    return ContentFile(_derived(style, "style.png", make), name="style.png")


def thumbnail(style: LibraryStyle) -> bytes:
    """The picker's JPEG of the style (longest side THUMB_SIDE)."""
    def make(img) -> bytes:
        if max(img.size) > THUMB_SIDE:
            img = images.resize_longest(img, THUMB_SIDE)
        return images.encode_jpeg(img, quality=THUMB_QUALITY)

    return _derived(style, "thumb.jpg", make)
