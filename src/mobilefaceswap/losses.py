"""The training objective, one function per equation of the paper.

Distillation terms return one value per sample so the reweighting alpha can scale them.
Total: L = L_adv + alpha * (30 L_rec + 5 L_per) + 3 L_id + 10 L_mask.
"""

import torch
import torch.nn.functional as F


def reconstruction_loss(student: torch.Tensor, teacher: torch.Tensor) -> torch.Tensor:
    """Eq. 3, L_rec = |I'_g - I_g|_1: (B, 3, S, S) x2 -> (B,)."""
    return (teacher - student).abs().flatten(1).mean(dim=1)


def perceptual_loss(student_features: list[torch.Tensor], teacher_features: list[torch.Tensor]) -> torch.Tensor:
    """Eq. 4, L_per = sum_i 1/N_i ||VGG_i(I'_g) - VGG_i(I_g)||^2 -> (B,)."""
    return sum((t - s).pow(2).flatten(1).mean(dim=1) for s, t in zip(student_features, teacher_features))


def distillation_weight(z_source: torch.Tensor, z_teacher_output: torch.Tensor, quality: torch.Tensor) -> torch.Tensor:
    """Eq. 5, alpha = cos(z_id, z'_id)^2 * Q(I'_g) -> (B,); a weight, so no gradient."""
    return (F.cosine_similarity(z_source, z_teacher_output, dim=1).pow(2) * quality).detach()


def identity_loss(z_source: torch.Tensor, z_output: torch.Tensor) -> torch.Tensor:
    """Eq. 6, L_id = 1 - cos(z_id(I_s), z_id(I_g)) -> (B,)."""
    return 1 - F.cosine_similarity(z_source, z_output, dim=1)


def mask_loss(target_mask: torch.Tensor, predicted_mask: torch.Tensor, weak: bool = True) -> torch.Tensor:
    """Eq. 7, L_mask = |M_t[bg] - M_g[bg]|_1 over background pixels (weak), or all pixels -> (B,)."""
    error = (target_mask - predicted_mask).abs().flatten(1)
    if not weak:
        return error.mean(dim=1)
    background = (target_mask < 0.5).flatten(1).float()
    return (error * background).sum(dim=1) / background.sum(dim=1).clamp(min=1)


def generator_adversarial_loss(fake_logits: list[torch.Tensor], kind: str = "hinge") -> torch.Tensor:
    """L_adv for the generator, averaged over discriminator scales."""
    if kind == "hinge":
        terms = [-f.mean() for f in fake_logits]
    elif kind == "lsgan":
        terms = [(f - 1).pow(2).mean() for f in fake_logits]
    elif kind == "nonsaturating":
        terms = [F.softplus(-f).mean() for f in fake_logits]
    else:
        raise ValueError(f"unknown adversarial loss {kind!r}: use hinge, lsgan or nonsaturating")
    return sum(terms) / len(terms)


def discriminator_adversarial_loss(
    real_logits: list[torch.Tensor], fake_logits: list[torch.Tensor], kind: str = "hinge"
) -> torch.Tensor:
    """The discriminator's side of L_adv, averaged over scales."""
    if kind == "hinge":
        terms = [F.relu(1 - r).mean() + F.relu(1 + f).mean() for r, f in zip(real_logits, fake_logits)]
    elif kind == "lsgan":
        terms = [(r - 1).pow(2).mean() + f.pow(2).mean() for r, f in zip(real_logits, fake_logits)]
    elif kind == "nonsaturating":
        terms = [F.softplus(-r).mean() + F.softplus(f).mean() for r, f in zip(real_logits, fake_logits)]
    else:
        raise ValueError(f"unknown adversarial loss {kind!r}: use hinge, lsgan or nonsaturating")
    return sum(terms) / len(terms)
