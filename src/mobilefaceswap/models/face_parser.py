"""BiSeNet face parser (the architecture of face-parsing.PyTorch, 19 CelebAMask-HQ labels).

Gives the target's face mask M_t for L_mask. Module names follow that project's
``79999_iter.pth``; the ResNet-18 context backbone is torchvision's.
"""

import torch
import torch.nn.functional as F
from torch import nn
from torchvision.models import resnet18

from mobilefaceswap.models.imagenet import imagenet_normalize

# CelebAMask-HQ labels: 0 background, 1 skin, 2-3 brows, 4-5 eyes, 6 glasses, 7-8 ears,
# 9 earring, 10 nose, 11 mouth, 12-13 lips, 14 neck, 15 necklace, 16 cloth, 17 hair, 18 hat.
FACE_LABELS = (1, 2, 3, 4, 5, 6, 10, 11, 12, 13)  # all others merge into the background


class ConvBNReLU(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 3, padding: int = 1):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size, padding=padding, bias=False)
        self.bn = nn.BatchNorm2d(out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.bn(self.conv(x)))


class AttentionRefinement(nn.Module):
    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.conv = ConvBNReLU(in_channels, out_channels)
        self.conv_atten = nn.Conv2d(out_channels, out_channels, 1, bias=False)
        self.bn_atten = nn.BatchNorm2d(out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feat = self.conv(x)
        return feat * torch.sigmoid(self.bn_atten(self.conv_atten(feat.mean(dim=(2, 3), keepdim=True))))


class ContextPath(nn.Module):
    def __init__(self):
        super().__init__()
        self.resnet = resnet18(weights=None)
        del self.resnet.fc
        self.arm16 = AttentionRefinement(256, 128)
        self.arm32 = AttentionRefinement(512, 128)
        self.conv_head32 = ConvBNReLU(128, 128)
        self.conv_head16 = ConvBNReLU(128, 128)
        self.conv_avg = ConvBNReLU(512, 128, 1, 0)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        r = self.resnet
        x = r.maxpool(r.relu(r.bn1(r.conv1(x))))
        feat8 = r.layer2(r.layer1(x))
        feat16 = r.layer3(feat8)
        feat32 = r.layer4(feat16)
        avg = self.conv_avg(feat32.mean(dim=(2, 3), keepdim=True))
        up32 = F.interpolate(self.arm32(feat32) + avg, size=feat16.shape[2:], mode="nearest")
        up32 = self.conv_head32(up32)
        up16 = F.interpolate(self.arm16(feat16) + up32, size=feat8.shape[2:], mode="nearest")
        return feat8, self.conv_head16(up16)


class FeatureFusion(nn.Module):
    def __init__(self, in_channels: int = 256, out_channels: int = 256):
        super().__init__()
        self.convblk = ConvBNReLU(in_channels, out_channels, 1, 0)
        self.conv1 = nn.Conv2d(out_channels, out_channels // 4, 1, bias=False)
        self.conv2 = nn.Conv2d(out_channels // 4, out_channels, 1, bias=False)

    def forward(self, spatial: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        feat = self.convblk(torch.cat([spatial, context], dim=1))
        atten = torch.sigmoid(self.conv2(F.relu(self.conv1(feat.mean(dim=(2, 3), keepdim=True)))))
        return feat * atten + feat


class SegmentationHead(nn.Module):
    def __init__(self, in_channels: int, mid_channels: int, n_classes: int):
        super().__init__()
        self.conv = ConvBNReLU(in_channels, mid_channels)
        self.conv_out = nn.Conv2d(mid_channels, n_classes, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv_out(self.conv(x))


class BiSeNet(nn.Module):
    """Image normalised with ImageNet statistics -> per-pixel logits (B, n_classes, H, W)."""

    checkpoint_ignore = ("conv_out16.", "conv_out32.")  # auxiliary training heads

    def __init__(self, n_classes: int = 19):
        super().__init__()
        self.cp = ContextPath()
        self.ffm = FeatureFusion(256, 256)
        self.conv_out = SegmentationHead(256, 256, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        spatial, context = self.cp(x)
        logits = self.conv_out(self.ffm(spatial, context))
        return F.interpolate(logits, size=x.shape[2:], mode="bilinear", align_corners=True)


class FaceParser(nn.Module):
    """Aligned face in [0, 1] -> M_t (B, 1, S, S): 1 on face labels, 0 on merged background."""

    def __init__(self, net: BiSeNet, input_size: int = 512, face_labels: tuple[int, ...] = FACE_LABELS):
        super().__init__()
        self.net = net
        self.input_size = input_size
        self.register_buffer("face_labels", torch.tensor(face_labels), persistent=False)
        self.normalize = imagenet_normalize()

    @torch.no_grad()
    def forward(self, image: torch.Tensor) -> torch.Tensor:
        size = image.shape[2:]
        x = F.interpolate(image, size=(self.input_size,) * 2, mode="bilinear", align_corners=False)
        labels = self.net(self.normalize(x)).argmax(dim=1, keepdim=True)
        mask = torch.isin(labels, self.face_labels).float()
        return F.interpolate(mask, size=size, mode="nearest")
