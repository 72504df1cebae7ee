"""Aligned faces to calibrate int8 quantisation with, and held-out ones to measure its accuracy.

The faces are the bundled photos' (see ``data/embedded.py``), aligned as the swapper aligns;
the last ``HELD_OUT`` are never seen by a calibration, so the PSNR measured on them is honest.
"""

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mobilefaceswap.data.embedded import prepare_embedded_faces

HELD_OUT = 3  # faces kept out of every calibration
MIN_PSNR_DB = 35.0  # an accelerated variant counts only at or above this PSNR against fp32 PyTorch


def default_cache_dir() -> Path:
    """Where ``mfs-train`` caches the aligned bundled faces too (``paths.cache_dir``)."""
    return Path(os.environ.get("MFS_CACHE_DIR", Path.home() / ".cache" / "mobilefaceswap"))


@dataclass
class CalibrationFaces:
    calibration: np.ndarray  # (N, 3, S, S) float32 in [0, 1], with their mirror images
    held_out: np.ndarray  # (HELD_OUT, 3, S, S)


def calibration_faces(size: int, template: str, cache_dir: str | Path | None = None) -> CalibrationFaces:
    with np.load(prepare_embedded_faces(cache_dir or default_cache_dir(), size, template)) as data:
        faces = np.ascontiguousarray(data["faces"].transpose(0, 3, 1, 2), dtype=np.float32) / 255
    seen = faces[:-HELD_OUT]
    return CalibrationFaces(np.concatenate([seen, seen[..., ::-1]]), faces[-HELD_OUT:])


def psnr(reference: np.ndarray, candidate: np.ndarray) -> float:
    """Peak signal-to-noise ratio in dB of images in [0, 1] (inf when identical)."""
    mse = float(np.mean((np.asarray(reference, np.float64) - np.asarray(candidate, np.float64)) ** 2))
    return float("inf") if mse == 0 else float(10 * np.log10(1 / mse))
