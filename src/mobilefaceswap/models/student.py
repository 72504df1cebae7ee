"""The MobileFaceSwap student: IIN + IDN + weakly semantic fusion, and its baked form."""

import copy
from dataclasses import dataclass

import torch
from torch import nn

from mobilefaceswap.models.fusion import MASK_CHANNELS, WeakSemanticFusion, fuse
from mobilefaceswap.models.idn import (
    DECODER_PADDING,
    ENCODER_PADDING,
    ENCODER_STRIDE,
    IdentityAwareDynamicNetwork,
    OutputHead,
    adain,
    decoder_input_channels,
    run_idn,
)
from mobilefaceswap.models.iin import DECODER_OUT_CHANNELS, ENCODER_CHANNELS, ID_DIM, IdentityInjectionNetwork, IdentityKernels


@dataclass
class SwapOutput:
    image: torch.Tensor  # I_g, fused with the target: (B, 3, S, S) in [0, 1]
    raw: torch.Tensor  # IDN output before fusion: (B, 3, S, S) in [0, 1]
    mask: torch.Tensor  # M_g: (B, 1, S, S) in [0, 1]


class MobileFaceSwap(nn.Module):
    """Dynamic student used for training: a batch of (target, identity) pairs in one forward.

    The switches are the network ablations of the paper's Table 2: ``weight_prediction``
    (False: static depthwise kernels), ``pointwise`` ("modulated", "adain" or "static"),
    ``skips`` (False: the AutoEncoder) and ``fusion`` (False: the raw IDN output, mask 1).
    ``depthwise_demodulation`` is our training choice ("balanced": depthwise kernels of a fixed
    norm, see :mod:`~mobilefaceswap.models.iin`); "none" by default, as in the released model.
    """

    def __init__(
        self,
        weight_prediction: bool = True,
        pointwise: str = "modulated",
        skips: bool = True,
        fusion: bool = True,
        depthwise_demodulation: str = "none",
        encoder_channels: tuple[int, ...] = ENCODER_CHANNELS,
        decoder_out_channels: tuple[int, ...] = DECODER_OUT_CHANNELS,
        mask_channels: tuple[int, ...] = MASK_CHANNELS,
        id_dim: int = ID_DIM,
    ):
        super().__init__()
        # The constructor's settings, recorded in swapper files so that any variant is rebuilt.
        self.arch = {
            "encoder_channels": [int(c) for c in encoder_channels],
            "decoder_out_channels": [int(c) for c in decoder_out_channels],
            "mask_channels": [int(c) for c in mask_channels],
            "id_dim": int(id_dim),
            "weight_prediction": bool(weight_prediction),
            "pointwise": str(pointwise),
            "skips": bool(skips),
            "fusion": bool(fusion),
            "depthwise_demodulation": str(depthwise_demodulation),
        }
        decoder_in = decoder_input_channels(tuple(encoder_channels), tuple(decoder_out_channels), skips)
        self.iin = IdentityInjectionNetwork(
            encoder_channels, decoder_in, decoder_out_channels, id_dim, weight_prediction, pointwise, depthwise_demodulation
        )
        self.idn = IdentityAwareDynamicNetwork(decoder_out_channels, skips)
        self.fusion = WeakSemanticFusion(mask_channels) if fusion else None

    def forward(self, target: torch.Tensor, z_id: torch.Tensor, id_map: torch.Tensor) -> SwapOutput:
        """target: (B, 3, S, S) in [0, 1]; z_id: (B, 512); id_map: (B, 512, 7, 7)."""
        return self.swap(target, self.iin(z_id, id_map))

    def swap(self, target: torch.Tensor, kernels: IdentityKernels) -> SwapOutput:
        raw, bottleneck = self.idn(target, kernels)
        if self.fusion is None:
            return SwapOutput(image=raw, raw=raw, mask=torch.ones_like(raw[:, :1]))
        # The mask must not steer the IDN's features. Detached as in the released model; the paper's
        # text does not say (docs/architecture.md, "Departures from the paper's text").
        mask = self.fusion(bottleneck.detach())
        return SwapOutput(image=fuse(raw, mask, target), raw=raw, mask=mask)

    @torch.no_grad()
    def bake(self, z_id: torch.Tensor, id_map: torch.Tensor) -> "BakedMobileFaceSwap":
        """Inject one source identity and return a static network for every frame.

        z_id: (1, 512); id_map: (1, 512, 7, 7). Call in eval mode for inference.
        """
        if z_id.shape[0] != 1 or id_map.shape[0] != 1:
            raise ValueError(f"bake takes one identity, got a batch of {z_id.shape[0]}")
        return BakedMobileFaceSwap.from_kernels(self, self.iin(z_id, id_map))


