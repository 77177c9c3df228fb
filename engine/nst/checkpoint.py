"""The full state of a classic run between two steps: enough to resume it and get the same
final image as a run that was never interrupted."""

from __future__ import annotations

import hashlib
import io
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.nst.errors import ParameterError

FORMAT_VERSION = 1


@dataclass
class Checkpoint:
    params: dict             # ClassicParams.to_dict() of the run
    inputs_digest: str       # fingerprint of the content and style arrays
    step: int                # steps done so far
    level: int               # index into the coarse-to-fine plan
    image: np.ndarray        # float32 [H, W, 3] at that level's resolution
    optimizer: dict          # the optimiser's state(): arrays, ints or None
    lr_scale: float          # < 1 after NaN roll-backs
    history: dict            # LossHistory.to_dict()
    elapsed: float           # seconds of optimisation so far

    def to_bytes(self) -> bytes:
        arrays = {"image": self.image}
        meta_opt = {}
        for key, value in self.optimizer.items():
            if isinstance(value, np.ndarray):
                arrays[f"opt_{key}"] = value
            else:
                meta_opt[key] = value
        meta = {
            "version": FORMAT_VERSION, "params": self.params, "inputs_digest": self.inputs_digest,
            "step": self.step, "level": self.level, "optimizer": meta_opt, "lr_scale": self.lr_scale,
            "history": self.history, "elapsed": self.elapsed,
        }
        buf = io.BytesIO()
        np.savez(buf, meta=np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8), **arrays)
        return buf.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> Checkpoint:
        try:
            with np.load(io.BytesIO(data), allow_pickle=False) as npz:
                meta = json.loads(npz["meta"].tobytes().decode())
                optimizer = dict(meta["optimizer"])
                for key in npz.files:
                    if key.startswith("opt_"):
                        optimizer[key[4:]] = npz[key]
                image = npz["image"]
        except (ValueError, KeyError, OSError, json.JSONDecodeError) as exc:
            raise ParameterError(f"This is not a readable nstsite checkpoint ({exc}).") from exc
        if meta.get("version") != FORMAT_VERSION:
            raise ParameterError(f"Checkpoint format {meta.get('version')} is not supported.")
        return cls(
            params=meta["params"], inputs_digest=meta["inputs_digest"], step=meta["step"],
            level=meta["level"], image=image, optimizer=optimizer, lr_scale=meta["lr_scale"],
            history=meta["history"], elapsed=meta["elapsed"],
        )

    def save(self, path: Path | str) -> Path:
        """Write atomically: a crash while saving leaves the previous checkpoint intact."""
        path = Path(path)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_bytes(self.to_bytes())
        os.replace(tmp, path)
        return path

    @classmethod
    def load(cls, path: Path | str) -> Checkpoint:
        return cls.from_bytes(Path(path).read_bytes())


def inputs_digest(content: np.ndarray, styles) -> str:
    """Resuming with other images would silently mix two runs: fingerprint the inputs."""
    digest = hashlib.sha1()
    for array in (content, *styles):
        digest.update(str(array.shape).encode())
        digest.update(np.ascontiguousarray(array, dtype=np.float32).tobytes())
    return digest.hexdigest()
