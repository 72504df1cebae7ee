"""A ready-to-use swapper: the student, its identity network and their preprocessing, in one file.

Written by ``mfs convert-paddle`` (the released weights) and at the end of ``mfs-train``;
read with ``weights_only=True``. The file records the student's architecture switches (any
Table 2 variant loads) and the identity network as it was given: the settings of an
``IRSEResNet`` with its state dict, or the ONNX file's bytes.
"""

from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from mobilefaceswap.files import write_atomic
from mobilefaceswap.models.identity import IdentityEncoder, IRSEResNet
from mobilefaceswap.models.identity_onnx import onnx_identity_from_bytes
from mobilefaceswap.models.pretrained import WeightsError, check_finite, state_dict_mismatch
from mobilefaceswap.models.student import BakedMobileFaceSwap, MobileFaceSwap
from mobilefaceswap.models.swapper_format import FORMAT, READABLE_FORMATS


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
    crop_size: int,
    template: str = "arcface",
    origin: str = "",
    identity_arch: dict | None = None,
    identity_onnx: bytes | None = None,
) -> Path:
    """``identity_arch``: the ``IRSEResNet`` settings of ``identity.backbone``; or ``identity_onnx``:
    the ONNX file it was converted from."""
    if (identity_arch is None) == (identity_onnx is None):
        raise ValueError("save_swapper needs exactly one of identity_arch and identity_onnx")
    if identity_arch is not None:
        network = {"arch": dict(identity_arch), "state_dict": identity.backbone.state_dict()}
    else:
        network = {"onnx": torch.frombuffer(bytearray(identity_onnx), dtype=torch.uint8)}
    bundle = {
        "format": FORMAT,
        "origin": origin,
        "crop_size": crop_size,
        "template": template,
        "student": student.state_dict(),
        "student_arch": dict(student.arch),
        "identity": {
            **network,
            "preprocess": {
                "input_size": identity.input_size,
                "mean": identity.mean.flatten().tolist(),
                "std": identity.std.flatten().tolist(),
                "interpolation": identity.interpolation,
                "crop_box": list(identity.crop_box) if identity.crop_box is not None else None,
            },
        },
    }
    return write_atomic(path, lambda tmp: torch.save(bundle, tmp))


def _load_strictly(module: nn.Module, state: dict, what: str) -> None:
    if problem := state_dict_mismatch(module.state_dict(), state):
        raise WeightsError(f"{what}: {problem}")
    module.load_state_dict(state)


def load_swapper(path: str | Path) -> Swapper:
    """Any failure is one WeightsError line naming the file."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise WeightsError(f"swapper checkpoint not found: {path}")
    try:
        bundle = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:
        raise WeightsError(f"cannot read {path} as a swapper checkpoint ({type(err).__name__})") from None
    if not isinstance(bundle, dict) or bundle.get("format") not in READABLE_FORMATS:
        found = bundle.get("format") if isinstance(bundle, dict) else None
        raise WeightsError(
            f"{path} is not a swapper file this version reads (format {found!r}; expected {FORMAT}, "
            "written by `mfs convert-paddle` or at the end of `mfs-train`)"
        )
    try:
        return _build_swapper(bundle, path)
    except WeightsError:
        raise
    except Exception as err:  # a damaged or hand-edited bundle: still one line
        raise WeightsError(f"{path}: damaged swapper file ({type(err).__name__}: {str(err).splitlines()[0][:200]})") from None


def _build_swapper(bundle: dict, path: Path) -> Swapper:
    arch = bundle.get("student_arch", {})
    try:
        student = MobileFaceSwap(**arch)
    except (TypeError, ValueError) as err:
        raise WeightsError(f"{path}: this version cannot build its student {arch} ({err})") from None
    sizes = ("encoder_channels", "decoder_out_channels", "mask_channels", "id_dim")
    described = ", ".join(f"{k}={v}" for k, v in arch.items() if k not in sizes)
    hint = "" if "student_arch" in bundle else " (a format-1 file: it records no architecture, so the default student is assumed)"
    _load_strictly(student, bundle["student"], f"{path}: its student does not fit MobileFaceSwap({described}){hint}")
    check_finite(student.state_dict(), f"{path}: its student")
    identity = bundle["identity"]
    if "onnx" in identity:
        backbone: nn.Module = onnx_identity_from_bytes(identity["onnx"].numpy().tobytes(), f"{path}: its identity network")
    else:
        backbone = IRSEResNet(**identity["arch"])
        _load_strictly(
            backbone, identity["state_dict"], f"{path}: its identity network does not fit IRSEResNet({identity['arch']})"
        )
    check_finite(backbone.state_dict(), f"{path}: its identity network")
    encoder = IdentityEncoder(backbone, **identity["preprocess"])
    return Swapper(student.eval(), encoder.eval(), bundle["crop_size"], bundle["template"])
