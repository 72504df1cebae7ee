"""Image grids of source / target / teacher / student / mask, saved and sent to the loggers."""

from pathlib import Path

import lightning as L
import torch
from lightning.pytorch.loggers import WandbLogger
from torchvision.utils import make_grid, save_image

from mobilefaceswap.files import write_atomic


class ImageGridLogger(L.Callback):
    """Every ``every_n_steps`` and at the end of training, preview the first validation batch.

    Rows follow ``pl_module.preview(batch)``; columns are the samples. PNGs go to
    ``<run dir>/images/step_XXXXXXX.png``; a wandb logger also receives the grid.
    """

    def __init__(self, every_n_steps: int = 500, max_samples: int = 8):
        self.every_n_steps = every_n_steps
        self.max_samples = max_samples
        self._batch: dict | None = None

    def _preview_batch(self, trainer: L.Trainer) -> dict:
        if self._batch is None:
            batch = next(iter(trainer.datamodule.val_dataloader()))
            self._batch = {k: v[: self.max_samples] for k, v in batch.items()}
        return self._batch

    @torch.no_grad()
    def log_grid(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if not trainer.is_global_zero:
            return
        was_training = pl_module.training
        pl_module.eval()  # running statistics stay untouched, and SyncBatchNorm needs no other rank
        rows = pl_module.preview(self._preview_batch(trainer))
        pl_module.train(was_training)
        grid = make_grid(torch.cat(list(rows.values())).float().cpu(), nrow=len(next(iter(rows.values()))), padding=2)
        path = Path(trainer.default_root_dir) / "images" / f"step_{trainer.global_step:07d}.png"
        write_atomic(path, lambda tmp: save_image(grid, tmp))
        for logger in trainer.loggers:
            if isinstance(logger, WandbLogger):
                logger.log_image("preview", [grid], step=trainer.global_step, caption=[" / ".join(rows)])

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if self.every_n_steps and trainer.global_step % self.every_n_steps == 0 and trainer.global_step > 0:
            self.log_grid(trainer, pl_module)

    def on_train_end(self, trainer, pl_module) -> None:
        self.log_grid(trainer, pl_module)
