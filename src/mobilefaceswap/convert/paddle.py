"""The released MobileFaceSwap PaddlePaddle weights -> our PyTorch modules, without paddle.

A ``.pdparams`` file is a pickle of a dict: parameter name -> numpy array, or -> (paddle
name, numpy array) in Paddle >= 2.1. It is read with an unpickler that builds numpy arrays
and nothing else. Names differ from ours in three ways: BatchNorm statistics are
``_mean``/``_variance``, PReLU weights are ``_weight``, Linear weights are [in, out].
"""

import codecs
import collections
import pickle
import re
from pathlib import Path

import numpy as np
import torch
from torch import nn

from mobilefaceswap.files import refuse_overwrite, write_atomic
from mobilefaceswap.models.identity import IdentityEncoder, IRSEResNet
from mobilefaceswap.models.imagenet import IMAGENET_MEAN, IMAGENET_STD
from mobilefaceswap.models.pretrained import WeightsError, state_dict_mismatch
from mobilefaceswap.models.student import MobileFaceSwap
from mobilefaceswap.models.swapper import save_swapper

RELEASED_IDENTITY_ARCH = {"layers": [3, 4, 23, 3], "channels": [64, 128, 256, 512], "use_se": True}

# (Paddle prefix, our prefix) for BuildFaceSwap; the rest of each name is shared.
SWAP_PREFIXES = (
    ("EncoderModulation.", "iin.encoder_pointwise."),
    ("DecoderModulation.", "iin.decoder_pointwise."),
    ("predictor.", "iin.predictor."),
    ("final.", "idn.head."),
    ("mask.", "fusion.layers."),
)
SUFFIXES = (("._mean", ".running_mean"), ("._variance", ".running_var"), ("._weight", ".weight"))

_PICKLE_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "scalar"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("builtins", "tuple"),
    ("collections", "OrderedDict"),
    ("_codecs", "encode"),  # protocol 2 stores array bytes as latin-1 text
}


class NumpyOnlyUnpickler(pickle.Unpickler):
    """Builds dicts, tuples and numpy arrays; refuses every other global."""

    def find_class(self, module: str, name: str):
        if (module, name) not in _PICKLE_GLOBALS:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name}")
        if module.endswith("multiarray"):  # numpy 1 pickles say numpy.core, numpy 2 says numpy._core
            return getattr(np._core.multiarray, name)
        return {
            "ndarray": np.ndarray,
            "dtype": np.dtype,
            "tuple": tuple,
            "OrderedDict": collections.OrderedDict,
            "encode": codecs.encode,
        }[name]


def read_pdparams(path: str | Path, what: str) -> dict[str, np.ndarray]:
    path = Path(path).expanduser()
    if not path.is_file():
        raise WeightsError(f"{what}: file not found: {path}")
    try:
        with open(path, "rb") as f:
            raw = NumpyOnlyUnpickler(f).load()
    except Exception as err:
        raise WeightsError(f"{what}: cannot read {path} as a Paddle .pdparams file ({type(err).__name__}: {err})") from None
    if not isinstance(raw, dict):
        raise WeightsError(f"{what}: {path} holds no parameter dict")
    arrays = {}
    for key, value in raw.items():
        if isinstance(value, tuple) and len(value) == 2 and isinstance(value[1], np.ndarray):
            value = value[1]  # (paddle parameter name, array)
        if isinstance(value, np.ndarray):
            arrays[key] = value
    return arrays


def _weights_of(module: nn.Module, kind: type) -> set[str]:
    return {f"{n}.weight" for n, m in module.named_modules() if isinstance(m, kind)}


def _rename(key: str, prefixes: tuple[tuple[str, str], ...]) -> str:
    for paddle, ours in prefixes:
        if key.startswith(paddle):
            key = ours + key[len(paddle) :]
            break
    for paddle, ours in SUFFIXES:
        if key.endswith(paddle):
            key = key[: -len(paddle)] + ours
    return key


