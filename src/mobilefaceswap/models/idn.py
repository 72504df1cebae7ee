"""Identity-aware Dynamic Network (IDN): the 0.4M-parameter U-Net that swaps each frame.

Every stage is a depthwise conv followed by a pointwise conv whose kernels come from the
IIN (no bias). The U-Net topology is written once, in :func:`run_idn`, and driven either
by per-sample dynamic kernels (training) or by the static convolutions of a baked model.
"""

from collections.abc import Callable, Sequence
from functools import partial

import torch
import torch.nn.functional as F
from torch import nn

from mobilefaceswap.models.dynamic_conv import per_sample_depthwise_conv, per_sample_pointwise_conv
from mobilefaceswap.models.iin import DECODER_OUT_CHANNELS, IdentityKernels

Stage = Callable[[torch.Tensor], torch.Tensor]

ENCODER_STRIDE, ENCODER_PADDING = 2, 1  # 4x4 predicted kernels halve the resolution
DECODER_PADDING = 1  # 3x3 predicted kernels keep it


def upsample2x(x: torch.Tensor) -> torch.Tensor:
    return F.interpolate(x, scale_factor=2.0, mode="bilinear", align_corners=True)


class OutputHead(nn.Sequential):
    """Static head: x2 up -> 1x1 conv C->C/4 -> BN -> LReLU -> 3x3 -> BN -> LReLU -> 3x3 -> tanh."""

    def __init__(self, in_channels: int = DECODER_OUT_CHANNELS[-1]):
        mid = in_channels // 4
        super().__init__(
            nn.Upsample(scale_factor=2.0, mode="bilinear", align_corners=True),
            nn.Conv2d(in_channels, mid, 1),
            nn.BatchNorm2d(mid),
            nn.LeakyReLU(0.1),
            nn.Conv2d(mid, 3, 3, padding=1),
            nn.BatchNorm2d(3),
            nn.LeakyReLU(0.1),
            nn.Conv2d(3, 3, 3, padding=1),
            nn.Tanh(),
        )


def adain(x: torch.Tensor, scale: torch.Tensor, shift: torch.Tensor) -> torch.Tensor:
    """AdaIN ablation: instance-normalise, then the identity's scale and shift. x: (B, C, H, W), scale/shift: (B, C)."""
    return F.instance_norm(x) * (1 + scale[..., None, None]) + shift[..., None, None]


def run_idn(
    target: torch.Tensor, encoder: Sequence[Stage], decoder: Sequence[Stage], head: nn.Module, skips: bool = True
) -> tuple[torch.Tensor, torch.Tensor]:
    """target: (B, 3, S, S) in [0, 1] -> swapped face (B, 3, S, S) in [0, 1], bottleneck (B, 512, S/32, S/32).

    ``skips=False`` is the AutoEncoder ablation: no encoder features join the decoder.
    """
    x = (target - 0.5) / 0.5
    features = []
    for stage in encoder:
        x = F.leaky_relu(stage(x), 0.1)
        features.append(x)
    bottleneck = x
    for i, stage in enumerate(decoder):
        x = F.leaky_relu(stage(upsample2x(x)), 0.1)
        if skips and i < len(decoder) - 1:
            x = torch.cat([x, features[-2 - i]], dim=1)  # encoder feature of the same resolution
    return (head(x) + 1) / 2, bottleneck


def _dynamic_stage(
    x: torch.Tensor,
    depthwise: torch.Tensor,
    pointwise: torch.Tensor,
    stride: int,
    padding: int,
    style: tuple[torch.Tensor, torch.Tensor] | None = None,
) -> torch.Tensor:
    y = per_sample_pointwise_conv(per_sample_depthwise_conv(x, depthwise, stride, padding), pointwise)
    return y if style is None else adain(y, *style)


def decoder_input_channels(
    encoder_channels: tuple[int, ...], decoder_out_channels: tuple[int, ...], skips: bool
) -> tuple[int, ...]:
    """Each decoder stage reads the previous stage's output, plus the encoder skip of its size."""
    ins = [encoder_channels[-1]]
    for i, out in enumerate(decoder_out_channels[:-1]):
        ins.append(out + (encoder_channels[-2 - i] if skips else 0))
    return tuple(ins)


class IdentityAwareDynamicNetwork(nn.Module):
    """The student generator. Its only own weights are the static output head."""

    def __init__(self, decoder_out_channels: tuple[int, ...] = DECODER_OUT_CHANNELS, skips: bool = True):
        super().__init__()
        self.skips = skips
        self.head = OutputHead(decoder_out_channels[-1])

    def forward(self, target: torch.Tensor, kernels: IdentityKernels) -> tuple[torch.Tensor, torch.Tensor]:
        """target: (B, 3, S, S) in [0, 1], one identity per sample in ``kernels``."""
        encoder_styles = kernels.encoder_adain or [None] * len(kernels.encoder_pointwise)
        decoder_styles = kernels.decoder_adain or [None] * len(kernels.decoder_pointwise)
        encoder = [
            partial(_dynamic_stage, depthwise=d, pointwise=p, stride=ENCODER_STRIDE, padding=ENCODER_PADDING, style=s)
            for d, p, s in zip(kernels.encoder_depthwise, kernels.encoder_pointwise, encoder_styles)
        ]
        decoder = [
            partial(_dynamic_stage, depthwise=d, pointwise=p, stride=1, padding=DECODER_PADDING, style=s)
            for d, p, s in zip(kernels.decoder_depthwise, kernels.decoder_pointwise, decoder_styles)
        ]
        return run_idn(target, encoder, decoder, self.head, self.skips)
