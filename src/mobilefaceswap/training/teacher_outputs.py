"""The configured teacher run on fixed training pairs of the configured data, before training:
the teacher cache (``mfs cache-teacher``) and Q's training set (``mfs build-quality-set``).

Here, above ``data/``, because the teacher and the identity network are built from their
config groups (``training/frozen.py``); ``data/`` only stores what they compute.
"""

from pathlib import Path

import numpy as np
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from mobilefaceswap.data.pairs import FacePairDataset
from mobilefaceswap.data.quality_set import build_quality_set, find_checkpoints
from mobilefaceswap.data.teacher_cache import build_teacher_cache, teacher_outputs
from mobilefaceswap.training.fitting import build
from mobilefaceswap.training.frozen import share_identity


def fixed_training_pairs(data_cfg: DictConfig, count: int, seed_offset: int = 0) -> FacePairDataset:
    """The first ``count`` unaugmented training pairs of the configured data (no teacher cache)."""
    datamodule = instantiate(data_cfg, teacher_cache=None)
    datamodule.prepare_data()
    return datamodule.fixed_train_pairs(count, seed_offset)


def cache_teacher(cfg: DictConfig, out: str | Path, count: int, shard_size: int = 1000, batch_size: int = 16,
                  device: str = "cpu", progress: bool = True) -> Path:
    """``mfs cache-teacher``: the configured teacher's outputs for the first ``count`` training pairs
    of the configured data, as a run of that config would compute them."""
    pairs = fixed_training_pairs(cfg.data, count)
    identity = build(cfg.identity)
    teacher, identity = share_identity(build(cfg.teacher), identity).to(device), identity.to(device)
    info = {
        "teacher": cfg.teacher.net._target_,
        "teacher_weights": cfg.teacher.pretrained,
        "identity_weights": cfg.identity.pretrained,
    }
    return build_teacher_cache(pairs, teacher, identity, out, count, info, shard_size, batch_size, progress=progress)


def build_teacher_quality_set(cfg: DictConfig, checkpoints: list[str], out: str | Path, count: int = 1000,
                              total_iterations: int | None = None, batch_size: int = 16, device: str = "cpu",
                              progress: bool = True) -> Path:
    """``mfs build-quality-set``: the configured teacher, with the weights of each checkpoint (files
    or folders of them), swapping ``count`` fixed training pairs of the configured data."""
    found = find_checkpoints(checkpoints)
    pairs = fixed_training_pairs(cfg.data, count, seed_offset=2)  # not the pairs the student trains on first
    indices = np.array([pairs.pair_indices(i) for i in range(count)], np.int64)
    identity = build(cfg.identity).to(device)

    def generate(path: Path) -> np.ndarray:
        teacher_cfg = OmegaConf.merge(cfg.teacher, {"pretrained": str(path)})
        teacher = build(teacher_cfg, weights_flag="--checkpoints").to(device)
        return teacher_outputs(teacher, identity, pairs.faces, indices, batch_size)

    return build_quality_set(found, generate, out, total_iterations, progress=progress)
