"""SimSwap's generator (``Generator_Adain_Upsample``), with the official state-dict names.

Encoder (7x7 conv, stride-2 convs) -> n AdaIN residual blocks driven by the source
identity -> bilinear up-convs -> 7x7 conv -> tanh, mapped to [0, 1]. Input is the aligned
target in [0, 1] and the L2-normalised identity embedding of the source. ``base_channels``
and ``n_blocks`` shrink it for tests; the official models are 64 and 9.
"""

import torch
from torch import nn


class InstanceNorm(nn.Module):
    """Parameter-free instance normalisation: zero mean, unit RMS per channel."""

    def __init__(self, eps: float = 1e-8):
        super().__init__()
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x - x.mean(dim=(2, 3), keepdim=True)
        return x * torch.rsqrt(x.pow(2).mean(dim=(2, 3), keepdim=True) + self.eps)


class ApplyStyle(nn.Module):
    """AdaIN affine from the identity: x * (1 + gamma) + beta."""

    def __init__(self, latent_size: int, channels: int):
        super().__init__()
        self.linear = nn.Linear(latent_size, channels * 2)

    def forward(self, x: torch.Tensor, latent: torch.Tensor) -> torch.Tensor:
        gamma, beta = self.linear(latent).view(-1, 2, x.shape[1], 1, 1).unbind(1)
        return x * (gamma + 1) + beta


class ResnetBlockAdain(nn.Module):
    def __init__(self, channels: int, latent_size: int):
        super().__init__()
        self.conv1 = nn.Sequential(nn.ReflectionPad2d(1), nn.Conv2d(channels, channels, 3), InstanceNorm())
        self.style1 = ApplyStyle(latent_size, channels)
        self.act1 = nn.ReLU(True)
        self.conv2 = nn.Sequential(nn.ReflectionPad2d(1), nn.Conv2d(channels, channels, 3), InstanceNorm())
        self.style2 = ApplyStyle(latent_size, channels)

    def forward(self, x: torch.Tensor, latent: torch.Tensor) -> torch.Tensor:
        y = self.act1(self.style1(self.conv1(x), latent))
        return x + self.style2(self.conv2(y), latent)


def _down(in_channels: int, out_channels: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, 3, stride=2, padding=1), nn.BatchNorm2d(out_channels), nn.ReLU(True)
    )


def _up(in_channels: int, out_channels: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Upsample(scale_factor=2, mode="bilinear"),
        nn.Conv2d(in_channels, out_channels, 3, padding=1),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(True),
    )


class SimSwapGenerator(nn.Module):
    """``crop_size=224``: the official 224 model (widths 64..512, downs 1-3).
    ``crop_size=512``: the 512 model (a 32-channel first stage, downs 0-4, bottleneck at 1/32).
    """

    def __init__(self, base_channels: int = 64, n_blocks: int = 9, latent_size: int = 512, crop_size: int = 224):
        super().__init__()
        if crop_size not in (224, 512):
            raise ValueError(f"SimSwap generators exist for crop_size 224 and 512, not {crop_size}")
        c = base_channels
        # (name index, in, out) of each stride-2 stage; the ups mirror them.
        stages = [(1, c, 2 * c), (2, 2 * c, 4 * c), (3, 4 * c, 8 * c)]
        first = c
        if crop_size == 512:
            first = c // 2
            stages = [(0, c // 2, c), *stages, (4, 8 * c, 8 * c)]
        self.stage_names = [i for i, _, _ in stages]
        self.first_layer = nn.Sequential(nn.ReflectionPad2d(3), nn.Conv2d(3, first, 7), nn.BatchNorm2d(first), nn.ReLU(True))
        for i, a, b in stages:
            setattr(self, f"down{i}", _down(a, b))
        self.BottleNeck = nn.ModuleList(ResnetBlockAdain(8 * c, latent_size) for _ in range(n_blocks))
        for i, a, b in reversed(stages):
            setattr(self, f"up{i}", _up(b, a))
        self.last_layer = nn.Sequential(nn.ReflectionPad2d(3), nn.Conv2d(first, 3, 7), nn.Tanh())

    def forward(self, target: torch.Tensor, z_id: torch.Tensor) -> torch.Tensor:
        """target: (B, 3, S, S) in [0, 1]; z_id: (B, 512) -> swapped (B, 3, S, S) in [0, 1]."""
        x = self.first_layer(target)
        for i in self.stage_names:
            x = getattr(self, f"down{i}")(x)
        for block in self.BottleNeck:
            x = block(x, z_id)
        for i in reversed(self.stage_names):
            x = getattr(self, f"up{i}")(x)
        return (self.last_layer(x) + 1) / 2
