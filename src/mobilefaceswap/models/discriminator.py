"""Multi-scale PatchGAN discriminator (pix2pixHD's, as used by SimSwap)."""

import torch
import torch.nn.functional as F
from torch import nn


class PatchDiscriminator(nn.Module):
    """Image in [0, 1] -> patch logits; ``n_layers`` stride-2 4x4 convs, then two stride-1 ones."""

    def __init__(self, base_channels: int = 64, n_layers: int = 3):
        super().__init__()
        layers: list[nn.Module] = [nn.Conv2d(3, base_channels, 4, stride=2, padding=2), nn.LeakyReLU(0.2, True)]
        ch = base_channels
        for i in range(1, n_layers + 1):
            out = min(ch * 2, 512)
            stride = 2 if i < n_layers else 1
            layers += [nn.Conv2d(ch, out, 4, stride=stride, padding=2), nn.InstanceNorm2d(out), nn.LeakyReLU(0.2, True)]
            ch = out
        layers.append(nn.Conv2d(ch, 1, 4, padding=2))
        self.model = nn.Sequential(*layers)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.model(image * 2 - 1)


class MultiScaleDiscriminator(nn.Module):
    """``num_scales`` PatchGANs on the image downsampled by 1, 2, 4, ... -> list of logit maps."""

    def __init__(self, base_channels: int = 64, n_layers: int = 3, num_scales: int = 2):
        super().__init__()
        self.scales = nn.ModuleList(PatchDiscriminator(base_channels, n_layers) for _ in range(num_scales))

    def forward(self, image: torch.Tensor) -> list[torch.Tensor]:
        logits = []
        for i, disc in enumerate(self.scales):
            if i:
                image = F.avg_pool2d(image, 3, stride=2, padding=1, count_include_pad=False)
            logits.append(disc(image))
        return logits
