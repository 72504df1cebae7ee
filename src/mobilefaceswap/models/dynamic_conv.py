"""Convolutions whose kernels differ per sample (one identity per sample).

Training sees a batch of different identities; these run it in one call, with no
Python loop over samples: depthwise kernels through a grouped convolution, pointwise
kernels through a batched matrix product.
"""

import torch
import torch.nn.functional as F


def per_sample_depthwise_conv(
    x: torch.Tensor, kernels: torch.Tensor, stride: int, padding: int
) -> torch.Tensor:
    """x: (B, C, H, W), kernels: (B, C, k, k) -> (B, C, H', W')."""
    b, c, h, w = x.shape
    k = kernels.shape[-1]
    out = F.conv2d(
        x.reshape(1, b * c, h, w),
        kernels.reshape(b * c, 1, k, k),
        stride=stride,
        padding=padding,
        groups=b * c,
    )
    return out.reshape(b, c, *out.shape[-2:])


def per_sample_pointwise_conv(x: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """x: (B, C_in, H, W), weights: (B, C_out, C_in) -> (B, C_out, H, W)."""
    b, c, h, w = x.shape
    return torch.bmm(weights, x.reshape(b, c, h * w)).reshape(b, -1, h, w)
