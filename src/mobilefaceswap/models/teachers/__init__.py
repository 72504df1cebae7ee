"""Teacher generators distilled into the student, and the wrapper that gives them an identity."""

import torch
from torch import nn

from mobilefaceswap.models.identity import IdentityEncoder, IdentityFeatures
from mobilefaceswap.models.teachers.faceshifter import FaceShifterGenerator
from mobilefaceswap.models.teachers.mobilefaceswap import MobileFaceSwapTeacher
from mobilefaceswap.models.teachers.simswap import SimSwapGenerator


class Teacher(nn.Module):
    """A generator ``(target, z_id) -> swapped`` and the identity network it reads the source with.

    ``identity=None`` means the teacher shares the student's identity network (SimSwap, the
    released MobileFaceSwap and the paper's student all use the IR-SE [3, 4, 23, 3] ArcFace),
    so the student's identity features are passed in. A generator with ``needs_identity_map``
    also reads F_id: ``(target, z_id, F_id) -> swapped``.
    """

    def __init__(self, generator: nn.Module, identity: IdentityEncoder | None = None):
        super().__init__()
        self.generator = generator
        self.identity = identity

    def forward(self, source: torch.Tensor, target: torch.Tensor, shared_identity: IdentityFeatures) -> torch.Tensor:
        identity = shared_identity if self.identity is None else self.identity(source)
        if getattr(self.generator, "needs_identity_map", False):
            return self.generator(target, identity.z, identity.map)
        return self.generator(target, identity.z)


__all__ = ["FaceShifterGenerator", "MobileFaceSwapTeacher", "SimSwapGenerator", "Teacher"]
