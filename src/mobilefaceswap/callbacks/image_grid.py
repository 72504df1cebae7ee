"""Image grids of source / target / teacher / student / mask, saved and sent to the loggers."""

from pathlib import Path

import lightning as L
import numpy as np
import torch
from lightning.pytorch.loggers import WandbLogger
from PIL import Image, ImageDraw, ImageFont
from torchvision.utils import make_grid

from mobilefaceswap.files import write_atomic

# The row the student is distilled towards: the teacher's output (the target itself without KD).
ROW_LABELS = {"reference": "teacher"}
LABEL_WIDTH = 72  # pixels left of the grid for the row labels
PADDING = 2


def labelled_grid(rows: dict[str, torch.Tensor]) -> np.ndarray:
    """The rows (each (N, 3, S, S) in [0, 1]) as one 8-bit RGB image (H, W, 3), a label left of each row.

    8 bits here, as the PNG stores them: a float image would be cast by wandb as if in [0, 255].
    """
    images = torch.cat(list(rows.values())).float().cpu()
    grid = make_grid(images, nrow=len(next(iter(rows.values()))), padding=PADDING)
    pixels = grid.mul(255).add(0.5).clamp(0, 255).to(torch.uint8).permute(1, 2, 0).numpy()
    canvas = Image.new("RGB", (LABEL_WIDTH + pixels.shape[1], pixels.shape[0]))
    canvas.paste(Image.fromarray(pixels), (LABEL_WIDTH, 0))
    draw = ImageDraw.Draw(canvas)
    font = ImageFont.load_default(size=14)
    size = images.shape[-1]
    for i, name in enumerate(rows):
        middle = PADDING + i * (size + PADDING) + size // 2
        draw.text((LABEL_WIDTH // 2, middle), ROW_LABELS.get(name, name), fill="white", font=font, anchor="mm")
    return np.asarray(canvas)


class ImageGridLogger(L.Callback):
    """Every ``every_n_steps`` and at the end of training, preview the first validation batch.

    Rows follow ``pl_module.preview(batch)``, labelled; columns are the samples. PNGs go to
    ``<run dir>/images/step_XXXXXXX.png``; a wandb logger receives the same 8-bit image.
    """

    def __init__(self, every_n_steps: int = 500, max_samples: int = 8):
        self.every_n_steps = every_n_steps
        self.max_samples = max_samples
        self._batch: dict | None = None
        self._last_step: int | None = None

    def _preview_batch(self, trainer: L.Trainer) -> dict:
        if self._batch is None:
            batch = next(iter(trainer.datamodule.val_dataloader()))
            self._batch = {k: v[: self.max_samples] for k, v in batch.items()}
        return self._batch

    @torch.no_grad()
    def log_grid(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        # the end of training on a multiple of every_n_steps would draw the same step twice
        if not trainer.is_global_zero or self._last_step == trainer.global_step:
            return
        self._last_step = trainer.global_step
        was_training = pl_module.training
        pl_module.eval()  # running statistics stay untouched, and SyncBatchNorm needs no other rank
        rows = pl_module.preview(self._preview_batch(trainer))
        pl_module.train(was_training)
        image = labelled_grid(rows)
        path = Path(trainer.default_root_dir) / "images" / f"step_{trainer.global_step:07d}.png"
        write_atomic(path, lambda tmp: Image.fromarray(image).save(tmp, format="PNG"))
        caption = " / ".join(ROW_LABELS.get(name, name) for name in rows)
        for logger in trainer.loggers:
            if isinstance(logger, WandbLogger):
                logger.log_image("preview", [image], step=trainer.global_step, caption=[caption])

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if self.every_n_steps and trainer.global_step % self.every_n_steps == 0 and trainer.global_step > 0:
            self.log_grid(trainer, pl_module)

    def on_train_end(self, trainer, pl_module) -> None:
        self.log_grid(trainer, pl_module)
