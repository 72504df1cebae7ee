"""Lightning callbacks."""

from mobilefaceswap.callbacks.image_grid import ImageGridLogger

__all__ = ["ImageGridLogger"]
