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
from mobilefaceswap.models.iin import DECODER_IN_CHANNELS, DECODER_OUT_CHANNELS, ENCODER_CHANNELS, IdentityKernels

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


def run_idn(
    target: torch.Tensor, encoder: Sequence[Stage], decoder: Sequence[Stage], head: nn.Module
) -> tuple[torch.Tensor, torch.Tensor]:
    """target: (B, 3, S, S) in [0, 1] -> swapped face (B, 3, S, S) in [0, 1], bottleneck (B, 512, S/32, S/32)."""
    x = (target - 0.5) / 0.5
    skips = []
    for stage in encoder:
        x = F.leaky_relu(stage(x), 0.1)
        skips.append(x)
    bottleneck = x
    for i, stage in enumerate(decoder):
        x = F.leaky_relu(stage(upsample2x(x)), 0.1)
        if i < len(decoder) - 1:
            x = torch.cat([x, skips[-2 - i]], dim=1)  # encoder feature of the same resolution
    return (head(x) + 1) / 2, bottleneck


def _dynamic_stage(
    x: torch.Tensor, depthwise: torch.Tensor, pointwise: torch.Tensor, stride: int, padding: int
) -> torch.Tensor:
    return per_sample_pointwise_conv(per_sample_depthwise_conv(x, depthwise, stride, padding), pointwise)


class IdentityAwareDynamicNetwork(nn.Module):
    """The student generator. Its only own weights are the static output head."""

    def __init__(
        self,
        encoder_channels: tuple[int, ...] = ENCODER_CHANNELS,
        decoder_in_channels: tuple[int, ...] = DECODER_IN_CHANNELS,
        decoder_out_channels: tuple[int, ...] = DECODER_OUT_CHANNELS,
    ):
        super().__init__()
        self.encoder_channels = tuple(encoder_channels)
        self.decoder_in_channels = tuple(decoder_in_channels)
        self.decoder_out_channels = tuple(decoder_out_channels)
        self.head = OutputHead(decoder_out_channels[-1])

    def forward(self, target: torch.Tensor, kernels: IdentityKernels) -> tuple[torch.Tensor, torch.Tensor]:
        """target: (B, 3, S, S) in [0, 1], one identity per sample in ``kernels``."""
        encoder = [
            partial(_dynamic_stage, depthwise=d, pointwise=p, stride=ENCODER_STRIDE, padding=ENCODER_PADDING)
            for d, p in zip(kernels.encoder_depthwise, kernels.encoder_pointwise)
        ]
        decoder = [
            partial(_dynamic_stage, depthwise=d, pointwise=p, stride=1, padding=DECODER_PADDING)
            for d, p in zip(kernels.decoder_depthwise, kernels.decoder_pointwise)
        ]
        return run_idn(target, encoder, decoder, self.head)
