"""Evaluation metrics as torchmetrics ``Metric``s, usable outside Lightning."""

from mobilefaceswap.metrics.expression import ExpressionError
from mobilefaceswap.metrics.fid import build_fid
from mobilefaceswap.metrics.identity import IdentityRetrieval
from mobilefaceswap.metrics.pose import PoseError

__all__ = ["ExpressionError", "IdentityRetrieval", "PoseError", "build_fid"]
