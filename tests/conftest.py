import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, open_dict

from mobilefaceswap.data.detection import DlibFaceDetector
from mobilefaceswap.data.embedded import bundled_photos, prepare_embedded_faces
from mobilefaceswap.inference.sample_clip import make_sample_clip
from mobilefaceswap.models import MobileFaceSwap
from mobilefaceswap.models.identity import IdentityEncoder, IRSEResNet
from mobilefaceswap.models.swapper import save_swapper
from mobilefaceswap.train import CONFIG_DIR

REPO = Path(__file__).resolve().parents[1]
TINY_IDENTITY = {"layers": [1, 1, 1, 1], "channels": [16, 32, 64, 512], "use_se": True}


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


def run_mfs_train(*overrides: str, cwd: Path, cache: Path, timeout: int = 600) -> subprocess.CompletedProcess:
    """Run the real ``mfs-train`` console script with tiny settings in a subprocess."""
    env = dict(os.environ, WANDB_MODE="offline", WANDB_DIR=str(cwd), WANDB_SILENT="true", PYTHONUNBUFFERED="1")
    command = [
        str(Path(sys.executable).parent / "mfs-train"),
        f"paths.cache_dir={cache}",
        "paths.runs_dir=runs",
        "logger=csv",
        "trainer.val_check_interval=2",
        "callbacks.checkpoint.every_n_train_steps=2",
        "callbacks.image_grid.every_n_steps=2",
        *overrides,
    ]
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


def last_checkpoint(run_dir: Path) -> dict:
    return torch.load(run_dir / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)


FFPP_PAIRS = ["000_001", "001_002", "002_000"]


def portraits() -> list[np.ndarray]:
    """Three people: the astronaut and the two largest faces of the group photo."""
    photos = bundled_photos()
    group = photos["insightface/t1.jpg"]
    people = [photos["skimage/astronaut"]]
    for face in DlibFaceDetector()(group)[:2]:
        left, top, right, bottom = face.box
        pad = right - left
        people.append(np.ascontiguousarray(group[max(top - pad, 0) : bottom + pad, max(left - pad, 0) : right + pad]))
    return people


@pytest.fixture(scope="session")
def ffpp(tmp_path_factory) -> Path:
    """A FaceForensics++-shaped tree: three people's clips, the FaceSwap subset, a test split."""
    root = tmp_path_factory.mktemp("ffpp")
    originals = root / "original_sequences/youtube/c23/videos"
    faceswap = root / "manipulated_sequences/FaceSwap/c23/videos"
    originals.mkdir(parents=True)
    faceswap.mkdir(parents=True)
    people = portraits()
    for i, person in enumerate(people):
        make_sample_clip(originals / f"{i:03d}.mp4", person, (480, 360), frames=12, audio=False)
    for name in FFPP_PAIRS:  # a perfect "swap": the source person in the target's clip
        make_sample_clip(faceswap / f"{name}.mp4", people[int(name.split("_")[1])], (480, 360), frames=12, audio=False)
    (root / "splits").mkdir()
    (root / "splits/test.json").write_text(json.dumps([["000", "001"]]))
    return root
