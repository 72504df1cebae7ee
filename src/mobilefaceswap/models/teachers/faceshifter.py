"""FaceShifter's AEI-Net (Li et al., 2019): the generator of its first stage, at 256x256.

A multi-level attribute encoder (a U-Net over the target) gives eight attribute maps; an
AAD generator grows the image from the source identity, each AAD ResBlk blending the
identity (channel-wise affine from z_id) and the attributes (spatial affine from the map)
through a learnt attention mask. No official weights exist: any state dict saved from this
module loads (its keys are ``encoder.*`` and ``generator.*``, listed by ``state_dict()``).
"""

import torch
import torch.nn.functional as F
from torch import nn

ENCODER_CHANNELS = (32, 64, 128, 256, 512, 1024, 1024)  # seven stride-2 convs: 256 -> 2


def _conv_down(in_channels: int, out_channels: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, 4, stride=2, padding=1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.LeakyReLU(0.1, True),
    )


def _deconv_up(in_channels: int, out_channels: int) -> nn.Sequential:
    return nn.Sequential(
        nn.ConvTranspose2d(in_channels, out_channels, 4, stride=2, padding=1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.LeakyReLU(0.1, True),
    )


class AttributeEncoder(nn.Module):
    """Target (B, 3, 256, 256) in [-1, 1] -> 8 attribute maps, from 2x2 to 256x256."""

    def __init__(self, channels: tuple[int, ...] = ENCODER_CHANNELS):
        super().__init__()
        ins = (3, *channels[:-1])
        self.down = nn.ModuleList(_conv_down(a, b) for a, b in zip(ins, channels))
        # Up i takes the previous map (concatenated with its skip, except the first) to the next skip's size.
        skips = list(reversed(channels[:-1]))  # 1024, 512, 256, 128, 64, 32
        ups, in_ch = [], channels[-1]
        for skip in skips:
            ups.append(_deconv_up(in_ch, skip))
            in_ch = 2 * skip
        self.up = nn.ModuleList(ups)
        self.attribute_channels = (channels[-1], *(2 * s for s in skips), 2 * skips[-1])

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        features = []
        for layer in self.down:
            x = layer(x)
            features.append(x)
        attributes = [x]  # z_att^1 at 2x2
        for layer, skip in zip(self.up, reversed(features[:-1])):
            x = torch.cat([layer(x), skip], dim=1)
            attributes.append(x)
        attributes.append(F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=True))
        return attributes


class AADLayer(nn.Module):
    """Adaptive attentional denormalisation: h -> (1 - M) * A + M * I."""

    def __init__(self, channels: int, attribute_channels: int, id_dim: int = 512):
        super().__init__()
        self.norm = nn.BatchNorm2d(channels, affine=False)
        self.attr_gamma = nn.Conv2d(attribute_channels, channels, 1)
        self.attr_beta = nn.Conv2d(attribute_channels, channels, 1)
        self.id_gamma = nn.Linear(id_dim, channels)
        self.id_beta = nn.Linear(id_dim, channels)
        self.attention = nn.Conv2d(channels, 1, 1)

    def forward(self, h: torch.Tensor, attributes: torch.Tensor, z_id: torch.Tensor) -> torch.Tensor:
        h = self.norm(h)
        a = self.attr_gamma(attributes) * h + self.attr_beta(attributes)
        i = self.id_gamma(z_id)[..., None, None] * h + self.id_beta(z_id)[..., None, None]
        mask = torch.sigmoid(self.attention(h))
        return (1 - mask) * a + mask * i


class AADResBlock(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, attribute_channels: int, id_dim: int = 512):
        super().__init__()
        self.aad1 = AADLayer(in_channels, attribute_channels, id_dim)
        self.conv1 = nn.Conv2d(in_channels, in_channels, 3, padding=1, bias=False)
        self.aad2 = AADLayer(in_channels, attribute_channels, id_dim)
        self.conv2 = nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False)
        self.shortcut_aad = self.shortcut_conv = None
        if in_channels != out_channels:
            self.shortcut_aad = AADLayer(in_channels, attribute_channels, id_dim)
            self.shortcut_conv = nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False)

    def forward(self, h: torch.Tensor, attributes: torch.Tensor, z_id: torch.Tensor) -> torch.Tensor:
        x = self.conv1(F.relu(self.aad1(h, attributes, z_id)))
        x = self.conv2(F.relu(self.aad2(x, attributes, z_id)))
        if self.shortcut_conv is not None:
            h = self.shortcut_conv(F.relu(self.shortcut_aad(h, attributes, z_id)))
        return x + h


class AADGenerator(nn.Module):
    """z_id -> 1024x2x2, then one AAD ResBlk per attribute level, upsampling between them."""

    def __init__(self, attribute_channels: tuple[int, ...], id_dim: int = 512, width: int = 1024):
        super().__init__()
        self.stem = nn.ConvTranspose2d(id_dim, width, 2)
        outs = (width, width, width, width // 2, width // 4, width // 8, width // 16, 3)
        ins = (width, *outs[:-1])
        self.blocks = nn.ModuleList(AADResBlock(a, b, c, id_dim) for a, b, c in zip(ins, outs, attribute_channels))

    def forward(self, attributes: list[torch.Tensor], z_id: torch.Tensor) -> torch.Tensor:
        h = self.stem(z_id[..., None, None])
        for i, (block, att) in enumerate(zip(self.blocks, attributes)):
            h = block(h, att, z_id)
            if i < len(self.blocks) - 1:
                h = F.interpolate(h, scale_factor=2, mode="bilinear", align_corners=True)
        return torch.tanh(h)


class FaceShifterGenerator(nn.Module):
    """AEI-Net. ``width_divisor`` > 1 keeps the structure with fewer channels (tests only)."""

    def __init__(self, id_dim: int = 512, width_divisor: int = 1):
        super().__init__()
        channels = tuple(c // width_divisor for c in ENCODER_CHANNELS)
        self.encoder = AttributeEncoder(channels)
        self.generator = AADGenerator(self.encoder.attribute_channels, id_dim, channels[-1])

    def forward(self, target: torch.Tensor, z_id: torch.Tensor) -> torch.Tensor:
        """target: (B, 3, 256, 256) in [0, 1]; z_id: (B, 512) -> swapped (B, 3, 256, 256) in [0, 1]."""
        attributes = self.encoder(target * 2 - 1)
        return (self.generator(attributes, z_id) + 1) / 2
