"""Teacher generators distilled into the student."""

from mobilefaceswap.models.teachers.simswap import SimSwapGenerator

__all__ = ["SimSwapGenerator"]
