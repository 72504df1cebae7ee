"""Quality regressor Q: ResNet-18 scoring a generated face in [0, 1] (paper section on reweighting)."""

import torch
from torch import nn
from torchvision.models import resnet18

from mobilefaceswap.models.imagenet import imagenet_normalize


class QualityRegressor(nn.Module):
    """Image in [0, 1] -> quality score (B,) in [0, 1]."""

    def __init__(self):
        super().__init__()
        self.backbone = resnet18(weights=None, num_classes=1)
        self.normalize = imagenet_normalize()

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.backbone(self.normalize(image))[:, 0])
