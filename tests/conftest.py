import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, open_dict

from mobilefaceswap.data.embedded import prepare_embedded_faces
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
    save_swapper(path, student.eval(), identity.eval(), TINY_IDENTITY, crop_size=224)
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
