"""python manage.py home_examples [--images ../shared/images]: paint the home page's examples
(engine.home_examples) with this engine in fast mode and write them as WebP files into static/home/.
Run it again after changing the examples or the engine; commit what it writes."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from PIL import Image

from engine.home_examples import EXAMPLES, PHOTO_SIDE, QUALITY, RESULT_SIDE
from engine.nst import FastParams, images
from engine.nst.fast import get_fast_stylizer
from engine.studio.style_library import BUNDLED_DIR


class Command(BaseCommand):
    help = "Paint the home page's before/after examples (static/home/) with the engine."

    def add_arguments(self, parser):
        parser.add_argument("--images", type=Path, default=Path(settings.BASE_DIR).parent / "shared" / "images",
                            help="the folder of the photos (default: ../shared/images)")

    def handle(self, *args, **options):
        folder: Path = options["images"]
        out = Path(settings.BASE_DIR) / "static"
        stylizer = get_fast_stylizer(settings.NST_MODEL_DIR)
        for example in EXAMPLES:
            photo_path = folder / example.photo
            if not photo_path.is_file():
                raise CommandError(f"{photo_path} is not there (--images names the photos' folder).")
            photo = images.open_image(photo_path)
            painting = images.open_image(BUNDLED_DIR / example.painting)
            # As a job of the site runs it: the photo at the job's size, the painting at the predictor's 256 px.
            result = stylizer.stylize(images.to_array(images.resize_longest(photo, example.size)),
                                      [images.to_array(images.resize_longest(painting, 256))],
                                      FastParams(size=example.size))
            (out / example.file("photo")).parent.mkdir(parents=True, exist_ok=True)
            for what, picture, side in (("photo", photo, PHOTO_SIDE), ("painting", painting, PHOTO_SIDE),
                                        ("result", Image.fromarray(images.to_uint8(result.image)), RESULT_SIDE)):
                small = images.resize_longest(images.to_rgb(picture), side)
                small.save(out / example.file(what), "WEBP", quality=QUALITY, method=6)
            self.stdout.write(f"{example.slug}: {result.image.shape[1]}x{result.image.shape[0]} px")
