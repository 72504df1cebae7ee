"""Lightning callbacks."""

from mobilefaceswap.callbacks.image_grid import ImageGridLogger
from mobilefaceswap.callbacks.run_id import WandbRunId
from mobilefaceswap.callbacks.swap_metrics import SwapMetricsLogger

__all__ = ["ImageGridLogger", "SwapMetricsLogger", "WandbRunId"]
