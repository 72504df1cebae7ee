"""A ready-to-use swapper: the student, its identity network and their preprocessing, in one file.

Written by ``mfs convert-paddle`` (the released weights); read with ``weights_only=True``.
"""

from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from mobilefaceswap.models.identity import IdentityEncoder, IRSEResNet
from mobilefaceswap.models.pretrained import WeightsError
from mobilefaceswap.models.student import BakedMobileFaceSwap, MobileFaceSwap
from mobilefaceswap.utils import write_atomic

FORMAT = "mobilefaceswap-swapper/1"


@dataclass
class Swapper:
    student: MobileFaceSwap
    identity: IdentityEncoder
    crop_size: int  # aligned crop the student expects, ArcFace template scaled to this size
    template: str

    @torch.no_grad()
    def bake(self, source: torch.Tensor) -> BakedMobileFaceSwap:
        """source: (1, 3, S, S) aligned face in [0, 1] -> the static per-frame network."""
        features = self.identity(source)
        return self.student.bake(features.z, features.map).eval()

    @torch.no_grad()
    def swap_aligned(self, source: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Aligned source (1, 3, S, S) and targets (B, 3, S, S) in [0, 1] -> swapped, mask."""
        return self.bake(source)(target)


def save_swapper(
    path: str | Path,
    student: MobileFaceSwap,
    identity: IdentityEncoder,
    identity_arch: dict,
    crop_size: int,
    template: str = "arcface",
    origin: str = "",
) -> Path:
    bundle = {
        "format": FORMAT,
        "origin": origin,
        "crop_size": crop_size,
        "template": template,
        "student": student.state_dict(),
        "identity": {
            "arch": dict(identity_arch),
            "preprocess": {
                "input_size": identity.input_size,
                "mean": identity.mean.flatten().tolist(),
                "std": identity.std.flatten().tolist(),
                "interpolation": identity.interpolation,
                "crop_box": list(identity.crop_box) if identity.crop_box is not None else None,
            },
            "state_dict": identity.backbone.state_dict(),
        },
    }
    return write_atomic(path, lambda tmp: torch.save(bundle, tmp))


def load_swapper(path: str | Path) -> Swapper:
    path = Path(path).expanduser()
    if not path.is_file():
        raise WeightsError(f"swapper checkpoint not found: {path}")
    try:
        bundle = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:
        raise WeightsError(f"cannot read {path} as a swapper checkpoint ({type(err).__name__})") from None
    if not isinstance(bundle, dict) or bundle.get("format") != FORMAT:
        raise WeightsError(f"{path} is not a {FORMAT} file (write one with `mfs convert-paddle`)")
    student = MobileFaceSwap()
    student.load_state_dict(bundle["student"])
    identity = bundle["identity"]
    backbone: nn.Module = IRSEResNet(**identity["arch"])
    backbone.load_state_dict(identity["state_dict"])
    encoder = IdentityEncoder(backbone, **identity["preprocess"])
    return Swapper(student.eval(), encoder.eval(), bundle["crop_size"], bundle["template"])
