"""Build the frozen helpers of distillation from their config groups.

Each group has ``net`` (the network whose state dict the weights file holds),
``pretrained`` (a local path, or null for a random network of the same architecture)
and ``expected`` (what file belongs there, for the error message).
"""

from hydra.utils import instantiate
from omegaconf import DictConfig
from torch import nn

from mobilefaceswap.models.identity import IdentityEncoder
from mobilefaceswap.models.parsing import FaceParser
from mobilefaceswap.models.pretrained import freeze, load_pretrained


def load_network(cfg: DictConfig, group: str) -> nn.Module:
    net = instantiate(cfg.net)
    ignore = getattr(net, "checkpoint_ignore", ())
    return load_pretrained(net, cfg.pretrained, f"{group}.pretrained", cfg.expected, ignore)


def build_teacher(cfg: DictConfig) -> nn.Module:
    return freeze(load_network(cfg, "teacher"))


def build_identity(cfg: DictConfig) -> IdentityEncoder:
    return freeze(IdentityEncoder(load_network(cfg, "identity"), input_size=cfg.input_size))


def build_perceptual(cfg: DictConfig) -> nn.Module:
    return freeze(load_network(cfg, "perceptual"))


def build_parser(cfg: DictConfig) -> FaceParser:
    return freeze(FaceParser(load_network(cfg, "parser"), input_size=cfg.input_size))


def build_quality(cfg: DictConfig) -> nn.Module | None:
    """None when no quality regressor is configured: Q = 1 in the reweighting."""
    return None if cfg.net is None else freeze(load_network(cfg, "quality"))