def paddle_to_torch(
    arrays: dict[str, np.ndarray], module: nn.Module, prefixes: tuple = (), what: str = ""
) -> dict[str, torch.Tensor]:
    """Rename, transpose Linear weights, and check every key and shape against ``module``."""
    own = module.state_dict()
    linear_weights = _weights_of(module, nn.Linear)
    state = {}
    for key, array in arrays.items():
        name = _rename(key, prefixes)
        tensor = torch.from_numpy(np.ascontiguousarray(array.T if name in linear_weights else array)).float()
        state[name] = tensor
    for name, value in own.items():
        if name.endswith("num_batches_tracked"):
            state.setdefault(name, torch.zeros_like(value))
    if problem := state_dict_mismatch(own, state):
        raise WeightsError(f"{what}: not the released architecture: {problem}")
    return state


def torch_to_paddle(state: dict[str, torch.Tensor], module: nn.Module, prefixes: tuple = ()) -> dict[str, np.ndarray]:
    """The inverse mapping: our state dict under the official Paddle names (for tests and export)."""
    linear_weights, prelu_weights = _weights_of(module, nn.Linear), _weights_of(module, nn.PReLU)
    reverse = tuple((ours, paddle) for paddle, ours in prefixes)
    arrays = {}
    for name, tensor in state.items():
        if name.endswith("num_batches_tracked"):
            continue
        key = name
        for ours, paddle in reverse:
            if key.startswith(ours):
                key = paddle + key[len(ours) :]
                break
        key = re.sub(r"\.running_mean$", "._mean", key)
        key = re.sub(r"\.running_var$", "._variance", key)
        if name in prelu_weights:
            key = key.removesuffix(".weight") + "._weight"
        array = tensor.detach().cpu().numpy()
        arrays[key] = np.ascontiguousarray(array.T) if name in linear_weights else array
    return arrays


def convert_to_files(swap_path: str | Path, arcface_path: str | Path, out: str | Path) -> tuple[Path, Path]:
    """``mfs convert-paddle``: the swapper file (student + identity network + preprocessing) and the
    identity network's state dict (for ``identity.pretrained``) in ``out``, never over an input."""
    out = Path(out)
    swapper_path, identity_path = out / "mobilefaceswap_224.pt", out / "arcface_irse_3_4_23_3.pth"
    for path in (swapper_path, identity_path):
        refuse_overwrite(path, {"--swap": Path(swap_path), "--arcface": Path(arcface_path)})
    student, identity = convert_released(swap_path, arcface_path)
    origin = f"converted from {Path(swap_path).name} and {Path(arcface_path).name}"
    save_swapper(swapper_path, student, identity, crop_size=224, origin=origin, identity_arch=RELEASED_IDENTITY_ARCH)
    write_atomic(identity_path, lambda tmp: torch.save(identity.backbone.state_dict(), tmp))
    return swapper_path, identity_path


def convert_released(swap_path: str | Path, arcface_path: str | Path) -> tuple[MobileFaceSwap, IdentityEncoder]:
    """MobileFaceSwap_224.pdparams + arcface.pdparams -> (student, identity encoder) in eval mode."""
    student = MobileFaceSwap()
    swap = read_pdparams(swap_path, "--swap")
    student.load_state_dict(paddle_to_torch(swap, student, SWAP_PREFIXES, "--swap"))
    backbone = IRSEResNet(**RELEASED_IDENTITY_ARCH)
    arcface = read_pdparams(arcface_path, "--arcface")
    backbone.load_state_dict(paddle_to_torch(arcface, backbone, (), "--arcface"))
    # The released code: aligned source resized to 112 (cv2 INTER_LINEAR), RGB in [0, 1], ImageNet statistics.
    identity = IdentityEncoder(backbone, 112, IMAGENET_MEAN, IMAGENET_STD, interpolation="bilinear")
    return student.eval(), identity.eval()
