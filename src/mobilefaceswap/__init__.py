"""MobileFaceSwap in PyTorch: training, evaluation and deployment."""

__version__ = "0.1.0"
