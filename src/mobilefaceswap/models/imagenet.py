"""ImageNet's channel statistics, the input normalisation of the torchvision-family networks here
(VGG19, ResNet-18, BiSeNet's ResNet, Hopenet) and of the IR-SE identity networks."""

from torchvision.transforms import Normalize

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def imagenet_normalize() -> Normalize:
    """(B, 3, H, W) in [0, 1] -> normalised with ImageNet's mean and std."""
    return Normalize(IMAGENET_MEAN, IMAGENET_STD)
