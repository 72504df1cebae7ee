"""The wandb run id kept in checkpoints, so that resuming continues the same wandb run."""

import lightning as L
import torch
from lightning.pytorch.loggers import WandbLogger

CHECKPOINT_KEY = "wandb_run_id"


class WandbRunId(L.Callback):
    """Writes the id of the run's ``WandbLogger`` into every checkpoint (nothing without one)."""

    def on_save_checkpoint(self, trainer: L.Trainer, pl_module: L.LightningModule, checkpoint: dict) -> None:
        for logger in trainer.loggers:
            if isinstance(logger, WandbLogger) and logger.version is not None:
                checkpoint[CHECKPOINT_KEY] = logger.version


def stored_run_id(checkpoint_path) -> str | None:
    """The wandb run id a checkpoint was written by, if any (memory-mapped: the weights are not read)."""
    return torch.load(checkpoint_path, map_location="cpu", weights_only=True, mmap=True).get(CHECKPOINT_KEY)
