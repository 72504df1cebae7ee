"""Training the quality regressor Q (ResNet-18, L2 regression of the fraction of teacher training)."""

from collections.abc import Callable

import lightning as L
import torch
from torch.nn import functional as F
from torchmetrics import MeanAbsoluteError, SpearmanCorrCoef

from mobilefaceswap.models.quality import QualityRegressor


class QualityModule(L.LightningModule):
    def __init__(self, optimizer: Callable[..., torch.optim.Optimizer]):
        """``optimizer`` builds the optimiser from the regressor's parameters (a ``_partial_`` node,
        conf/model/quality_regressor.yaml)."""
        super().__init__()
        self.make_optimizer = optimizer
        self.regressor = QualityRegressor()
        self.val_mae = MeanAbsoluteError()
        self.val_spearman = SpearmanCorrCoef()

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> torch.Tensor:
        image, label = batch
        loss = F.mse_loss(self.regressor(image), label)
        self.log("train/l2", loss, prog_bar=True)
        return loss

    def validation_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> None:
        image, label = batch
        score = self.regressor(image)
        self.val_mae.update(score, label)
        self.val_spearman.update(score, label)
        self.log_dict({"val/mae": self.val_mae, "val/spearman": self.val_spearman}, prog_bar=True)

    def configure_optimizers(self):
        return self.make_optimizer(self.regressor.parameters())
