"""Teacher generators distilled into the student, and the wrapper that gives them an identity."""

import torch
from torch import nn

from mobilefaceswap.models.identity import IdentityEncoder
from mobilefaceswap.models.teachers.faceshifter import FaceShifterGenerator
from mobilefaceswap.models.teachers.simswap import SimSwapGenerator


class Teacher(nn.Module):
    """A generator ``(target, z_id) -> swapped`` and the identity network it reads the source with.

    ``identity=None`` means the teacher shares the student's identity network (SimSwap and
    the paper's student both use the IR-SE [3, 4, 23, 3] ArcFace), so z_id is passed in.
    """

    def __init__(self, generator: nn.Module, identity: IdentityEncoder | None = None):
        super().__init__()
        self.generator = generator
        self.identity = identity

    def forward(self, source: torch.Tensor, target: torch.Tensor, shared_z_id: torch.Tensor) -> torch.Tensor:
        z_id = shared_z_id if self.identity is None else self.identity(source).z
        return self.generator(target, z_id)


__all__ = ["FaceShifterGenerator", "SimSwapGenerator", "Teacher"]
