"""Aligned faces (and their masks) as one indexable set, whether one array or memory-mapped shards."""

from dataclasses import dataclass
from pathlib import Path

import numpy as np


class ShardedArray:
    """The rows of several ``.npy`` files as one sequence. Files are memory-mapped on first use in
    each process (DataLoader workers open their own), so memory does not grow with the data."""

    def __init__(self, paths: list[Path]):
        self.paths = [str(p) for p in paths]
        lengths = [np.load(p, mmap_mode="r").shape[0] for p in self.paths]
        self.starts = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        self._maps: list[np.ndarray] | None = None

    def __len__(self) -> int:
        return int(self.starts[-1])

    def __getitem__(self, index: int) -> np.ndarray:
        if self._maps is None:
            self._maps = [np.load(p, mmap_mode="r") for p in self.paths]
        shard = int(np.searchsorted(self.starts, index, side="right")) - 1
        return np.array(self._maps[shard][index - self.starts[shard]])  # a writable copy, off the map

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_maps": None}


class Rows:
    """A subset of a sequence's rows, without copying them."""

    def __init__(self, base, rows: np.ndarray):
        self.base, self.rows = base, np.asarray(rows)

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, index: int) -> np.ndarray:
        return self.base[int(self.rows[index])]


@dataclass
class FaceSet:
    """images[i]: (S, S, 3) uint8 RGB aligned face; identities[i]: an integer label; masks[i]: (S, S) uint8 M_t."""

    images: object
    identities: np.ndarray
    masks: object | None = None

    def __len__(self) -> int:
        return len(self.identities)

    def subset(self, rows: np.ndarray) -> "FaceSet":
        masks = None if self.masks is None else Rows(self.masks, rows)
        return FaceSet(Rows(self.images, rows), self.identities[rows], masks)

    def split_by_identity(self, val_identities: int, seed: int) -> tuple["FaceSet", "FaceSet"]:
        """Train and validation sets with no identity in common, chosen reproducibly from ``seed``."""
        labels = np.unique(self.identities)
        if not 2 <= val_identities <= len(labels) - 2:  # pairs of either set need two identities
            raise ValueError(f"val_identities={val_identities}: use 2 to {len(labels) - 2} with {len(labels)} identities")
        held_out = np.random.default_rng(seed).choice(labels, val_identities, replace=False)
        val = np.isin(self.identities, held_out)
        return self.subset(np.flatnonzero(~val)), self.subset(np.flatnonzero(val))
