"""Build the frozen networks of distillation (teacher, identity, perceptual, face parser, quality) from their config groups.

Each group has ``net`` (the network whose state dict the weights file holds),
``pretrained`` (a local path, or null for a random network of the same architecture),
``expected`` (what file belongs there, for the error message) and optionally
``net_if_random`` (settings merged into ``net`` only while ``pretrained`` is null: the smoke
profile shrinks random helpers this way and never a helper given its real weights).
"""

import logging

import numpy as np
import torch
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf
from torch import nn

from mobilefaceswap.models.face_parser import FaceParser
from mobilefaceswap.models.identity import IdentityEncoder
from mobilefaceswap.models.identity_onnx import load_onnx_identity
from mobilefaceswap.models.pretrained import WeightsError, freeze, load_pretrained
from mobilefaceswap.models.teachers import MobileFaceSwapTeacher, Teacher
from mobilefaceswap.models.teachers.mobilefaceswap import calibrate_batchnorm

log = logging.getLogger(__name__)


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


def load_network(cfg: DictConfig, key: str, weights_flag: str | None = None) -> nn.Module:
    """The configured network with the weights of ``cfg.pretrained`` (an ONNX file brings its own graph);
    messages name the weights ``<key>.pretrained``, or ``weights_flag`` where they came from elsewhere."""
    flag = weights_flag or f"{key}.pretrained"
    if cfg.pretrained is not None and str(cfg.pretrained).endswith(".onnx"):
        return load_onnx_identity(cfg.pretrained, flag)
    net_cfg = network_config(cfg)
    if net_cfg is None:
        raise WeightsError(f"{flag}: this network has no built-in architecture; set it to {cfg.expected}")
    net = instantiate(net_cfg)
    ignore = getattr(net, "checkpoint_ignore", ())
    return load_pretrained(net, cfg.pretrained, flag, cfg.expected, ignore, architecture(net_cfg), f"{key}.net")


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


def build_teacher(cfg: DictConfig, shared_identity: IdentityEncoder | None = None, weights_flag: str | None = None) -> Teacher:
    """The generator, and its own identity network unless it shares the student's
    (``shared_identity``, which a random MobileFaceSwap teacher needs for its calibration)."""
    identity = None if cfg.identity is None else build_identity(cfg.identity, "teacher.identity")
    generator = load_network(cfg, "teacher", weights_flag)
    if isinstance(generator, MobileFaceSwapTeacher) and cfg.pretrained is None:
        calibrate_on_bundled_faces(generator, identity or shared_identity, cfg)
    return freeze(Teacher(generator, identity))


@torch.no_grad()
def calibrate_on_bundled_faces(generator: MobileFaceSwapTeacher, identity: IdentityEncoder | None, cfg: DictConfig) -> None:
    """BatchNorm statistics of a random MobileFaceSwap teacher from every (source, target) pair
    of the bundled faces, so that in eval mode its output depends on the source identity."""
    from mobilefaceswap.data.embedded import prepare_embedded_faces
    from mobilefaceswap.data.pairs import to_tensor

    if identity is None:
        raise ValueError("a random MobileFaceSwap teacher needs the identity network to calibrate with")
    with np.load(prepare_embedded_faces(cfg.calibration.cache_dir, cfg.alignment.size, cfg.alignment.template)) as data:
        faces = torch.stack([to_tensor(face) for face in data["faces"]])
    features = identity(faces)
    pairs = torch.tensor([(s, t) for s in range(len(faces)) for t in range(len(faces)) if s != t])  # (P, 2): source, target
    batches = [(faces[p[:, 1]], features.z[p[:, 0]], features.map[p[:, 0]]) for p in pairs.split(cfg.calibration.batch_size)]
    calibrate_batchnorm(generator, batches)
    log.info("random MobileFaceSwap teacher (seed %d): BatchNorm statistics from %d bundled face pairs", cfg.net.seed, len(pairs))


def build_perceptual(cfg: DictConfig) -> nn.Module:
    return freeze(load_network(cfg, "perceptual"))


def build_face_parser(cfg: DictConfig) -> FaceParser:
    return freeze(FaceParser(load_network(cfg, "face_parser"), input_size=cfg.input_size))


def build_quality(cfg: DictConfig) -> nn.Module | None:
    """None when no quality regressor is configured: Q = 1 in the reweighting."""
    return None if cfg.net is None else freeze(load_network(cfg, "quality"))
