"""Source/target pairs of aligned faces for distillation."""

import albumentations as A
import numpy as np
import torch
from torch.utils.data import Dataset


def light_augmentation() -> A.Compose:
    """Flips and small colour changes: they keep the alignment the teacher expects."""
    return A.Compose(
        [
            A.HorizontalFlip(p=0.5),
            A.RandomBrightnessContrast(brightness_limit=0.1, contrast_limit=0.1, p=0.5),
            A.HueSaturationValue(hue_shift_limit=5, sat_shift_limit=10, val_shift_limit=5, p=0.3),
        ]
    )


def to_tensor(image: np.ndarray) -> torch.Tensor:
    """(S, S, 3) uint8 -> (3, S, S) float in [0, 1]."""
    return torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1).float().div(255)


class FacePairDataset(Dataset):
    """Item i is a (source, target) pair drawn reproducibly from ``seed`` and i.

    With probability ``same_identity_ratio`` the source shares the target's identity.
    """

    def __init__(
        self,
        faces: np.ndarray,
        identities: np.ndarray,
        num_pairs: int,
        same_identity_ratio: float = 0.2,
        seed: int = 0,
        transform: A.Compose | None = None,
    ):
        if len(faces) != len(identities):
            raise ValueError(f"{len(faces)} faces but {len(identities)} identity labels")
        if len(np.unique(identities)) < 2:
            raise ValueError("pairs need at least two identities")
        self.faces = faces
        self.identities = np.asarray(identities)
        self.num_pairs = num_pairs
        self.same_identity_ratio = same_identity_ratio
        self.seed = seed
        self.transform = transform

    def __len__(self) -> int:
        return self.num_pairs

    def pair_indices(self, index: int) -> tuple[int, int]:
        rng = np.random.default_rng([self.seed, index])
        target = int(rng.integers(len(self.faces)))
        same = self.identities == self.identities[target]
        pool = np.flatnonzero(same if rng.random() < self.same_identity_ratio else ~same)
        return int(rng.choice(pool)), target

    def _load(self, index: int) -> torch.Tensor:
        image = self.faces[index]
        if self.transform is not None:
            image = self.transform(image=image)["image"]
        return to_tensor(image)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        source, target = self.pair_indices(index)
        return {
            "source": self._load(source),
            "target": self._load(target),
            "same_identity": torch.tensor(self.identities[source] == self.identities[target]),
        }
