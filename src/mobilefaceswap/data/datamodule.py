"""Lightning DataModules of aligned source/target pairs."""

import lightning as L
import numpy as np
from torch.utils.data import DataLoader

from mobilefaceswap.data.embedded import prepare_embedded_faces
from mobilefaceswap.data.pairs import FacePairDataset, light_augmentation


class FacePairDataModule(L.LightningDataModule):
    """Pairs from an array of aligned faces; subclasses say where the faces come from."""

    def __init__(
        self,
        size: int = 224,
        template: str = "arcface",
        batch_size: int = 4,
        num_workers: int = 0,
        same_identity_ratio: float = 0.2,
        train_pairs: int = 1000,
        val_pairs: int = 8,
        augment: bool = True,
        seed: int = 0,
    ):
        super().__init__()
        self.save_hyperparameters()
        self.train_set: FacePairDataset | None = None
        self.val_set: FacePairDataset | None = None

    def load_faces(self) -> tuple[np.ndarray, np.ndarray]:
        """-> faces (N, S, S, 3) uint8 RGB, identities (N,)."""
        raise NotImplementedError

    def setup(self, stage: str | None = None) -> None:
        if self.train_set is not None:
            return
        h = self.hparams
        faces, identities = self.load_faces()
        transform = light_augmentation() if h.augment else None
        self.train_set = FacePairDataset(faces, identities, h.train_pairs, h.same_identity_ratio, h.seed, transform)
        # Validation pairs are fixed and unaugmented, drawn with another seed.
        self.val_set = FacePairDataset(faces, identities, h.val_pairs, h.same_identity_ratio, h.seed + 1)

    def _loader(self, dataset: FacePairDataset, shuffle: bool) -> DataLoader:
        h = self.hparams
        return DataLoader(
            dataset,
            batch_size=h.batch_size,
            shuffle=shuffle,
            drop_last=shuffle,
            num_workers=h.num_workers,
            persistent_workers=h.num_workers > 0,
        )

    def train_dataloader(self) -> DataLoader:
        return self._loader(self.train_set, shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader(self.val_set, shuffle=False)


class EmbeddedFacesDataModule(FacePairDataModule):
    """The faces in the photos bundled with insightface and scikit-image (see ``data.embedded``)."""

    def __init__(self, cache_dir: str = "~/.cache/mobilefaceswap", **kwargs):
        super().__init__(**kwargs)
        self.cache_dir = cache_dir

    def prepare_data(self) -> None:
        prepare_embedded_faces(self.cache_dir, self.hparams.size, self.hparams.template)

    def load_faces(self) -> tuple[np.ndarray, np.ndarray]:
        with np.load(prepare_embedded_faces(self.cache_dir, self.hparams.size, self.hparams.template)) as data:
            return data["faces"], data["identities"]
