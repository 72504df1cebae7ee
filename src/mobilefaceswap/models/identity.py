"""Identity networks: an IR-SE ResNet (ArcFace family) returning z_id and the 512x7x7 map.

Module names follow SimSwap's ``models/arcface_models.py`` (the class of its
``arcface_checkpoint.tar``) so its weights and the released MobileFaceSwap identity
network load without renaming. Layers [3, 4, 23, 3] is the 52.19M network of the paper.
"""

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from mobilefaceswap.models.imagenet import IMAGENET_MEAN, IMAGENET_STD


@dataclass
class IdentityFeatures:
    z: torch.Tensor  # (B, 512), L2-normalised embedding z_id
    map: torch.Tensor  # (B, 512, 7, 7), F_id: last stage after the final BN


class SEBlock(nn.Module):
    def __init__(self, channels: int, reduction: int = 16):
        super().__init__()
        self.avg_pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Sequential(
            nn.Linear(channels, channels // reduction),
            nn.PReLU(),
            nn.Linear(channels // reduction, channels),
            nn.Sigmoid(),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c = x.shape[:2]
        return x * self.fc(self.avg_pool(x).view(b, c)).view(b, c, 1, 1)


class IRBlock(nn.Module):
    """Improved residual block: BN -> 3x3 -> BN -> PReLU -> 3x3 (stride) -> BN -> SE, plus shortcut."""

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1, use_se: bool = True):
        super().__init__()
        self.bn0 = nn.BatchNorm2d(in_channels)
        self.conv1 = nn.Conv2d(in_channels, in_channels, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(in_channels)
        self.prelu = nn.PReLU()
        self.conv2 = nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.downsample = None
        if stride != 1 or in_channels != out_channels:
            self.downsample = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False), nn.BatchNorm2d(out_channels)
            )
        self.se = SEBlock(out_channels) if use_se else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.bn2(self.conv2(self.prelu(self.bn1(self.conv1(self.bn0(x))))))
        if self.se is not None:
            out = self.se(out)
        shortcut = x if self.downsample is None else self.downsample(x)
        return self.prelu(out + shortcut)


class IRSEResNet(nn.Module):
    """112x112 normalised face -> (unnormalised embedding (B, 512), feature map (B, C4, 7, 7)).

    ``layers`` (3, 4, 14, 3) is the 50-layer network, (3, 13, 30, 3) the 100-layer one;
    ``use_se=False`` gives the plain IR ResNet. The stem has no padding, as in the released
    networks (112 -> 110 -> 55 -> 28 -> 14 -> 7).
    """

    def __init__(
        self,
        layers: tuple[int, ...] = (3, 4, 23, 3),
        channels: tuple[int, ...] = (64, 128, 256, 512),
        embedding_dim: int = 512,
        use_se: bool = True,
    ):
        super().__init__()
        self.conv1 = nn.Conv2d(3, channels[0], 3, bias=False)
        self.bn1 = nn.BatchNorm2d(channels[0])
        self.prelu = nn.PReLU()
        self.maxpool = nn.MaxPool2d(2, 2)
        stages = []
        in_ch = channels[0]
        for i, (depth, out_ch) in enumerate(zip(layers, channels)):
            stride = 1 if i == 0 else 2
            blocks = [IRBlock(in_ch, out_ch, stride, use_se)]
            blocks += [IRBlock(out_ch, out_ch, 1, use_se) for _ in range(depth - 1)]
            stages.append(nn.Sequential(*blocks))
            in_ch = out_ch
        self.layer1, self.layer2, self.layer3, self.layer4 = stages
        self.bn2 = nn.BatchNorm2d(in_ch)
        self.dropout = nn.Dropout()
        self.fc = nn.Linear(in_ch * 7 * 7, embedding_dim)
        self.bn3 = nn.BatchNorm1d(embedding_dim)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.maxpool(self.prelu(self.bn1(self.conv1(x))))  # (B, C0, 55, 55)
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))  # (B, C4, 7, 7)
        feature_map = self.bn2(x)
        embedding = self.bn3(self.fc(self.dropout(feature_map).flatten(1)))
        return embedding, feature_map


class IdentityEncoder(nn.Module):
    """Aligned face in [0, 1] at any size -> IdentityFeatures, with the network's own preprocessing.

    ``backbone`` maps a normalised (B, 3, input_size, input_size) crop to (embedding, map).
    ``crop_box`` (x0, y0, x1, y1, fractions of the face) is cut before resizing; SimSwap and
    the released MobileFaceSwap resize the whole crop (``None``).
    """

    def __init__(
        self,
        backbone: nn.Module,
        input_size: int = 112,
        mean: tuple[float, ...] = IMAGENET_MEAN,
        std: tuple[float, ...] = IMAGENET_STD,
        interpolation: str = "bilinear",
        crop_box: tuple[float, float, float, float] | None = None,
    ):
        super().__init__()
        if interpolation not in ("bilinear", "nearest", "area"):
            raise ValueError(f"interpolation={interpolation!r}: use bilinear, nearest or area")
        self.backbone = backbone
        self.input_size = input_size
        self.interpolation = interpolation
        self.crop_box = tuple(crop_box) if crop_box is not None else None
        self.register_buffer("mean", torch.tensor(mean).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(std).view(1, 3, 1, 1), persistent=False)

    def preprocess(self, image: torch.Tensor) -> torch.Tensor:
        if self.crop_box is not None:
            h, w = image.shape[2:]
            x0, y0, x1, y1 = self.crop_box
            image = image[:, :, round(y0 * h) : round(y1 * h), round(x0 * w) : round(x1 * w)]
        size = (self.input_size,) * 2
        align = False if self.interpolation == "bilinear" else None
        x = F.interpolate(image, size=size, mode=self.interpolation, align_corners=align)
        return (x - self.mean) / self.std

    def forward(self, image: torch.Tensor) -> IdentityFeatures:
        embedding, feature_map = self.backbone(self.preprocess(image))
        return IdentityFeatures(z=F.normalize(embedding, dim=1), map=feature_map)
