"""Sources that no training photo holds: a share of each training batch's identity features moved
in a random direction (ours, not the paper's; docs/training-choices.md measures it).

Distillation needs no identity labels: any point of identity space is a source the teacher can
answer, as long as teacher and student read the same features (a teacher that shares the
student's identity network, and no teacher cache). A few training faces span a few directions of
that space; moved features teach the student the teacher's response in the others."""

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from mobilefaceswap.models.identity import IdentityFeatures


@dataclass
class IdentityNoise:
    share: float = 0.0  # the chance that a source of a batch is moved; 0: off
    scale: float = 1.0  # the move's length, in units of the batch's spread between its sources
    seed: int = 0  # with the step and the rank, what draws the moves (resumed runs draw the same)
    fade_steps: int = 0  # > 0: the chance falls linearly from share at step 0 to 0 at this step

    def __post_init__(self):
        if not 0 <= self.share <= 1:
            raise ValueError(f"model.identity_noise.share={self.share}: use a chance in [0, 1]")
        if not (math.isfinite(self.scale) and self.scale >= 0):
            raise ValueError(f"model.identity_noise.scale={self.scale}: use a finite length >= 0")
        if self.fade_steps < 0:
            raise ValueError(f"model.identity_noise.fade_steps={self.fade_steps}: use 0 (no fading) or a step")

    def share_at(self, step: int) -> float:
        return self.share * max(0.0, 1 - step / self.fade_steps) if self.fade_steps > 0 else self.share

    def __call__(self, identity: IdentityFeatures, step: int, rank: int = 0) -> IdentityFeatures:
        """z (B, 512) and F_id (B, 512, 7, 7) with a share of the rows moved; z stays of norm 1."""
        share = self.share_at(step)
        if not share:
            return identity
        generator = torch.Generator().manual_seed(hash((self.seed, step, rank)) % 2**63)
        moved = (torch.rand(len(identity.z), generator=generator) < share).to(identity.z.device)  # (B,)
        z = F.normalize(identity.z + self._move(identity.z, moved, generator), dim=1)
        z = torch.where(moved[:, None], z, identity.z)  # the others exactly as they were
        return IdentityFeatures(z=z, map=identity.map + self._move(identity.map, moved, generator))

    def _move(self, features: torch.Tensor, moved: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """(B, ...) -> the moves: for each moved row, a random direction of length scale x spread."""
        rows = (-1, *[1] * (features.dim() - 1))  # a value per row, broadcast over its features
        direction = torch.randn(features.shape, generator=generator).to(features)
        direction = direction / direction.flatten(1).norm(dim=1).view(rows)
        return direction * (self.scale * spread(features) * moved.to(features)).view(rows)


def spread(features: torch.Tensor) -> torch.Tensor:
    """(B, ...) -> () the mean distance of a row from the batch's mean row."""
    flat = features.flatten(1)
    return (flat - flat.mean(0)).norm(dim=1).mean()
