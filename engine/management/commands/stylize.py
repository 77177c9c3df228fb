"""python manage.py stylize CONTENT STYLE [STYLE ...] --mode classic|fast --size PX --out result.png"""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from engine.nst import cli
from engine.nst.errors import EngineError


class Command(BaseCommand):
    help = "Stylise an image with the engine, without Redis or the web (see engine/nst/cli.py)."

    def add_arguments(self, parser):
        cli.add_arguments(parser)

    def handle(self, *args, **options):
        options["model_dir"] = options.get("model_dir") or getattr(settings, "NST_MODEL_DIR", None)
        try:
            cli.run(options, stdout=self.stdout)
        except EngineError as exc:
            raise CommandError(str(exc)) from exc
