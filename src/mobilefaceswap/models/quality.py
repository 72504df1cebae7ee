"""Quality regressor Q: ResNet-18 scoring a generated face in [0, 1] (paper section on reweighting)."""

import torch
from torch import nn
from torchvision.models import resnet18

from mobilefaceswap.models.identity import IMAGENET_MEAN, IMAGENET_STD


class QualityRegressor(nn.Module):
    """Image in [0, 1] -> quality score (B,) in [0, 1]."""

    def __init__(self):
        super().__init__()
        self.backbone = resnet18(weights=None, num_classes=1)
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.backbone((image - self.mean) / self.std)[:, 0])
