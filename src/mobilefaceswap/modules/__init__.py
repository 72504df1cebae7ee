"""LightningModules."""

from mobilefaceswap.modules.student_gan import StudentGAN

__all__ = ["StudentGAN"]
