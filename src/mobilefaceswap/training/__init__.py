"""LightningModules."""

from mobilefaceswap.training.quality_module import QualityModule
from mobilefaceswap.training.student_gan import StudentGAN

__all__ = ["QualityModule", "StudentGAN"]
