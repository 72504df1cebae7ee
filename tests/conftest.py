"""Fixtures shared by the tests: tiny swapper files, the aligned embedded faces, composed configs,
a FaceForensics++-shaped tree."""

import json
import os
from pathlib import Path

# Under pytest-xdist each worker (and every process it starts) gets its share of the cores:
# set before torch is imported, so workers do not oversubscribe the machine.
if "PYTEST_XDIST_WORKER_COUNT" in os.environ:
    share = (os.cpu_count() or 1) // int(os.environ["PYTEST_XDIST_WORKER_COUNT"])
    os.environ.setdefault("OMP_NUM_THREADS", str(max(1, share)))

import pytest
import torch
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, open_dict

from mobilefaceswap.config import CONFIG_DIR  # as mfs-train does: registers the config's ${mfs.*:} resolvers
from mobilefaceswap.data.embedded import bundled_people, prepare_embedded_faces
from mobilefaceswap.data.sample_clip import make_sample_clip
from mobilefaceswap.models import MobileFaceSwap
from mobilefaceswap.models.identity import IdentityEncoder, IRSEResNet
from mobilefaceswap.models.swapper import save_swapper

from helpers import FFPP_PAIRS, TINY_IDENTITY


@pytest.fixture(scope="session")
def tiny_swapper(tmp_path_factory) -> Path:
    """A random swapper file with a tiny identity network, whose mask covers the face (swaps are visible)."""
    torch.manual_seed(0)
    student = MobileFaceSwap()
    with torch.no_grad():
        student.fusion.layers[5].bias.fill_(3.0)
    identity = IdentityEncoder(IRSEResNet(**TINY_IDENTITY))
    path = tmp_path_factory.mktemp("swapper") / "swapper.pt"
    save_swapper(path, student.eval(), identity.eval(), crop_size=224, identity_arch=TINY_IDENTITY)
    return path


@pytest.fixture(scope="session")
def face_cache(tmp_path_factory) -> Path:
    """The embedded faces, detected and aligned once for the whole session."""
    cache = tmp_path_factory.mktemp("face_cache")
    for size in (224, 256):
        prepare_embedded_faces(cache, size)
    return cache


@pytest.fixture
def compose_train(tmp_path, face_cache):
    """Compose conf/train.yaml as ``mfs-train`` would, with the Hydra runtime set."""

    def _compose(*overrides: str) -> DictConfig:
        GlobalHydra.instance().clear()
        with initialize_config_dir(CONFIG_DIR, version_base="1.3"):
            cfg = compose(
                "train",
                overrides=[f"paths.cache_dir={face_cache}", f"hydra.run.dir={tmp_path / 'run'}", *overrides],
                return_hydra_config=True,
            )
        with open_dict(cfg):
            cfg.hydra.runtime.output_dir = str(tmp_path / "run")
        HydraConfig.instance().set_config(cfg)
        return cfg

    yield _compose
    GlobalHydra.instance().clear()


@pytest.fixture(scope="session")
def ffpp(tmp_path_factory) -> Path:
    """A FaceForensics++-shaped tree: three people's clips, the FaceSwap subset, a test split."""
    root = tmp_path_factory.mktemp("ffpp")
    originals = root / "original_sequences/youtube/c23/videos"
    faceswap = root / "manipulated_sequences/FaceSwap/c23/videos"
    originals.mkdir(parents=True)
    faceswap.mkdir(parents=True)
    people = bundled_people()
    for i, person in enumerate(people):
        make_sample_clip(originals / f"{i:03d}.mp4", person, (480, 360), frames=12, audio=False)
    for name in FFPP_PAIRS:  # a perfect "swap": the source person in the target's clip
        make_sample_clip(faceswap / f"{name}.mp4", people[int(name.split("_")[1])], (480, 360), frames=12, audio=False)
    (root / "splits").mkdir()
    (root / "splits/test.json").write_text(json.dumps([["000", "001"]]))
    return root
