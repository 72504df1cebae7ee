"""Build the frozen helpers of distillation from their config groups.

Each group has ``net`` (the network whose state dict the weights file holds),
``pretrained`` (a local path, or null for a random network of the same architecture),
``expected`` (what file belongs there, for the error message) and optionally
``net_if_random`` (settings merged into ``net`` only while ``pretrained`` is null: the smoke
profile shrinks random helpers this way and never a helper given its real weights).
"""

from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf
from torch import nn

from mobilefaceswap.models.identity import IdentityEncoder
from mobilefaceswap.models.identity_onnx import load_onnx_identity
from mobilefaceswap.models.parsing import FaceParser
from mobilefaceswap.models.pretrained import WeightsError, freeze, load_pretrained
from mobilefaceswap.models.teachers import Teacher


def network_config(cfg: DictConfig) -> DictConfig | None:
    """The architecture in force: ``cfg.net``, with ``cfg.net_if_random`` when no weights are given."""
    shrink = cfg.get("net_if_random")
    if cfg.net is None or cfg.pretrained is not None or not shrink:
        return cfg.net
    return OmegaConf.merge(cfg.net, shrink)


def architecture(net_cfg: DictConfig) -> str:
    """``Class(setting=value, ...)`` of a network config, for messages."""
    settings = {k: v for k, v in OmegaConf.to_container(net_cfg, resolve=True).items() if k != "_target_"}
    return f"{net_cfg._target_.rsplit('.', 1)[-1]}({', '.join(f'{k}={v}' for k, v in settings.items())})"


def load_network(cfg: DictConfig, key: str) -> nn.Module:
    """The configured network with the weights of ``cfg.pretrained`` (an ONNX file brings its own graph)."""
    if cfg.pretrained is not None and str(cfg.pretrained).endswith(".onnx"):
        return load_onnx_identity(cfg.pretrained, f"{key}.pretrained")
    net_cfg = network_config(cfg)
    if net_cfg is None:
        raise WeightsError(f"{key}.pretrained: this network has no built-in architecture; set it to {cfg.expected}")
    net = instantiate(net_cfg)
    ignore = getattr(net, "checkpoint_ignore", ())
    return load_pretrained(net, cfg.pretrained, f"{key}.pretrained", cfg.expected, ignore, architecture(net_cfg))


def build_identity(cfg: DictConfig, key: str = "identity") -> IdentityEncoder:
    encoder = IdentityEncoder(
        load_network(cfg, key),
        input_size=cfg.input_size,
        mean=tuple(cfg.mean),
        std=tuple(cfg.std),
        interpolation=cfg.interpolation,
        crop_box=cfg.crop_box,
    )
    return freeze(encoder)


def build_teacher(cfg: DictConfig) -> Teacher:
    """The generator, and its own identity network unless it shares the student's."""
    identity = None if cfg.identity is None else build_identity(cfg.identity, "teacher.identity")
    return freeze(Teacher(load_network(cfg, "teacher"), identity))


def build_perceptual(cfg: DictConfig) -> nn.Module:
    return freeze(load_network(cfg, "perceptual"))


def build_parser(cfg: DictConfig) -> FaceParser:
    return freeze(FaceParser(load_network(cfg, "parser"), input_size=cfg.input_size))


def build_quality(cfg: DictConfig) -> nn.Module | None:
    """None when no quality regressor is configured: Q = 1 in the reweighting."""
    return None if cfg.net is None else freeze(load_network(cfg, "quality"))