class FixedAdaIN(nn.Module):
    """The AdaIN ablation's scale and shift for one identity, frozen into the baked network."""

    def __init__(self, scale: torch.Tensor, shift: torch.Tensor):
        super().__init__()
        self.register_buffer("scale", scale.clone())  # (1, C)
        self.register_buffer("shift", shift.clone())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return adain(x, self.scale, self.shift)


def _static_stage(
    depthwise: torch.Tensor, pointwise: torch.Tensor, stride: int, padding: int, style: tuple | None
) -> nn.Sequential:
    """One identity's kernels as ordinary convolutions: (1, C, k, k) and (1, C_out, C_in)."""
    channels, k = depthwise.shape[1], depthwise.shape[-1]
    dw = nn.Conv2d(channels, channels, k, stride=stride, padding=padding, groups=channels, bias=False)
    dw.weight.copy_(depthwise[0, :, None])
    pw = nn.Conv2d(channels, pointwise.shape[1], 1, bias=False)
    pw.weight.copy_(pointwise[0, :, :, None, None])
    return nn.Sequential(dw, pw) if style is None else nn.Sequential(dw, pw, FixedAdaIN(*style))


class BakedMobileFaceSwap(nn.Module):
    """The student with one identity baked in: ordinary convolutions, no identity inputs."""

    def __init__(
        self,
        encoder: nn.ModuleList,
        decoder: nn.ModuleList,
        head: OutputHead,
        fusion: WeakSemanticFusion | None,
        skips: bool = True,
    ):
        super().__init__()
        self.encoder = encoder
        self.decoder = decoder
        self.head = head
        self.fusion = fusion
        self.skips = skips

    @classmethod
    def from_kernels(cls, student: MobileFaceSwap, kernels: IdentityKernels) -> "BakedMobileFaceSwap":
        def styles(adain_params, n):
            return adain_params or [None] * n

        encoder = nn.ModuleList(
            _static_stage(d, p, ENCODER_STRIDE, ENCODER_PADDING, s)
            for d, p, s in zip(
                kernels.encoder_depthwise,
                kernels.encoder_pointwise,
                styles(kernels.encoder_adain, len(kernels.encoder_pointwise)),
            )
        )
        decoder = nn.ModuleList(
            _static_stage(d, p, 1, DECODER_PADDING, s)
            for d, p, s in zip(
                kernels.decoder_depthwise,
                kernels.decoder_pointwise,
                styles(kernels.decoder_adain, len(kernels.decoder_pointwise)),
            )
        )
        fusion = copy.deepcopy(student.fusion) if student.fusion is not None else None
        baked = cls(encoder, decoder, copy.deepcopy(student.idn.head), fusion, student.idn.skips)
        return baked.train(student.training).to(kernels.encoder_pointwise[0].device)

    def forward(self, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """target: (B, 3, S, S) in [0, 1] -> swapped (B, 3, S, S), mask (B, 1, S, S)."""
        raw, bottleneck = run_idn(target, self.encoder, self.decoder, self.head, self.skips)
        if self.fusion is None:
            return raw, torch.ones_like(raw[:, :1])
        mask = self.fusion(bottleneck)
        return fuse(raw, mask, target), mask
