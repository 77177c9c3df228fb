"""Install the pretrained model files into NST_MODEL_DIR (see engine.nst.model_files).

    python manage.py fetch_models                  # mirror folder if set, else the official URLs
    python manage.py fetch_models --from ../shared/models --no-download   # offline / CI
    python manage.py fetch_models --vgg19          # also the 80 MB VGG19 file (classic, vgg19)
    python manage.py fetch_models --check          # only verify what is there; change nothing
"""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from engine.nst import model_files
from engine.nst.errors import ModelFileError


class Command(BaseCommand):
    help = "Install the pretrained model files (md5-checked) from a mirror folder or their official URLs."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--from", dest="mirror", metavar="DIR",
                            help="Mirror folder to copy from first (default: NST_MODEL_MIRROR).")
        parser.add_argument("--vgg19", action="store_true",
                            help="Also install the Keras VGG19 weights (80 MB; classic mode, network vgg19).")
        parser.add_argument("--no-download", action="store_true",
                            help="Never use the network: copy from the mirror or fail.")
        parser.add_argument("--check", action="store_true",
                            help="Only check the files in the model folder; install nothing.")

    def handle(self, *args, mirror: str | None, vgg19: bool, no_download: bool, check: bool,
               **options) -> None:
        model_dir = Path(settings.NST_MODEL_DIR)
        files = model_files.DEFAULT_FILES + ((model_files.VGG19_NOTOP,) if vgg19 else ())
        if check:
            self._check(model_dir, files)
            return
        mirror_dir = Path(mirror) if mirror else settings.NST_MODEL_MIRROR
        if mirror_dir is not None and not Path(mirror_dir).is_dir():
            raise CommandError(f"Mirror folder {mirror_dir} does not exist.")
        if no_download and mirror_dir is None:
            raise CommandError("--no-download needs a mirror folder: "
                               "pass --from DIR or set NST_MODEL_MIRROR.")

        failures = []
        for mf in files:
            try:
                self.stdout.write(self._install(mf, model_dir, mirror_dir, not no_download))
            except ModelFileError as exc:
                failures.append(str(exc))
                self.stderr.write(f"failed     {mf.name}")
        if failures:
            raise CommandError(f"{len(failures)} of {len(files)} model files could not be installed "
                               f"into {model_dir}:\n" + "\n".join(f"- {msg}" for msg in failures))

    def _install(self, mf: model_files.ModelFile, model_dir: Path, mirror: Path | None,
                 allow_download: bool) -> str:
        target = model_dir / mf.name
        had_bad_copy = target.is_file()
        if had_bad_copy and model_files.md5_of(target) == mf.md5:
            return f"present    {mf.name}"
        from_mirror = mirror is not None and (Path(mirror) / mf.name).is_file()
        model_files.fetch(mf, model_dir, mirror, allow_download=allow_download)
        what = f"copied     {mf.name} from {mirror}" if from_mirror else f"downloaded {mf.name} from {mf.url}"
        return f"{what} (replacing a corrupt copy)" if had_bad_copy else what

    def _check(self, model_dir: Path, files: tuple[model_files.ModelFile, ...]) -> None:
        problems = []
        for mf in files:
            try:
                model_files.require(model_dir, mf)
                self.stdout.write(f"ok         {mf.name}")
            except ModelFileError as exc:
                problems.append(str(exc))
                self.stderr.write(f"missing or corrupt  {mf.name}")
        if problems:
            raise CommandError("\n".join(problems))
