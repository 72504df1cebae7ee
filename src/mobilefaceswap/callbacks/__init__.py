"""Lightning callbacks."""

from mobilefaceswap.callbacks.image_grid import ImageGridLogger
from mobilefaceswap.callbacks.last_checkpoint import ExceptionCheckpoint, LastStepCheckpoint
from mobilefaceswap.callbacks.learning_curve import LearningCurveLogger, ValidationCurveLogger
from mobilefaceswap.callbacks.random_state import RandomStateCheckpoint
from mobilefaceswap.callbacks.run_id import WandbRunId
from mobilefaceswap.callbacks.swap_metrics import SwapMetricsLogger
from mobilefaceswap.callbacks.throughput import TrainingThroughput

__all__ = [
    "ExceptionCheckpoint",
    "ImageGridLogger",
    "LastStepCheckpoint",
    "LearningCurveLogger",
    "RandomStateCheckpoint",
    "SwapMetricsLogger",
    "TrainingThroughput",
    "ValidationCurveLogger",
    "WandbRunId",
]
