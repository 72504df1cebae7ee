"""Training the quality regressor Q (ResNet-18, L2 regression of the fraction of teacher training)."""

import lightning as L
import torch
from torch.nn import functional as F
from torchmetrics import MeanAbsoluteError, SpearmanCorrCoef

from mobilefaceswap.models.quality import QualityRegressor


class QualityModule(L.LightningModule):
    def __init__(self, lr: float = 1e-4, weight_decay: float = 0.0):
        super().__init__()
        self.save_hyperparameters()
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
        return torch.optim.Adam(self.regressor.parameters(), lr=self.hparams.lr, weight_decay=self.hparams.weight_decay)
