"""Distilling the MobileFaceSwap student from a teacher, as a GAN (paper eq. 3-7)."""

import logging
import math
from dataclasses import dataclass

import lightning as L
import torch
from torch import nn

from mobilefaceswap import losses
from mobilefaceswap.models.identity import IdentityEncoder, IdentityFeatures
from mobilefaceswap.models.student import MobileFaceSwap, SwapOutput
from mobilefaceswap.training.optim import INJECTION_LR_SCALINGS, generator_param_groups

log = logging.getLogger(__name__)

FROZEN = "frozen."  # the frozen networks are rebuilt from config, never stored in checkpoints


class NonFiniteLossError(FloatingPointError):
    """Training stopped on a loss that stayed NaN or infinite."""


@dataclass
class LossConfig:
    """L = lambda_adv L_adv + alpha (lambda_rec L_rec + lambda_per L_per) + lambda_id L_id + lambda_mask L_mask.

    The values, with what each means, are in conf/loss/paper.yaml; this is their schema."""

    lambda_rec: float
    lambda_per: float
    lambda_id: float
    lambda_mask: float
    lambda_adv: float
    adversarial: str
    adversarial_real: str
    weak_mask: bool
    distillation: bool
    reweight_identity: bool
    reweight_quality: bool

    def __post_init__(self):
        if self.adversarial not in ("hinge", "lsgan", "nonsaturating"):
            raise ValueError(f"loss.adversarial={self.adversarial!r}: use hinge, lsgan or nonsaturating")
        if self.adversarial_real not in ("target", "teacher"):
            raise ValueError(f"loss.adversarial_real={self.adversarial_real!r}: use target or teacher")


@dataclass
class OptimConfig:
    """The schema of ``model.optim`` (values in conf/model/mobilefaceswap.yaml)."""

    lr_generator: float
    lr_discriminator: float
    betas: tuple[float, float]
    injection_lr_scaling: str
    max_nonfinite_steps: int

    def __post_init__(self):
        if self.injection_lr_scaling not in INJECTION_LR_SCALINGS:
            raise ValueError(f"model.optim.injection_lr_scaling={self.injection_lr_scaling!r}: use fan_in or none")


@dataclass
class DistillationTargets:
    """Everything the frozen helpers say about one batch; no gradients."""

    source_identity: IdentityFeatures
    reference_image: torch.Tensor  # I'_g (B, 3, S, S): the teacher's output, or the target without KD
    reference_features: list[torch.Tensor]  # VGG_i of the reference
    target_mask: torch.Tensor  # M_t (B, 1, S, S)
    alpha: torch.Tensor  # per-sample weight of L_rec and L_per (B,)


