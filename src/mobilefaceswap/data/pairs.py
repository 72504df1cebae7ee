"""Source/target pairs of aligned faces for distillation."""

import random

import albumentations as A
import numpy as np
import torch
from torch.utils.data import Dataset

from mobilefaceswap.data.store import FaceSet


def light_augmentation() -> A.Compose:
    """Flips and small colour changes: they keep the alignment the teacher expects."""
    return A.Compose(
        [
            A.HorizontalFlip(p=0.5),
            A.RandomBrightnessContrast(brightness_limit=0.1, contrast_limit=0.1, p=0.5),
            A.HueSaturationValue(hue_shift_limit=5, sat_shift_limit=10, val_shift_limit=5, p=0.3),
        ]
    )


def geometric_source_augmentation() -> A.Compose:
    """The light augmentation and, for half the sources, a random affine change (our choice, not the
    paper's). Only the source's identity features are read, by the teacher and the student alike,
    so each draw is one more distinct source to distil from; shifts, turns and scaling move a face's
    identity features in most of the directions in which unseen faces differ, colour hardly
    (scripts/source_coverage.py, docs/training-choices.md). The other half stay as the teacher
    aligns them."""
    return A.Compose(
        [
            *light_augmentation().transforms,
            A.Affine(scale=(0.9, 1.1), translate_percent=(-0.06, 0.06), rotate=(-15, 15), p=0.5),
        ]
    )


SOURCE_AUGMENTATIONS = {"light": light_augmentation, "geometric": geometric_source_augmentation}


def augment_reproducibly(transform: A.Compose, item: dict, *key: int) -> dict:
    """Apply ``transform`` with random draws fixed by ``key`` (seed, pair index, ...): a pair is
    augmented the same way in every run, resumed or not, and in whichever worker loads it."""
    rng = np.random.default_rng([*key, 1])
    transform.set_random_state(rng, random.Random(int(rng.integers(2**63))))
    return transform(**item)


def to_tensor(image: np.ndarray) -> torch.Tensor:
    """(S, S, 3) uint8 -> (3, S, S) float in [0, 1]."""
    return torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1).float().div(255)


SOURCE, TARGET = 0, 1  # roles of a pair's faces in its augmentation key


class FacePairDataset(Dataset):
    """Item i is a (source, target) pair drawn reproducibly from ``seed`` and i.

    With probability ``same_identity_ratio`` the source shares the target's identity. A set
    with masks also gives the target's M_t (``target_mask``), transformed with the target.
    ``source_transform`` (default: ``transform``) augments the source.
    """

    def __init__(
        self,
        faces: FaceSet,
        num_pairs: int,
        same_identity_ratio: float = 0.2,
        seed: int = 0,
        transform: A.Compose | None = None,
        source_transform: A.Compose | None = None,
    ):
        self.faces = faces
        self.identities = np.asarray(faces.identities)
        self.num_pairs = num_pairs
        self.same_identity_ratio = same_identity_ratio
        self.seed = seed
        self.transform = transform
        self.source_transform = transform if source_transform is None else source_transform
        # Rows grouped by identity: drawing a pair costs O(1), not O(len(faces)).
        self.order = np.argsort(self.identities, kind="stable")
        labels, self.group_start, self.group_size = np.unique(self.identities[self.order], return_index=True, return_counts=True)
        if len(labels) < 2:
            raise ValueError("pairs need at least two identities")
        self.group_of = np.searchsorted(labels, self.identities)

    def __len__(self) -> int:
        return self.num_pairs

    def pair_indices(self, index: int) -> tuple[int, int]:
        rng = np.random.default_rng([self.seed, index])
        target = int(rng.integers(len(self.identities)))
        group = self.group_of[target]
        if rng.random() < self.same_identity_ratio:
            return int(self.order[self.group_start[group] + rng.integers(self.group_size[group])]), target
        while True:  # another identity: at least half the draws succeed unless one identity dominates
            source = int(rng.integers(len(self.identities)))
            if self.group_of[source] != group:
                return source, target

    def _load(self, face: int, pair: int, role: int, with_mask: bool = False) -> dict[str, np.ndarray]:
        item = {"image": self.faces.images[face]}
        if with_mask:
            item["mask"] = self.faces.masks[face]
        transform = self.source_transform if role == SOURCE else self.transform
        return augment_reproducibly(transform, item, self.seed, pair, role) if transform is not None else item

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        source, target = self.pair_indices(index)
        target_item = self._load(target, index, TARGET, with_mask=self.faces.masks is not None)
        item = {
            "source": to_tensor(self._load(source, index, SOURCE)["image"]),
            "target": to_tensor(target_item["image"]),
            "same_identity": torch.tensor(self.identities[source] == self.identities[target]),
        }
        if "mask" in target_item:
            item["target_mask"] = torch.from_numpy(np.ascontiguousarray(target_item["mask"]))[None].float()
        return item
