"""python manage.py export_fast_model DIR: fast mode's model as a TF2 SavedModel for tensorflow_hub.

The folder holds the built-in network (style predictor + transformer, from NST_MODEL_DIR) behind
the TF-Hub model's call, `outputs = model(content, style)`, image in outputs[0]. Point
NST_FAST_HUB_HANDLE at it to run fast mode's "tfhub" network without internet access.
"""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from engine.nst.errors import EngineError


class Command(BaseCommand):
    help = ("Write the fast-mode model as a SavedModel folder that tensorflow_hub.load() reads "
            "(outputs = model(content, style); the image is outputs[0]).")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("dir", help="the folder to create (it must not exist, or be empty)")

    def handle(self, *args, dir: str, **options) -> None:
        from engine.nst import fast_hub

        try:
            path = fast_hub.export(settings.NST_MODEL_DIR, dir)
        except EngineError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"wrote {path}\nuse it with: NST_FAST_HUB_HANDLE={path.resolve()} "
                          "(fast mode, network tfhub), or tensorflow_hub.load() in Python")
