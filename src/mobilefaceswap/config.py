"""The Hydra configs (conf/) composed outside ``mfs-train``, for the ``mfs`` tools that need a
teacher, a parser or the data exactly as a training run would build them."""

from pathlib import Path

from hydra import compose, initialize_config_dir
from omegaconf import DictConfig

CONFIG_DIR = str(Path(__file__).resolve().parents[2] / "conf")


def compose_config(overrides: list[str], name: str = "train") -> DictConfig:
    """``conf/<name>.yaml`` with Hydra overrides such as ``teacher=faceshifter profile=paper``."""
    with initialize_config_dir(CONFIG_DIR, version_base="1.3"):
        return compose(name, overrides=list(overrides))
