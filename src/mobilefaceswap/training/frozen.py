"""The frozen networks of distillation (teacher, identity, perceptual, face parser, quality),
built by Hydra from their config groups (``_target_`` one of the functions below, with
``_recursive_: false``) through one loader, :func:`load_network`.

Each group has ``net`` (the network whose state dict the weights file holds),
``pretrained`` (a local path, or null for a random network of the same architecture),
``expected`` (what file belongs there, for the error message) and optionally
``net_if_random`` (settings merged into ``net`` only while ``pretrained`` is null: the smoke
profile shrinks random helpers this way and never a helper given its real weights). ``key``
is where the group sits in the config, for messages.
"""

import logging
from collections.abc import Mapping
from functools import partial

import numpy as np
import torch
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf
from torch import nn

from mobilefaceswap.data.embedded import prepare_embedded_faces
from mobilefaceswap.data.pairs import to_tensor
from mobilefaceswap.models.face_parser import FaceParser
from mobilefaceswap.models.identity import IdentityEncoder
from mobilefaceswap.models.identity_onnx import load_onnx_identity
from mobilefaceswap.models.pretrained import WeightsError, freeze, load_pretrained
from mobilefaceswap.models.teachers import MobileFaceSwapTeacher, Teacher
from mobilefaceswap.models.teachers.mobilefaceswap import calibrate_batchnorm

log = logging.getLogger(__name__)

NetConfig = Mapping | None  # a network's Hydra node, handed over unbuilt (_recursive_: false)


def network_config(net: NetConfig, pretrained: str | None, net_if_random: NetConfig = None) -> DictConfig | None:
    """The architecture in force: ``net``, with ``net_if_random`` merged in when no weights are given."""
    if net is None or pretrained is not None or not net_if_random:
        return None if net is None else OmegaConf.create(net)
    return OmegaConf.merge(net, net_if_random)


def architecture(net_cfg: DictConfig) -> str:
    """``Class(setting=value, ...)`` of a network config, for messages."""
    settings = {k: v for k, v in OmegaConf.to_container(net_cfg, resolve=True).items() if k != "_target_"}
    return f"{net_cfg._target_.rsplit('.', 1)[-1]}({', '.join(f'{k}={v}' for k, v in settings.items())})"


def load_network(
    net: NetConfig,
    pretrained: str | None,
    expected: str,
    key: str,
    net_if_random: NetConfig = None,
    weights_flag: str | None = None,
) -> nn.Module:
    """The configured network with the weights of ``pretrained`` (an ONNX file brings its own graph);
    messages name the weights ``<key>.pretrained``, or ``weights_flag`` where they came from elsewhere."""
    flag = weights_flag or f"{key}.pretrained"
    if pretrained is not None and str(pretrained).endswith(".onnx"):
        return load_onnx_identity(pretrained, flag)
    net_cfg = network_config(net, pretrained, net_if_random)
    if net_cfg is None:
        raise WeightsError(f"{flag}: this network has no built-in architecture; set it to {expected}")
    module = instantiate(net_cfg)
    ignore = getattr(module, "checkpoint_ignore", ())
    return load_pretrained(module, pretrained, flag, expected, ignore, architecture(net_cfg), f"{key}.net")


def identity_network(
    net: NetConfig,
    pretrained: str | None,
    expected: str,
    input_size: int,
    mean: tuple[float, float, float],
    std: tuple[float, float, float],
    interpolation: str,
    crop_box: tuple[float, float, float, float] | None,
    net_if_random: NetConfig = None,
    key: str = "identity",
) -> IdentityEncoder:
    encoder = IdentityEncoder(
        load_network(net, pretrained, expected, key, net_if_random),
        input_size=input_size,
        mean=tuple(mean),
        std=tuple(std),
        interpolation=interpolation,
        crop_box=crop_box,
    )
    return freeze(encoder)


def teacher_network(
    net: NetConfig,
    pretrained: str | None,
    expected: str,
    alignment: Mapping | None = None,
    small: Mapping | None = None,
    identity: NetConfig = None,
    calibration: Mapping | None = None,
    net_if_random: NetConfig = None,
    key: str = "teacher",
    weights_flag: str | None = None,
) -> Teacher:
    """The generator, with its own identity network (``identity``) or, with ``identity: null``, the
    student's, handed over by :func:`share_identity`. ``small`` is this teacher's small form, which
    profile=smoke merges in as ``net_if_random``; ``alignment`` the crops it works on."""
    own_identity = None if identity is None else identity_network(**identity, key=f"{key}.identity")
    generator = load_network(net, pretrained, expected, key, net_if_random, weights_flag)
    teacher = freeze(Teacher(generator, own_identity))
    if isinstance(generator, MobileFaceSwapTeacher) and pretrained is None:
        teacher.calibration = partial(calibrate_on_bundled_faces, generator, alignment=alignment, **calibration)
        if own_identity is not None:
            share_identity(teacher, own_identity)
    return teacher


def share_identity(teacher: Teacher, identity: IdentityEncoder) -> Teacher:
    """A random MobileFaceSwap teacher sets its BatchNorm statistics with the identity network it
    reads the source with (the student's, when it has none of its own); other teachers are as built."""
    calibration = getattr(teacher, "calibration", None)
    if calibration is not None:
        calibration(teacher.identity or identity)
        teacher.calibration = None
    return teacher


@torch.no_grad()
def calibrate_on_bundled_faces(
    generator: MobileFaceSwapTeacher, identity: IdentityEncoder, alignment: Mapping, cache_dir: str, batch_size: int
) -> None:
    """BatchNorm statistics of a random MobileFaceSwap teacher from every (source, target) pair
    of the bundled faces, so that in eval mode its output depends on the source identity."""
    with np.load(prepare_embedded_faces(cache_dir, alignment["size"], alignment["template"])) as data:
        faces = torch.stack([to_tensor(face) for face in data["faces"]])
    features = identity(faces)
    pairs = torch.tensor([(s, t) for s in range(len(faces)) for t in range(len(faces)) if s != t])  # (P, 2): source, target
    batches = [(faces[p[:, 1]], features.z[p[:, 0]], features.map[p[:, 0]]) for p in pairs.split(batch_size)]
    calibrate_batchnorm(generator, batches)
    log.info(
        "random MobileFaceSwap teacher (seed %d): BatchNorm statistics from %d bundled face pairs", generator.seed, len(pairs)
    )


def perceptual_network(
    net: NetConfig, pretrained: str | None, expected: str, net_if_random: NetConfig = None, key: str = "perceptual"
) -> nn.Module:
    return freeze(load_network(net, pretrained, expected, key, net_if_random))


def face_parser_network(
    net: NetConfig,
    pretrained: str | None,
    expected: str,
    input_size: int,
    net_if_random: NetConfig = None,
    key: str = "face_parser",
) -> FaceParser:
    return freeze(FaceParser(load_network(net, pretrained, expected, key, net_if_random), input_size=input_size))


def quality_network(
    net: NetConfig, pretrained: str | None, expected: str, net_if_random: NetConfig = None, key: str = "quality"
) -> nn.Module | None:
    """None when no quality regressor is configured: Q = 1 in the reweighting."""
    return None if net is None else freeze(load_network(net, pretrained, expected, key, net_if_random))
