"""Loading frozen helpers from local weight files named in config.

Nothing is downloaded. A missing, unreadable or mismatched file is one clear error
naming the config key; ``pretrained: null`` keeps the random initialisation and says so.
"""

import logging
from pathlib import Path

import torch
from torch import nn

log = logging.getLogger(__name__)


class WeightsError(RuntimeError):
    """A configured weights file is missing, unreadable or does not fit the network."""


def read_state_dict(path: str | Path, config_key: str, expected: str) -> dict[str, torch.Tensor]:
    """Read a tensor dict with ``weights_only=True``; unwraps Lightning/``state_dict`` wrappers."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise WeightsError(f"{config_key}: weights file not found: {path} (expected {expected})")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # any unpickling or zip failure means the same thing to the user
        raise WeightsError(f"{config_key}: cannot read {path} as a PyTorch weights file ({type(err).__name__})") from None
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise WeightsError(f"{config_key}: {path} holds no state dict (expected {expected})")
    return state


def load_pretrained(
    module: nn.Module,
    path: str | Path | None,
    config_key: str,
    expected: str,
    ignore_prefixes: tuple[str, ...] = (),
) -> nn.Module:
    """Load ``path`` strictly into ``module``; with ``path=None`` warn that it stays random."""
    if path is None:
        log.warning("%s is null: %s is randomly initialised (set it to %s)", config_key, type(module).__name__, expected)
        return module
    state = {k: v for k, v in read_state_dict(path, config_key, expected).items() if not k.startswith(ignore_prefixes)}
    own = module.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    wrong_shape = sorted(k for k in set(own) & set(state) if own[k].shape != state[k].shape)
    if missing or unexpected or wrong_shape:
        first = (missing + unexpected + wrong_shape)[0]
        raise WeightsError(
            f"{config_key}: {path} does not match {type(module).__name__}: {len(missing)} missing, "
            f"{len(unexpected)} unexpected, {len(wrong_shape)} wrongly shaped keys (first: {first!r}); expected {expected}"
        )
    module.load_state_dict(state, strict=True)
    return module


def freeze(module: nn.Module) -> nn.Module:
    """Eval mode and no parameter gradients; inputs still get gradients through it."""
    module.eval()
    module.requires_grad_(False)
    return module
