"""The Hydra configs (conf/) composed outside ``mfs-train``, for the ``mfs`` tools that need a
teacher, a parser or the data exactly as a training run would build them."""

from pathlib import Path

from hydra import compose, initialize_config_dir
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf

CONFIG_DIR = str(Path(__file__).resolve().parent / "conf")


def sweep_group() -> str | None:
    """``${mfs.sweep_group:}``: the sweep folder in a multirun (the wandb group of its runs), else null."""
    hydra = HydraConfig.get()
    return str(hydra.sweep.dir) if hydra.mode == RunMode.MULTIRUN else None


OmegaConf.register_new_resolver("mfs.sweep_group", sweep_group, replace=True)


def compose_config(overrides: list[str], name: str = "train") -> DictConfig:
    """``conf/<name>.yaml`` with Hydra overrides such as ``teacher=faceshifter profile=paper``."""
    with initialize_config_dir(CONFIG_DIR, version_base="1.3"):
        return compose(name, overrides=list(overrides))
