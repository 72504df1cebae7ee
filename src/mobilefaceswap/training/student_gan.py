"""Distilling the MobileFaceSwap student from a teacher, as a GAN: the Lightning plumbing
(optimisers, steps, non-finite guards, checkpoints) around the objective of ``objective.py``."""

import logging
import math
from collections.abc import Callable
from dataclasses import asdict

import lightning as L
import torch
from torch import nn

from mobilefaceswap.models.identity import IdentityEncoder, IdentityFeatures
from mobilefaceswap.models.student import MobileFaceSwap, SwapOutput
from mobilefaceswap.models.teachers import Teacher
from mobilefaceswap.training.frozen import share_identity
from mobilefaceswap.training.identity_noise import IdentityNoise
from mobilefaceswap.training.objective import DistillationObjective, DistillationTargets, LossConfig
from mobilefaceswap.training.optim import OptimConfig, generator_lr_factor, generator_param_groups, set_lr_factor

log = logging.getLogger(__name__)

FROZEN = "frozen."  # the frozen networks are rebuilt from config, never stored in checkpoints


class NonFiniteLossError(FloatingPointError):
    """Training stopped on a loss that stayed NaN or infinite."""


def nonfinite_cause(terms: dict[str, torch.Tensor], loss_cfg: LossConfig) -> str:
    """The first loss term that is not finite, or the loss weight that made the sum so."""
    for name, value in terms.items():
        if not torch.isfinite(value).all():
            return f"loss term {name}"
    weights = {k: v for k, v in vars(loss_cfg).items() if k.startswith("lambda_") and not math.isfinite(v)}
    return ", ".join(f"loss.{k}={v}" for k, v in weights.items()) or "the weighted sum of finite terms (overflow)"