class StudentGAN(L.LightningModule):
    def __init__(
        self,
        student: MobileFaceSwap,
        discriminator: nn.Module,
        teacher: nn.Module,
        identity: IdentityEncoder,
        perceptual: nn.Module,
        face_parser: nn.Module,
        quality: nn.Module | None,
        loss: dict,
        optim: dict,
    ):
        super().__init__()
        self.automatic_optimization = False
        self.strict_loading = False  # checkpoints omit the frozen helpers
        self.save_hyperparameters(
            ignore=["student", "discriminator", "teacher", "identity", "perceptual", "face_parser", "quality"]
        )
        self.student = student
        self.discriminator = discriminator
        self.frozen = nn.ModuleDict(dict(teacher=teacher, identity=identity, perceptual=perceptual, face_parser=face_parser))
        if quality is not None:
            self.frozen["quality"] = quality
        self.loss_cfg = LossConfig(**loss)
        self.optim_cfg = OptimConfig(**optim)
        self.nonfinite_steps = 0

    # -- the frozen networks -----------------------------------------------------------------
    def train(self, mode: bool = True) -> "StudentGAN":
        super().train(mode)
        self.frozen.eval()  # frozen: BN statistics and dropout stay as loaded
        return self

    def identity(self, image: torch.Tensor) -> IdentityFeatures:
        return self.frozen["identity"](image)

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

    @torch.no_grad()
    def distillation_targets(self, batch: dict) -> DistillationTargets:
        h, cfg = self.frozen, self.loss_cfg
        source, target = batch["source"], batch["target"]
        source_identity = self.identity(source)
        if cfg.distillation:
            # A teacher cache (data.teacher_cache) brings I'_g with the batch.
            reference = batch["reference"] if "reference" in batch else h["teacher"](source, target, source_identity)
            quality = torch.ones(len(source), device=source.device)
            if cfg.reweight_quality and "quality" in h:
                quality = h["quality"](reference)
            alpha = quality
            if cfg.reweight_identity:
                alpha = losses.distillation_weight(source_identity.z, self.identity(reference).z, quality)
        else:  # only a same-identity pair has a ground truth: the target itself
            reference, alpha = target, batch["same_identity"].float()
        return DistillationTargets(
            source_identity=source_identity,
            reference_image=reference,
            reference_features=h["perceptual"](reference),
            target_mask=batch["target_mask"] if "target_mask" in batch else h["face_parser"](target),  # cached by prepare-data
            alpha=alpha,
        )

    # -- objective -------------------------------------------------------------------------
    def generator_losses(self, out: SwapOutput, ref: DistillationTargets, adversarial: bool = True) -> dict:
        cfg = self.loss_cfg
        rec = losses.reconstruction_loss(out.image, ref.reference_image)
        per = losses.perceptual_loss(self.frozen["perceptual"](out.image), ref.reference_features)
        idl = losses.identity_loss(ref.source_identity.z, self.identity(out.image).z)
        msk = losses.mask_loss(ref.target_mask, out.mask, weak=cfg.weak_mask)
        distill = (ref.alpha * (cfg.lambda_rec * rec + cfg.lambda_per * per)).mean()
        total = distill + cfg.lambda_id * idl.mean() + cfg.lambda_mask * msk.mean()
        terms = {"rec": rec.mean(), "per": per.mean(), "id": idl.mean(), "mask": msk.mean(), "alpha": ref.alpha.mean()}
        if adversarial:
            adv = losses.generator_adversarial_loss(self.discriminator(out.image), cfg.adversarial)
            total = total + cfg.lambda_adv * adv
            terms["adv"] = adv
        return {"total": total, **terms}

    def _all_finite(self, value: torch.Tensor) -> bool:
        """Every process agrees, so DDP never waits on a rank that skipped."""
        return self.trainer.strategy.reduce_boolean_decision(bool(torch.isfinite(value)), all=True)

    def _nonfinite_cause(self, terms: dict[str, torch.Tensor]) -> str:
        """The first loss term that is not finite, or the loss weight that made the sum so."""
        for name, value in terms.items():
            if not torch.isfinite(value).all():
                return f"loss term {name}"
        weights = {k: v for k, v in vars(self.loss_cfg).items() if k.startswith("lambda_") and not math.isfinite(v)}
        return ", ".join(f"loss.{k}={v}" for k, v in weights.items()) or "the weighted sum of finite terms (overflow)"

    def _skip_nonfinite(self, network: str, terms: dict[str, torch.Tensor]) -> None:
        self.nonfinite_steps += 1
        limit = self.optim_cfg.max_nonfinite_steps
        cause = self._nonfinite_cause(terms)
        log.warning("%s loss is not finite at step %d (%s): update skipped", network, self.global_step, cause)
        if self.nonfinite_steps >= limit:
            raise NonFiniteLossError(
                f"the {network} loss was not finite at step {self.global_step} for {limit} consecutive steps ({cause}); "
                "the last finite state is checkpointed"
            )

    def training_step(self, batch: dict, batch_idx: int) -> None:
        opt_g, opt_d = self.optimizers()
        target = batch["target"]
        ref = self.distillation_targets(batch)

        with self.toggled_optimizer(opt_g):  # the discriminator gets no gradients here
            out = self.swap(target, ref.source_identity)
            g = self.generator_losses(out, ref)
            if not self._all_finite(g["total"]):
                return self._skip_nonfinite("generator", {k: v for k, v in g.items() if k != "total"})
            opt_g.zero_grad(set_to_none=True)
            self.manual_backward(g["total"])
            opt_g.step()

        with self.toggled_optimizer(opt_d):
            real = ref.reference_image if self.loss_cfg.adversarial_real == "teacher" else target
            d = losses.discriminator_adversarial_loss(
                self.discriminator(real), self.discriminator(out.image.detach()), self.loss_cfg.adversarial
            )
            if not self._all_finite(d):
                return self._skip_nonfinite("discriminator", {"adv_d": d})
            opt_d.zero_grad(set_to_none=True)
            self.manual_backward(d)
            # Through the strategy (precision, DDP) but not Lightning's step counter, so that
            # global_step and trainer.max_steps count generator updates.
            self.trainer.strategy.optimizer_step(opt_d.optimizer, closure=lambda: None)
        self.nonfinite_steps = 0

        self.log_dict({f"train/{k}": v for k, v in g.items()}, prog_bar=False)
        self.log_dict({"train/g": g["total"], "train/d": d}, prog_bar=True)

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
        return {
            "source": batch["source"],
            "target": batch["target"],
            "reference": ref.reference_image,
            "student": out.image,
            "mask": out.mask.expand_as(batch["target"]),
        }

    # -- optimisation and checkpoints ------------------------------------------------------
    def configure_optimizers(self):
        cfg = self.optim_cfg
        betas = tuple(cfg.betas)
        groups = generator_param_groups(self.student, cfg.lr_generator, cfg.injection_lr_scaling)
        opt_g = torch.optim.Adam(groups, lr=cfg.lr_generator, betas=betas)
        opt_d = torch.optim.Adam(self.discriminator.parameters(), lr=cfg.lr_discriminator, betas=betas)
        return opt_g, opt_d

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        checkpoint["state_dict"] = {k: v for k, v in checkpoint["state_dict"].items() if not k.startswith(FROZEN)}
