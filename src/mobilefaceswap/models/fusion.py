"""Weakly semantic fusion: a static mask head on the IDN bottleneck that keeps the background."""

import torch
from torch import nn

MASK_CHANNELS = (512, 128, 64, 32, 8, 2)


def _mask_block(in_channels: int, out_channels: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Upsample(scale_factor=2.0, mode="bilinear", align_corners=True),
        nn.Conv2d(in_channels, in_channels, 3, padding=1, groups=in_channels),
        nn.Conv2d(in_channels, out_channels, 1),
        nn.BatchNorm2d(out_channels),
        nn.LeakyReLU(0.1),
    )


class WeakSemanticFusion(nn.Module):
    """Bottleneck (B, 512, S/32, S/32) -> face mask M_g (B, 1, S, S) in [0, 1]."""

    def __init__(self, channels: tuple[int, ...] = MASK_CHANNELS):
        super().__init__()
        blocks = [_mask_block(a, b) for a, b in zip(channels[:-1], channels[1:])]
        self.layers = nn.Sequential(*blocks, nn.Conv2d(channels[-1], 1, 3, padding=1), nn.Sigmoid())

    def forward(self, bottleneck: torch.Tensor) -> torch.Tensor:
        return self.layers(bottleneck)


def fuse(swapped: torch.Tensor, mask: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """I_g = M_g * out + (1 - M_g) * I_t."""
    return mask * swapped + (1 - mask) * target