class StudentGAN(L.LightningModule):
    def __init__(
        self,
        identity: IdentityEncoder,
        net: MobileFaceSwap,
        discriminator: nn.Module,
        teacher: Teacher,
        perceptual: nn.Module,
        face_parser: nn.Module,
        quality: nn.Module | None,
        loss: LossConfig,
        optimizer: Callable[..., torch.optim.Optimizer],
        optim: OptimConfig,
        identity_noise: IdentityNoise | None = None,
    ):
        """``net``: the student; ``optimizer``: a ``_partial_`` optimiser (conf/model/mobilefaceswap.yaml);
        ``identity_noise``: sources moved in identity space while training (off when None or share 0)."""
        super().__init__()
        self.automatic_optimization = False
        self.strict_loading = False  # checkpoints omit the frozen helpers
        self.save_hyperparameters({"loss": asdict(loss), "optim": asdict(optim)})
        self.student = net
        self.discriminator = discriminator
        share_identity(teacher, identity)
        self.frozen = nn.ModuleDict(dict(teacher=teacher, identity=identity, perceptual=perceptual, face_parser=face_parser))
        if quality is not None:
            self.frozen["quality"] = quality
        self.objective = DistillationObjective(self.frozen, discriminator, loss, identity_noise)
        self.make_optimizer = optimizer
        self.optim_cfg = optim
        self.nonfinite_steps = 0

    # -- the frozen networks -----------------------------------------------------------------
    def train(self, mode: bool = True) -> "StudentGAN":
        super().train(mode)
        self.frozen.eval()  # frozen: BN statistics and dropout stay as loaded
        return self

    @property
    def loss_cfg(self) -> LossConfig:
        return self.objective.cfg

    @loss_cfg.setter
    def loss_cfg(self, cfg: LossConfig) -> None:
        self.objective.cfg = cfg

    def identity(self, image: torch.Tensor) -> IdentityFeatures:
        return self.objective.identity(image)

    @property
    def identity_encoder(self) -> IdentityEncoder:
        return self.frozen["identity"]

    @property
    def teacher(self) -> nn.Module | None:
        """The teacher the student learns from; None without distillation (the no-KD ablation)."""
        return self.frozen["teacher"] if self.loss_cfg.distillation else None

    def swap(self, target: torch.Tensor, source_identity: IdentityFeatures) -> SwapOutput:
        """The swap the student learns: ``target`` faces (B, 3, S, S) with the source identity's kernels injected."""
        return self.student(target, source_identity.z, source_identity.map)

    @torch.no_grad()
    def swapped_images(self, batch: dict) -> dict[str, torch.Tensor]:
        """The student's output for a batch of pairs and, with distillation, the teacher's: (B, 3, S, S) each."""
        ref = self.distillation_targets(batch)
        images = {"student": self.swap(batch["target"], ref.source_identity).image}
        if self.teacher is not None:
            images["teacher"] = ref.reference_image
        return images

    def distillation_targets(self, batch: dict) -> DistillationTargets:
        return self.objective.targets(batch)

    def generator_losses(self, out: SwapOutput, ref: DistillationTargets, adversarial: bool = True) -> dict:
        return self.objective.generator_losses(out, ref, adversarial)

    def _all_finite(self, value: torch.Tensor) -> bool:
        """Every process agrees, so DDP never waits on a rank that skipped."""
        return self.trainer.strategy.reduce_boolean_decision(bool(torch.isfinite(value)), all=True)

    def _skip_nonfinite(self, network: str, terms: dict[str, torch.Tensor]) -> None:
        self.nonfinite_steps += 1
        limit = self.optim_cfg.max_nonfinite_steps
        cause = nonfinite_cause(terms, self.loss_cfg)
        log.warning("%s loss is not finite at step %d (%s): update skipped", network, self.global_step, cause)
        if self.nonfinite_steps >= limit:
            raise NonFiniteLossError(
                f"the {network} loss was not finite at step {self.global_step} for {limit} consecutive steps ({cause}); "
                "the last finite state is checkpointed"
            )

    def training_step(self, batch: dict, batch_idx: int) -> None:
        opt_g, opt_d = self.optimizers()
        target = batch["target"]
        ref = self.objective.targets(batch, self.global_step, self.global_rank)

        with self.toggled_optimizer(opt_g):  # the discriminator gets no gradients here
            out = self.swap(target, ref.source_identity)
            g = self.generator_losses(out, ref)
            if not self._all_finite(g["total"]):
                return self._skip_nonfinite("generator", {k: v for k, v in g.items() if k != "total"})
            opt_g.zero_grad(set_to_none=True)
            self.manual_backward(g["total"])
            set_lr_factor(opt_g.optimizer, self.lr_factor(self.global_step))
            opt_g.step()

        logged = {"train/g": g["total"]}
        if self.loss_cfg.lambda_adv:  # without L_adv the discriminator would train for nothing
            logged["train/d"] = self.discriminator_step(opt_d, ref, target, out.image.detach())
            if logged["train/d"] is None:
                return None
        self.nonfinite_steps = 0

        self.log_dict({f"train/{k}": v for k, v in g.items()}, prog_bar=False)
        self.log_dict(logged, prog_bar=True)

    def discriminator_step(self, opt_d: torch.optim.Optimizer, ref: DistillationTargets, target: torch.Tensor,
                           fake: torch.Tensor) -> torch.Tensor | None:
        """One update of the discriminator; its loss, or None when the update was skipped as not finite."""
        with self.toggled_optimizer(opt_d):
            d = self.objective.discriminator_loss(ref, target, fake)
            if not self._all_finite(d):
                self._skip_nonfinite("discriminator", {"adv_d": d})
                return None
            opt_d.zero_grad(set_to_none=True)
            self.manual_backward(d)
            # Through the strategy (precision, DDP) but not Lightning's step counter, so that
            # global_step and trainer.max_steps count generator updates.
            self.trainer.strategy.optimizer_step(opt_d.optimizer, closure=lambda: None)
        return d

    def validation_step(self, batch: dict, batch_idx: int) -> None:
        ref = self.distillation_targets(batch)
        out = self.swap(batch["target"], ref.source_identity)
        g = self.generator_losses(out, ref, adversarial=False)
        self.log_dict({f"val/{k}": v for k, v in g.items()}, prog_bar=False, sync_dist=True)

    @torch.no_grad()
    def preview(self, batch: dict) -> dict[str, torch.Tensor]:
        """Rows for an image grid: source, target, reference (the teacher's output), student, mask."""
        batch = {k: v.to(self.device) for k, v in batch.items()}
        ref = self.distillation_targets(batch)
        out = self.swap(batch["target"], ref.source_identity)
        mask = out.mask.expand_as(batch["target"])
        return dict(source=batch["source"], target=batch["target"], reference=ref.reference_image, student=out.image, mask=mask)

    # -- optimisation and checkpoints ------------------------------------------------------
    def configure_optimizers(self):
        cfg = self.optim_cfg
        groups = generator_param_groups(self.student, cfg.lr_generator, cfg.injection_lr_scaling)
        opt_g = self.make_optimizer(groups, lr=cfg.lr_generator)
        opt_d = self.make_optimizer(self.discriminator.parameters(), lr=cfg.lr_discriminator)
        return opt_g, opt_d

    def on_fit_start(self) -> None:
        self.lr_factor = generator_lr_factor(self.optim_cfg.lr_decay, self.trainer.max_steps)  # refused before any step

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        checkpoint["state_dict"] = {k: v for k, v in checkpoint["state_dict"].items() if not k.startswith(FROZEN)}
