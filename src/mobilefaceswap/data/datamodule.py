"""Lightning DataModules of aligned source/target pairs."""

import csv
import logging
from pathlib import Path

import lightning as L
import numpy as np
from torch.utils.data import Dataset
from torchdata.stateful_dataloader import StatefulDataLoader

from mobilefaceswap.data.embedded import prepare_embedded_faces
from mobilefaceswap.data.errors import DataError
from mobilefaceswap.data.pairs import SOURCE_AUGMENTATIONS, FacePairDataset, light_augmentation
from mobilefaceswap.data.store import FaceSet, ShardedArray
from mobilefaceswap.data.teacher_cache import CachedPairDataset
from mobilefaceswap.data.vggface2 import prepare_config, prepare_vggface2

log = logging.getLogger(__name__)


class FacePairDataModule(L.LightningDataModule):
    """Pairs from a FaceSet; subclasses say where the faces come from and how they are split.

    Under DDP Lightning gives each process its own part of the pairs (DistributedSampler).
    The loaders are stateful: the position in the shuffled order goes into the checkpoint, so a
    resumed run continues with the very pairs an uninterrupted run would see.
    With ``teacher_cache`` the training pairs are those of ``mfs cache-teacher``, with the
    teacher's outputs.
    """

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
        teacher_cache: str | None = None,
        val_identities: int = 0,
        source_augmentation: str = "light",
    ):
        super().__init__()
        if source_augmentation not in SOURCE_AUGMENTATIONS:
            raise ValueError(f"data.source_augmentation={source_augmentation!r}: use {' or '.join(SOURCE_AUGMENTATIONS)}")
        if source_augmentation != "light" and teacher_cache:
            raise ValueError("data.source_augmentation: the teacher cache holds the teacher's outputs for unaugmented "
                             "sources; use light with data.teacher_cache")
        self.save_hyperparameters()
        self.train_set: Dataset | None = None
        self.val_set: FacePairDataset | None = None

    def load_faces(self) -> FaceSet:
        raise NotImplementedError

    def split(self, faces: FaceSet) -> tuple[FaceSet, FaceSet]:
        """Training and validation faces: with ``val_identities`` >= 2, that many identities are
        held out of training (chosen from the seed); with 0, the same faces in other pairs."""
        if not self.hparams.val_identities:
            return faces, faces
        return faces.split_by_identity(self.hparams.val_identities, self.hparams.seed)

    def fixed_train_pairs(self, count: int, seed_offset: int = 0) -> FacePairDataset:
        """The first ``count`` unaugmented training pairs (``seed_offset``: other pairs of the same faces)."""
        h = self.hparams
        return FacePairDataset(self.split(self.load_faces())[0], count, h.same_identity_ratio, h.seed + seed_offset)

    def setup(self, stage: str | None = None) -> None:
        if self.train_set is not None:
            return
        h = self.hparams
        train, val = self.split(self.load_faces())
        if h.teacher_cache:
            self.train_set = CachedPairDataset(train, h.teacher_cache, h.size, h.augment, h.seed)
        else:
            transform = light_augmentation() if h.augment else None
            source = SOURCE_AUGMENTATIONS[h.source_augmentation]() if h.augment else None
            self.train_set = FacePairDataset(train, h.train_pairs, h.same_identity_ratio, h.seed, transform, source)
        # Validation pairs are fixed and unaugmented, drawn with another seed.
        self.val_set = FacePairDataset(val, h.val_pairs, h.same_identity_ratio, h.seed + 1)

    def _loader(self, dataset: Dataset, shuffle: bool) -> StatefulDataLoader:
        h = self.hparams
        return StatefulDataLoader(
            dataset,
            batch_size=h.batch_size,
            shuffle=shuffle,
            drop_last=shuffle,
            num_workers=h.num_workers,
            persistent_workers=h.num_workers > 0,
        )

    def train_dataloader(self) -> StatefulDataLoader:
        return self._loader(self.train_set, shuffle=True)

    def val_dataloader(self) -> StatefulDataLoader:
        return self._loader(self.val_set, shuffle=False)


class EmbeddedFacesDataModule(FacePairDataModule):
    """The faces in the photos bundled with insightface and scikit-image (see ``data.embedded``),
    each its own identity."""

    def __init__(self, cache_dir: str = "~/.cache/mobilefaceswap", **kwargs):
        super().__init__(**kwargs)
        self.cache_dir = cache_dir

    def prepare_data(self) -> None:
        prepare_embedded_faces(self.cache_dir, self.hparams.size, self.hparams.template)

    def load_faces(self) -> FaceSet:
        with np.load(prepare_embedded_faces(self.cache_dir, self.hparams.size, self.hparams.template)) as data:
            return FaceSet(data["faces"], data["identities"])


class VGGFace2DataModule(FacePairDataModule):
    """A ``mfs prepare-data`` cache: memory-mapped shards, split by identity (``val_identities``
    held out, chosen from ``seed``); cached face-parsing masks are used when present.

    With ``root`` (VGGFace2's raw train folder) ``prepare_data`` makes the cache first, with the
    code of ``mfs prepare-data`` and its settings in ``prepare`` (``min_eye_distance``,
    ``shard_size``, ``landmarks``, ``landmark_csv``, ``insightface_root``, ``workers``):
    Lightning runs it on one process per node; a killed run resumes, a finished cache is reused.
    """

    def __init__(self, cache: str, root: str | None = None, prepare: dict | None = None, val_identities: int = 50, **kwargs):
        super().__init__(val_identities=val_identities, **kwargs)
        self.cache = Path(cache).expanduser()
        self.root = root
        self.prepare_settings = dict(prepare or {})

    def prepare_data(self) -> None:
        if self.root is None:
            return
        settings = dict(self.prepare_settings)
        landmark_csv, workers = settings.pop("landmark_csv", None), settings.pop("workers", 1)
        config = prepare_config(self.hparams.size, self.hparams.template, landmark_csv, **settings)
        prepare_vggface2(Path(self.root).expanduser(), self.cache, config, landmark_csv, workers)

    def load_faces(self) -> FaceSet:
        index = self.cache / "index.csv"
        if not index.is_file():
            raise DataError(f"data.cache: no prepared VGGFace2 at {self.cache} (run mfs prepare-data --output {self.cache})")
        with open(index, newline="") as f:
            names = [row["identity"] for row in csv.DictReader(f)]
        faces = ShardedArray(sorted((self.cache / "shards").glob("faces_*.npy")))
        if len(faces) != len(names):
            raise DataError(
                f"data.cache: {self.cache} is incomplete ({len(faces)} faces, {len(names)} index rows); rerun mfs prepare-data"
            )
        size = faces[0].shape[0]
        if size != self.hparams.size:
            raise DataError(f"data.cache: {self.cache} holds {size} px faces; this teacher needs {self.hparams.size} px")
        mask_files = sorted((self.cache / "shards").glob("masks_*.npy"))
        masks = ShardedArray(mask_files) if mask_files and len(mask_files) == len(faces.paths) else None
        log.info(
            "VGGFace2 cache %s: %d faces; masks %s",
            self.cache,
            len(names),
            "cached" if masks else "from the face parser on the fly",
        )
        return FaceSet(faces, np.unique(names, return_inverse=True)[1], masks)
