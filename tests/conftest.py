"""Fixtures shared by every test file.

The shared folder (test photos, model mirror) sits beside the repository: ``../shared``, or
``NST_SHARED_DIR``. The model mirror is ``NST_TEST_MODEL_DIR``, by default ``<shared>/models``.
A missing folder fails the tests that need it, with the path and the variable to set: it never
skips them, because a skipped test passes silently on a machine set up wrongly.
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # before anything imports TensorFlow

from collections.abc import Callable  # noqa: E402
from functools import lru_cache  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def shared_path() -> Path:
    return Path(os.environ.get("NST_SHARED_DIR") or REPO.parent / "shared").resolve()


def model_mirror_path() -> Path:
    return Path(os.environ.get("NST_TEST_MODEL_DIR") or shared_path() / "models").resolve()


def _require_dir(path: Path, what: str, variable: str) -> Path:
    if not path.is_dir():
        pytest.fail(f"{what} {path} does not exist. Put it there or set {variable} to its location.",
                    pytrace=False)
    return path


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """The shared folder beside the repository (photos, model mirror, design notes)."""
    return _require_dir(shared_path(), "Shared folder", "NST_SHARED_DIR")


@pytest.fixture(scope="session")
def images_dir() -> Path:
    """The test photos: tubingen.jpg, starry_night.jpg, golden_gate.jpg, shipwreck.jpg, ..."""
    return _require_dir(shared_path() / "images", "Test image folder", "NST_SHARED_DIR")


@pytest.fixture(scope="session")
def model_dir() -> Path:
    """A folder holding the default model files, intact (md5-checked): the mirror."""
    from engine.nst import model_files
    from engine.nst.errors import ModelFileError

    path = _require_dir(model_mirror_path(), "Model mirror folder", "NST_TEST_MODEL_DIR")
    try:
        for mf in model_files.DEFAULT_FILES:
            model_files.require(path, mf)
    except ModelFileError as exc:
        pytest.fail(str(exc), pytrace=False)
    return path


@pytest.fixture(scope="session")
def load_test_image(images_dir: Path) -> Callable[[str, int], np.ndarray]:
    """load_test_image("tubingen.jpg", 64) -> HxWx3 float32 array in [0, 1], longest side 64.
    Each call returns a fresh copy, so a test may change it in place."""
    from engine.nst import images

    @lru_cache(maxsize=64)
    def cached(name: str, max_side: int) -> np.ndarray:
        return images.load_array(images_dir / name, max_side)

    def load(name: str, max_side: int) -> np.ndarray:
        return cached(name, max_side).copy()

    return load
