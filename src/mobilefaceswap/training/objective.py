"""The training objective of the student (paper eq. 3-7) over the frozen networks: what they
say about a batch, and the losses of the generator and the discriminator. ``StudentGAN`` runs
it; this module holds what is optimised."""

from dataclasses import dataclass

import torch
from torch import nn

from mobilefaceswap import losses
from mobilefaceswap.models.identity import IdentityFeatures
from mobilefaceswap.models.student import SwapOutput
from mobilefaceswap.training.identity_noise import IdentityNoise


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
class DistillationTargets:
    """Everything the frozen helpers say about one batch; no gradients."""

    source_identity: IdentityFeatures
    reference_image: torch.Tensor  # I'_g (B, 3, S, S): the teacher's output, or the target without KD
    reference_features: list[torch.Tensor]  # VGG_i of the reference
    target_mask: torch.Tensor | None  # M_t (B, 1, S, S); None when L_mask has no weight
    alpha: torch.Tensor  # per-sample weight of L_rec and L_per (B,)


class DistillationObjective:
    """The losses of one batch. ``frozen`` (teacher, identity, perceptual, face_parser, optional
    quality) and ``discriminator`` are the LightningModule's own modules, referenced, not owned:
    they stay where the module registers (and checkpoints) them."""

    def __init__(self, frozen: nn.ModuleDict, discriminator: nn.Module, cfg: LossConfig,
                 identity_noise: IdentityNoise | None = None):
        self.frozen, self.discriminator, self.cfg = frozen, discriminator, cfg
        self.identity_noise = identity_noise if identity_noise is not None and identity_noise.share else None
        if self.identity_noise is not None and frozen["teacher"].identity is not None:
            raise ValueError("model.identity_noise: this teacher reads the source with its own identity network, "
                             "so it would not see the moved features; use share 0")

    def identity(self, image: torch.Tensor) -> IdentityFeatures:
        return self.frozen["identity"](image)

    @torch.no_grad()
    def targets(self, batch: dict, step: int | None = None, rank: int = 0) -> DistillationTargets:
        """``step`` and ``rank``: a training step's, whose sources the identity noise (if any) moves
        before teacher and student read them; the teacher must then run, not come from a cache."""
        h, cfg = self.frozen, self.cfg
        source, target = batch["source"], batch["target"]
        source_identity = self.identity(source)
        if step is not None and self.identity_noise is not None:
            if "reference" in batch:
                raise ValueError("model.identity_noise: a teacher cache holds the teacher's answers to unmoved sources")
            source_identity = self.identity_noise(source_identity, step, rank)
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
            target_mask=self.target_mask(batch) if cfg.lambda_mask else None,
            alpha=alpha,
        )

    def target_mask(self, batch: dict) -> torch.Tensor:
        """M_t: cached by prepare-data, or the face parser's."""
        return batch["target_mask"] if "target_mask" in batch else self.frozen["face_parser"](batch["target"])

    def generator_losses(self, out: SwapOutput, ref: DistillationTargets, adversarial: bool = True) -> dict:
        """The total and each term. A term whose weight is 0 is not computed (the total and its
        gradients are the same without it): the learning curve and the no-ID-loss and no-fusion
        rows do not run the identity network, parser or discriminator for nothing."""
        cfg = self.cfg
        rec = losses.reconstruction_loss(out.image, ref.reference_image)
        per = losses.perceptual_loss(self.frozen["perceptual"](out.image), ref.reference_features)
        total = (ref.alpha * (cfg.lambda_rec * rec + cfg.lambda_per * per)).mean()
        terms = {"rec": rec.mean(), "per": per.mean(), "alpha": ref.alpha.mean()}
        if cfg.lambda_id:
            terms["id"] = losses.identity_loss(ref.source_identity.z, self.identity(out.image).z).mean()
            total = total + cfg.lambda_id * terms["id"]
        if cfg.lambda_mask:
            terms["mask"] = losses.mask_loss(ref.target_mask, out.mask, weak=cfg.weak_mask).mean()
            total = total + cfg.lambda_mask * terms["mask"]
        if adversarial and cfg.lambda_adv:
            terms["adv"] = losses.generator_adversarial_loss(self.discriminator(out.image), cfg.adversarial)
            total = total + cfg.lambda_adv * terms["adv"]
        return {"total": total, **terms}

    def discriminator_loss(self, ref: DistillationTargets, target: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
        """L_adv of the discriminator: real is the target, or the teacher's output (``adversarial_real``)."""
        real = ref.reference_image if self.cfg.adversarial_real == "teacher" else target
        return losses.discriminator_adversarial_loss(self.discriminator(real), self.discriminator(fake), self.cfg.adversarial)
