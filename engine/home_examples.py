"""The home page's three examples: a photo of ../shared/images, a painting of the style library and
what this engine made of the two, shown before and after. Made once by `manage.py home_examples`
(fast mode, the site's own engine and model files) and committed as small WebP files in
static/home/, so the page shows real results without running anything; credits from here and the
library's list (engine.studio.style_library.BUNDLED)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from engine.studio.style_library import BUNDLED

FOLDER = "home"        # in static/
RESULT_SIDE = 640      # the result as the page shows it (a card of about 20rem on a laptop)
PHOTO_SIDE = 240       # the photo and the painting, shown small beside it
QUALITY = 76


@dataclass(frozen=True)
class Example:
    slug: str
    photo: str             # a file of ../shared/images
    photo_credit: str
    painting: str          # a bundled painting (static/styles/)
    size: int = 1024       # the size the engine made it at, as a user of "Quick try" would

    @property
    def painting_credit(self) -> tuple[str, str, str]:
        """(painter, title, year) from the library's list."""
        painter, title, year = next(entry[1:4] for entry in BUNDLED if entry[0] == self.painting)
        return painter, title, year

    @property
    def files(self) -> dict[str, str]:
        """The static files the page shows, by what they are."""
        return {what: self.file(what) for what in ("photo", "painting", "result")}

    def file(self, what: str) -> str:
        """Its static file: "photo", "painting" or "result" (a photo or a painting shown twice is one file)."""
        named = {"photo": self.photo, "painting": self.painting}.get(what)
        return f"{FOLDER}/{what}-{Path(named).stem}.webp" if named else f"{FOLDER}/{self.slug}.webp"


_NEURAL_STYLE = "photo from jcjohnson/neural-style's examples (MIT)"
EXAMPLES: tuple[Example, ...] = (
    Example("tubingen-starry-night", "tubingen.jpg", f"Tübingen, the Neckarfront: {_NEURAL_STYLE}",
            "starry_night_van_gogh.jpg"),
    Example("golden-gate-great-wave", "golden_gate.jpg", f"The Golden Gate Bridge: {_NEURAL_STYLE}",
            "great_wave_hokusai.jpg"),
    Example("tubingen-composition-xiii", "tubingen.jpg", f"Tübingen, the Neckarfront: {_NEURAL_STYLE}",
            "composition_xiii_van_doesburg.jpg"),
)
