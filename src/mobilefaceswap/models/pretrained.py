"""Loading frozen helpers from local weight files named in config.

Nothing is downloaded. A missing, unreadable or mismatched file is one clear error
naming the config key; ``pretrained: null`` keeps the random initialisation and says so.
"""

import logging
from pathlib import Path

import torch
from torch import nn

from mobilefaceswap.models.swapper_format import READABLE_FORMATS

log = logging.getLogger(__name__)

# Whole pickled models (e.g. SimSwap's arcface_checkpoint.tar) are rebuilt by torch's
# weights-only unpickler from these classes alone; a class of the original repository is
# mapped onto an empty stand-in module, so none of its code is needed or run.
PICKLED_LAYERS = (
    nn.Conv2d, nn.BatchNorm1d, nn.BatchNorm2d, nn.PReLU, nn.ReLU, nn.LeakyReLU, nn.Sigmoid, nn.Dropout,
    nn.Linear, nn.MaxPool2d, nn.AdaptiveAvgPool2d, nn.Sequential, nn.ModuleList, set,
)
PICKLED_FOREIGN_CLASSES = (
    "models.arcface_models.ResNet",
    "models.arcface_models.IRBlock",
    "models.arcface_models.SEBlock",
)


class PickledModuleStandIn(nn.Module):
    """Holds the parameters and submodules of an unpickled foreign module; never called."""


def _stand_ins() -> list[tuple[type, str]]:
    return [(type(name.rsplit(".", 1)[1], (PickledModuleStandIn,), {}), name) for name in PICKLED_FOREIGN_CLASSES]


class WeightsError(RuntimeError):
    """A configured weights file is missing, unreadable or does not fit the network."""


def read_state_dict(
    path: str | Path, config_key: str, expected: str, arch: dict | None = None, net_key: str = "net"
) -> dict[str, torch.Tensor]:
    """Read a tensor dict with ``weights_only=True``.

    Accepts a state dict, a checkpoint holding one under ``state_dict``, a whole pickled model
    built from the allow-listed classes (its state dict is taken), or a swapper file (its
    student's; with ``arch``, the switches it records must be those, see :func:`check_recorded_arch`).
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise WeightsError(f"{config_key}: weights file not found: {path} (expected {expected})")
    try:
        with torch.serialization.safe_globals([*PICKLED_LAYERS, *_stand_ins()]):
            state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # any unpickling or zip failure means the same thing to the user
        reason = str(err).splitlines()[0] if "Unsupported global" in str(err) else type(err).__name__
        raise WeightsError(f"{config_key}: cannot read {path} as a PyTorch weights file ({reason})") from None
    if isinstance(state, nn.Module):
        state = state.state_dict()
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    if isinstance(state, dict) and state.get("format") in READABLE_FORMATS:
        check_recorded_arch(state.get("student_arch"), arch, path, config_key, net_key)
        state = state["student"]  # a swapper file: its student's state dict
    if isinstance(state, dict) and state and all(k.startswith("module.") for k in state):
        state = {k.removeprefix("module."): v for k, v in state.items()}  # saved from DataParallel
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise WeightsError(f"{config_key}: {path} holds no state dict (expected {expected})")
    return state


def check_recorded_arch(recorded: dict | None, arch: dict | None, path: Path, config_key: str, net_key: str) -> None:
    """A swapper file records its student's switches; some (``depthwise_demodulation``) change no
    weight's name or shape, so a network built otherwise would load the file and compute wrongly.
    The error names the overrides of ``net_key`` (the network's config) that build it as recorded."""
    if arch is None:
        return
    differs = {k: v for k, v in (recorded or {}).items() if arch.get(k) != v}
    if differs:
        value = lambda v: str(v).lower() if isinstance(v, bool) else str(v).replace(" ", "")
        overrides = " ".join(f"{net_key}.{k}={value(v)}" for k, v in differs.items())
        raise WeightsError(f"{config_key}: {path} holds a student built with {differs}; add {overrides}")


def load_pretrained(
    module: nn.Module,
    path: str | Path | None,
    config_key: str,
    expected: str,
    ignore_prefixes: tuple[str, ...] = (),
    architecture: str | None = None,
    net_key: str = "net",
) -> nn.Module:
    """Load ``path`` strictly into ``module``; with ``path=None`` warn that it stays random.

    ``architecture`` (e.g. ``SimSwapGenerator(base_channels=64, n_blocks=9)``) names the
    settings in force in a mismatch error; by default the class name. ``net_key``: the config
    of ``module``'s settings, named where a swapper file records others (``module.arch``).
    """
    if path is None:
        log.warning("%s is null: %s is randomly initialised (set it to %s)", config_key, type(module).__name__, expected)
        return module
    state = read_state_dict(path, config_key, expected, getattr(module, "arch", None), net_key)
    state = {k: v for k, v in state.items() if not k.startswith(ignore_prefixes)}
    return load_state(module, state, path, config_key, expected, architecture)


def load_state(
    module: nn.Module, state: dict, path: str | Path, config_key: str, expected: str, architecture: str | None = None
) -> nn.Module:
    """Load a state dict read from ``path`` strictly, or one WeightsError line saying how it differs."""
    if problem := state_dict_mismatch(module.state_dict(), state):
        built = architecture or type(module).__name__
        raise WeightsError(f"{config_key}: {path} does not match {built}: {problem}; expected {expected}")
    check_finite(state, f"{config_key}: {path}")
    module.load_state_dict(state, strict=True)
    return module


def state_dict_mismatch(own: dict[str, torch.Tensor], state: dict[str, torch.Tensor]) -> str | None:
    """None when ``state`` has exactly the keys and shapes of ``own``, else a one-line summary."""
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    wrong_shape = sorted(k for k in set(own) & set(state) if own[k].shape != state[k].shape)
    if not (missing or unexpected or wrong_shape):
        return None
    first = (missing + unexpected + wrong_shape)[0]
    return f"{len(missing)} missing, {len(unexpected)} unexpected, {len(wrong_shape)} wrongly shaped keys (first: {first!r})"


def check_finite(state: dict[str, torch.Tensor], what: str) -> None:
    """WeightsError naming the first tensor that holds a NaN or an infinity: such weights would
    load and then turn every output into NaN (a damaged file, or a diverged run)."""
    for key, value in state.items():
        finite = torch.isfinite(value) if value.is_floating_point() else None
        if finite is not None and not finite.all():
            bad, total = value.numel() - int(finite.sum()), value.numel()
            raise WeightsError(f"{what}: tensor {key!r} holds {bad} NaN or infinite value(s) of {total}; the file is damaged")


def freeze(module: nn.Module) -> nn.Module:
    """Eval mode and no parameter gradients; inputs still get gradients through it."""
    module.eval()
    module.requires_grad_(False)
    return module
