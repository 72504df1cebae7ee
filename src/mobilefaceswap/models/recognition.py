"""Face-recognition networks that score identity (CosFace in the paper), from their usual files.

- an ONNX file (e.g. insightface's ``w600k_r50.onnx``, or a CosFace exported to ONNX);
- a state dict of insightface's ``arcface_torch`` IResNet (``conv1.weight``, ``layer1.0.bn1.*``,
  ``fc.weight``, ``features.*``), in which its ArcFace and CosFace models are released;
- a state dict of the IR-SE / IR ResNet with SimSwap's key names (``layer1.0.bn0.*``, ``bn3.*``).

Depths, widths and the SE blocks are read from the keys, so IR 18/34/50/100/200 all load.
"""

import re
from pathlib import Path

import torch
from torch import nn

from mobilefaceswap.models.identity import IRSEResNet
from mobilefaceswap.models.identity_onnx import load_onnx_identity
from mobilefaceswap.models.pretrained import WeightsError, load_state, read_state_dict

EXPECTED = "a CosFace/ArcFace network: an .onnx file, an arcface_torch IResNet state dict or an IR-SE state dict"


class IBasicBlock(nn.Module):
    """arcface_torch's block: BN -> 3x3 -> BN -> PReLU -> 3x3 (stride) -> BN, plus shortcut."""

    def __init__(self, in_channels: int, out_channels: int, stride: int):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(in_channels, eps=1e-5)
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels, eps=1e-5)
        self.prelu = nn.PReLU(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, stride=stride, padding=1, bias=False)
        self.bn3 = nn.BatchNorm2d(out_channels, eps=1e-5)
        self.downsample = None
        if stride != 1 or in_channels != out_channels:
            self.downsample = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False), nn.BatchNorm2d(out_channels, eps=1e-5)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.bn3(self.conv2(self.prelu(self.bn2(self.conv1(self.bn1(x))))))
        return out + (x if self.downsample is None else self.downsample(x))


class IResNet(nn.Module):
    """insightface arcface_torch's IResNet: 112x112 face in [-1, 1] -> (embedding, 7x7 map).

    ``layers`` (2, 2, 2, 2) is r18, (3, 4, 14, 3) r50, (3, 13, 30, 3) r100. The stem keeps 112;
    each stage halves (56, 28, 14, 7).
    """

    def __init__(self, layers: tuple[int, ...], channels: tuple[int, ...] = (64, 128, 256, 512), embedding_dim: int = 512):
        super().__init__()
        self.conv1 = nn.Conv2d(3, channels[0], 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels[0], eps=1e-5)
        self.prelu = nn.PReLU(channels[0])
        stages, in_ch = [], channels[0]
        for depth, out_ch in zip(layers, channels):
            stages.append(
                nn.Sequential(IBasicBlock(in_ch, out_ch, 2), *(IBasicBlock(out_ch, out_ch, 1) for _ in range(depth - 1)))
            )
            in_ch = out_ch
        self.layer1, self.layer2, self.layer3, self.layer4 = stages
        self.bn2 = nn.BatchNorm2d(in_ch, eps=1e-5)
        self.dropout = nn.Dropout(0.0)
        self.fc = nn.Linear(in_ch * 7 * 7, embedding_dim)
        self.features = nn.BatchNorm1d(embedding_dim, eps=1e-5)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.prelu(self.bn1(self.conv1(x)))
        feature_map = self.bn2(self.layer4(self.layer3(self.layer2(self.layer1(x)))))
        return self.features(self.fc(self.dropout(feature_map).flatten(1))), feature_map


def _stages(state: dict[str, torch.Tensor]) -> tuple[list[int], list[int]]:
    """Blocks per stage and each stage's width, read from ``layer<i>.<j>.conv2.weight``."""
    depths, widths = [], []
    for i in range(1, 5):
        blocks = {int(m.group(1)) for k in state if (m := re.match(rf"layer{i}\.(\d+)\.", k))}
        if not blocks or f"layer{i}.0.conv2.weight" not in state:
            raise WeightsError(f"no layer{i} blocks")
        depths.append(max(blocks) + 1)
        widths.append(state[f"layer{i}.0.conv2.weight"].shape[0])
    return depths, widths


def recognition_network(state: dict[str, torch.Tensor]) -> nn.Module:
    """An empty network of the architecture and key names of ``state``."""
    depths, widths = _stages(state)
    if "features.weight" in state:  # arcface_torch
        return IResNet(depths, widths, state["features.weight"].shape[0])
    if "bn3.weight" in state:  # SimSwap's names
        return IRSEResNet(depths, widths, state["bn3.weight"].shape[0], use_se=any(".se." in k for k in state))
    raise WeightsError("neither arcface_torch's (features.*) nor SimSwap's (bn3.*) key names")


def load_recognition_network(path: str | Path, config_key: str) -> nn.Module:
    """Any of the files above -> module ``x -> (embedding, feature map)``; one clear error otherwise."""
    if str(path).endswith(".onnx"):
        return load_onnx_identity(path, config_key)
    state = read_state_dict(path, config_key, EXPECTED)
    try:
        net = recognition_network(state)
    except WeightsError as err:
        raise WeightsError(
            f"{config_key}: {path} is not a face-recognition network I know ({err}); expected {EXPECTED}"
        ) from None
    return load_state(net, state, path, config_key, EXPECTED)
