"""Training data of the quality regressor Q: the teacher's outputs on a fixed pair set, from
checkpoints saved along the teacher's own training, each labelled with the fraction of that
training completed when it was saved (paper, loss reweighting).

``<out>/outputs_<iteration>.npy`` (P, S, S, 3) uint8 for each checkpoint, and ``labels.csv``
(file, checkpoint, iteration, fraction). A checkpoint already done is not generated again.
"""

import csv
import re
from collections.abc import Callable
from pathlib import Path

import lightning as L
import numpy as np
import torch
from torch.nn import functional as F
from torch.utils.data import DataLoader, Dataset
from tqdm import tqdm

from mobilefaceswap.data.errors import DataError
from mobilefaceswap.data.pairs import to_tensor
from mobilefaceswap.data.store import Rows, ShardedArray
from mobilefaceswap.files import write_atomic

WEIGHT_SUFFIXES = {".pth", ".pt", ".tar", ".ckpt"}


def checkpoint_iteration(path: Path) -> int:
    """The training iteration in a checkpoint's name (SimSwap: ``390000_net_G.pth``; any ``..._<n>``)."""
    numbers = re.findall(r"\d+", path.stem)
    if not numbers:
        raise DataError(f"--checkpoints: no iteration number in the name of {path}")
    return int(max(numbers, key=len))


def find_checkpoints(paths: list[str]) -> list[tuple[int, Path]]:
    """(iteration, file) sorted by iteration, from files or folders of them."""
    found = []
    for item in map(Path, paths):
        if item.is_dir():
            files = [p for p in item.iterdir() if p.suffix in WEIGHT_SUFFIXES and re.search(r"\d", p.stem)]
        elif item.is_file():
            files = [item]
        else:
            raise DataError(f"--checkpoints: not found: {item}")
        found += [(checkpoint_iteration(p), p) for p in files]
    if len(found) < 2:
        raise DataError("--checkpoints: need at least two teacher checkpoints with iteration numbers in their names")
    return sorted(found)


def build_quality_set(checkpoints: list[tuple[int, Path]], generate: Callable[[Path], np.ndarray], out: str | Path,
                      total_iterations: int | None = None, progress: bool = True) -> Path:
    """``generate(checkpoint)`` -> (P, S, S, 3) uint8 outputs on the fixed pairs; returns labels.csv."""
    out = Path(out)
    total = total_iterations or max(i for i, _ in checkpoints)
    rows = []
    for iteration, path in tqdm(checkpoints, desc="teacher checkpoints", unit="checkpoint", disable=not progress):
        target = out / f"outputs_{iteration:09d}.npy"
        if not target.is_file():
            images = generate(path)
            write_atomic(target, lambda tmp, a=images: np.save(tmp, a))
        rows.append([target.name, str(path), iteration, round(min(iteration / total, 1.0), 6)])

    def write(tmp: str) -> None:
        with open(tmp, "w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(["file", "checkpoint", "iteration", "fraction"])
            writer.writerows(rows)

    return write_atomic(out / "labels.csv", write)


class QualitySet(Dataset):
    """(image (3, s, s) in [0, 1], fraction of teacher training) for the rows of some checkpoints."""

    def __init__(self, images, labels: np.ndarray, input_size: int | None = None, flip: bool = False):
        self.images, self.labels = images, labels.astype(np.float32)
        self.input_size, self.flip = input_size, flip

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        image = to_tensor(self.images[index])
        if self.input_size and image.shape[-1] != self.input_size:
            image = F.interpolate(image[None], size=(self.input_size,) * 2, mode="bilinear", antialias=True, align_corners=False)[
                0
            ]
        if self.flip and torch.rand(()) < 0.5:
            image = image.flip(-1)
        return image, torch.tensor(self.labels[index])


class QualityDataModule(L.LightningDataModule):
    """A ``mfs build-quality-set`` folder; ``val_checkpoints`` whole checkpoints, evenly spread
    over the teacher's training, are held out (MAE and Spearman are measured on them)."""

    def __init__(
        self, root: str, val_checkpoints: int = 3, input_size: int | None = None, batch_size: int = 32, num_workers: int = 0
    ):
        super().__init__()
        self.save_hyperparameters()
        self.train_set: QualitySet | None = None
        self.val_set: QualitySet | None = None

    def setup(self, stage: str | None = None) -> None:
        if self.train_set is not None:
            return
        h = self.hparams
        labels_path = Path(h.root).expanduser() / "labels.csv"
        if not labels_path.is_file():
            raise DataError(f"data.root: no quality set at {labels_path.parent} (make one with mfs build-quality-set)")
        with open(labels_path, newline="") as f:
            records = list(csv.DictReader(f))
        if not 1 <= h.val_checkpoints <= len(records) - 2:
            raise DataError(
                f"data.val_checkpoints={h.val_checkpoints}: use 1 to {len(records) - 2} with {len(records)} checkpoints"
            )
        images = ShardedArray([labels_path.parent / r["file"] for r in records])
        per_checkpoint = np.diff(images.starts)
        fractions = np.repeat([float(r["fraction"]) for r in records], per_checkpoint)
        held_out = set(np.linspace(1, len(records) - 2, h.val_checkpoints).round().astype(int).tolist())
        is_val = np.repeat([i in held_out for i in range(len(records))], per_checkpoint)
        train, val = np.flatnonzero(~is_val), np.flatnonzero(is_val)
        self.train_set = QualitySet(Rows(images, train), fractions[train], h.input_size, flip=True)
        self.val_set = QualitySet(Rows(images, val), fractions[val], h.input_size)

    def train_dataloader(self) -> DataLoader:
        h = self.hparams
        return DataLoader(
            self.train_set, batch_size=h.batch_size, shuffle=True, num_workers=h.num_workers, persistent_workers=h.num_workers > 0
        )

    def val_dataloader(self) -> DataLoader:
        h = self.hparams
        return DataLoader(self.val_set, batch_size=h.batch_size, num_workers=h.num_workers, persistent_workers=h.num_workers > 0)
