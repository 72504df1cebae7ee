"""Every global random state (Python, NumPy, torch, CUDA) in the checkpoint, so that a resumed
run draws what the uninterrupted run would have drawn."""

import random
from typing import Any

import lightning as L
import numpy as np
import torch


def collect_random_states() -> dict[str, Any]:
    """Plain tensors, lists and numbers only, so that checkpoints load with ``weights_only=True``."""
    numpy_state = np.random.get_state(legacy=False)
    version, python_state, gauss = random.getstate()
    return {
        "python": [version, list(python_state), gauss],
        "numpy": {**numpy_state, "state": {"key": numpy_state["state"]["key"].tolist(), "pos": numpy_state["state"]["pos"]}},
        "torch": torch.get_rng_state(),
        "torch.cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
    }


def set_random_states(states: dict[str, Any]) -> None:
    version, python_state, gauss = states["python"]
    random.setstate((version, tuple(python_state), gauss))
    numpy_state = states["numpy"]
    np.random.set_state(
        {**numpy_state, "state": {"key": np.array(numpy_state["state"]["key"], np.uint32), "pos": numpy_state["state"]["pos"]}}
    )
    torch.set_rng_state(states["torch"])
    if states["torch.cuda"]:
        torch.cuda.set_rng_state_all(states["torch.cuda"])


class RandomStateCheckpoint(L.Callback):
    def __init__(self) -> None:
        self.to_restore: dict[str, Any] | None = None

    def state_dict(self) -> dict[str, Any]:
        return collect_random_states()

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.to_restore = state_dict  # set when training starts, after loading has drawn its own numbers

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self.to_restore is not None:
            set_random_states(self.to_restore)
            self.to_restore = None
