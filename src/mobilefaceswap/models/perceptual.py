"""VGG19 feature extractor for the perceptual loss L_per (torchvision's architecture)."""

import torch
from torch import nn
from torchvision.models.vgg import cfgs, make_layers

from mobilefaceswap.models.imagenet import imagenet_normalize

# Indices of torchvision vgg19().features whose outputs feed L_per (relu1_1 ... relu5_1).
VGG19_LAYERS = {"relu1_1": 1, "relu2_1": 6, "relu3_1": 11, "relu4_1": 20, "relu5_1": 29}


class VGGFeatures(nn.Module):
    """Image in [0, 1] -> list of VGG19 activations. Keys match torchvision's ``features.*``.

    ``width_divisor`` > 1 keeps the layer structure with fewer channels (tests only).
    """

    checkpoint_ignore = ("classifier.",)  # a whole torchvision vgg19 state dict loads too

    def __init__(self, layers: tuple[str, ...] = tuple(VGG19_LAYERS), width_divisor: int = 1):
        super().__init__()
        cfg = [v if v == "M" else max(v // width_divisor, 1) for v in cfgs["E"]]
        self.indices = sorted(VGG19_LAYERS[name] for name in layers)
        self.features = make_layers(cfg)
        self.normalize = imagenet_normalize()

    def forward(self, image: torch.Tensor) -> list[torch.Tensor]:
        x = self.normalize(image)
        out = []
        for i, layer in enumerate(self.features):
            x = layer(x)
            if i in self.indices:
                out.append(x)
                if len(out) == len(self.indices):
                    return out
        return out
