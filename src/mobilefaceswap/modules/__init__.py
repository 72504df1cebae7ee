"""LightningModules."""

from mobilefaceswap.modules.quality_module import QualityModule
from mobilefaceswap.modules.student_gan import StudentGAN

__all__ = ["QualityModule", "StudentGAN"]
