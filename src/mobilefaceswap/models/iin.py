"""Identity Injection Network: turns one identity into the IDN's convolution kernels.

Runs once per source identity. Depthwise kernels are *predicted* from the identity
feature map (paper eq. 1); pointwise kernels are *modulated* by the identity embedding
and demodulated, StyleGAN2-style (paper eq. 2). The ablations of the paper's Table 2 swap
either half for a static kernel shared by every identity, or modulation for AdaIN.

``depthwise_demodulation="balanced"`` (our training choice, not the paper's; "none" for the
released weights) scales each predicted depthwise kernel to an L2 norm of 1/sqrt(k) per channel
(k x k kernel). The IDN has no normalisation between its identity-dependent stages, so the scale
of every activation is the product of the stages' gains. A k x k kernel of L2 norm n gains n on
white input and up to k n on smooth input (all its taps alike, as predicted kernels start): the
unit norm of eq. 2's reasoning let activations grow by about k per stage, to a few hundred at
initialisation on every seed. At norm 1/sqrt(k) the two bounds, 1/sqrt(k) and sqrt(k), have a
geometric mean of 1 and activations stay near 1. The identity is carried by the kernels' shape,
not their gain, so the student also uses its source in eval mode.
"""

from dataclasses import dataclass

import torch
from torch import nn

ENCODER_CHANNELS = (3, 32, 64, 128, 256, 512)
DECODER_IN_CHANNELS = (512, 512, 256, 128)
DECODER_OUT_CHANNELS = (256, 128, 64, 32)
ID_DIM = 512


@dataclass
class IdentityKernels:
    """Kernels of every identity-dependent convolution, for a batch of B identities.

    Encoder lists run shallow to deep, decoder lists in decoding order.
    """

    encoder_depthwise: list[torch.Tensor]  # (B, C_in, 4, 4) each
    encoder_pointwise: list[torch.Tensor]  # (B, C_out, C_in) each
    decoder_depthwise: list[torch.Tensor]  # (B, C_in, 3, 3) each
    decoder_pointwise: list[torch.Tensor]  # (B, C_out, C_in) each
    # AdaIN ablation only: (scale, shift) of each stage's output, (B, C_out) each.
    encoder_adain: list[tuple[torch.Tensor, torch.Tensor]] | None = None
    decoder_adain: list[tuple[torch.Tensor, torch.Tensor]] | None = None

    def select(self, index: int) -> "IdentityKernels":
        """The kernels of sample ``index`` alone, each with a batch dimension of 1."""
        one = lambda tensors: [t[index : index + 1] for t in tensors]
        styles = lambda pairs: None if pairs is None else [tuple(one(pair)) for pair in pairs]
        return IdentityKernels(
            one(self.encoder_depthwise),
            one(self.encoder_pointwise),
            one(self.decoder_depthwise),
            one(self.decoder_pointwise),
            styles(self.encoder_adain),
            styles(self.decoder_adain),
        )


def demodulate(kernels: torch.Tensor, dim: int | tuple[int, ...], eps: float) -> torch.Tensor:
    """``kernels`` scaled to unit L2 norm over ``dim``: eq. 2's demodulation of the pointwise
    kernels (over input channels), and the first half of ours of the depthwise ones."""
    return kernels * torch.rsqrt(kernels.pow(2).sum(dim=dim, keepdim=True) + eps)


def balanced_demodulation(kernels: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """(B, C, k, k) depthwise kernels -> L2 norm 1/sqrt(k) per channel (module docstring)."""
    return demodulate(kernels, dim=(2, 3), eps=eps) / kernels.shape[-1] ** 0.5


DEPTHWISE_DEMODULATIONS = ("none", "balanced")


class ModulatedPointwiseKernel(nn.Module):
    """Paper eq. 2: W' = W * (1 + s), s = FC(z_id) over input channels, then demodulate."""

    def __init__(self, in_channels: int, out_channels: int, id_dim: int = ID_DIM, eps: float = 1e-16):
        super().__init__()
        self.eps = eps
        # Departs from the paper's text, as the released model does: F_m is this one linear layer,
        # where the text describes several (docs/architecture.md, "Departures from the paper's text").
        self.style = nn.Linear(id_dim, in_channels)
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, 1, 1) / in_channels**0.5)

    def forward(self, z_id: torch.Tensor) -> torch.Tensor:
        """z_id: (B, 512) -> (B, C_out, C_in)."""
        scale = 1 + self.style(z_id)[:, None, :]  # (B, 1, C_in)
        w = self.weight[None, :, :, 0, 0] * scale  # (B, C_out, C_in)
        return demodulate(w, dim=2, eps=self.eps)


class StaticPointwiseKernel(nn.Module):
    """Ablation (no modulation, AdaIN): one pointwise kernel for every identity."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, 1, 1) / in_channels**0.5)

    def forward(self, z_id: torch.Tensor) -> torch.Tensor:
        """z_id: (B, 512) -> the shared kernel, (B, C_out, C_in)."""
        return self.weight[None, :, :, 0, 0].expand(len(z_id), -1, -1)


class AdaINStyle(nn.Module):
    """Ablation (AdaIN instead of modulation): z_id -> per-channel (scale, shift) of a stage's output."""

    def __init__(self, channels: int, id_dim: int = ID_DIM):
        super().__init__()
        self.style = nn.Linear(id_dim, 2 * channels)

    def forward(self, z_id: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        scale, shift = self.style(z_id).chunk(2, dim=1)  # (B, C) each
        return scale, shift


class KernelBlock(nn.Module):
    """3x3 conv -> BN -> LReLU on the identity map; a second 3x3 conv reads the kernel off it."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, 3, padding=1)
        self.norm = nn.BatchNorm2d(out_channels)
        self.relu = nn.LeakyReLU(0.1)
        self.weight = nn.Conv2d(out_channels, out_channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x: (B, C_in, k, k) -> features (B, C_out, k, k), kernel (B, C_out, k, k)."""
        features = self.relu(self.norm(self.conv(x)))
        return features, self.weight(features)


class DepthwiseKernelPredictor(nn.Module):
    """Paper eq. 1: F_id (B, 512, 7, 7) -> depthwise kernels of every IDN stage.

    Departs from the paper's text, as the released model does: eq. 1 writes the kernels as a
    function of the embedding z_id; they are read off the 512x7x7 identity feature map here
    (docs/architecture.md, "Departures from the paper's text").
    """

    def __init__(
        self,
        encoder_in_channels: tuple[int, ...] = ENCODER_CHANNELS[:-1],
        decoder_in_channels: tuple[int, ...] = DECODER_IN_CHANNELS,
        id_channels: int = ID_DIM,
    ):
        super().__init__()
        self.first = nn.Conv2d(id_channels, id_channels, 4)  # 7x7 -> 4x4
        self.norm = nn.BatchNorm2d(id_channels)
        self.first_decoder = nn.Conv2d(id_channels, id_channels, 2)  # 4x4 -> 3x3
        self.decoder_norm = nn.BatchNorm2d(id_channels)
        self.relu = nn.LeakyReLU(0.1)
        # The encoder branch runs deep to shallow: its channels shrink as the map is read.
        enc = (id_channels, *reversed(encoder_in_channels))
        self.encoder = nn.ModuleList(KernelBlock(a, b) for a, b in zip(enc[:-1], enc[1:]))
        dec = (id_channels, *decoder_in_channels)
        self.decoder = nn.ModuleList(KernelBlock(a, b) for a, b in zip(dec[:-1], dec[1:]))

    def forward(self, id_map: torch.Tensor) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        x = self.relu(self.norm(self.first(id_map)))  # (B, 512, 4, 4)
        encoder_kernels = []
        y = x
        for block in self.encoder:
            y, kernel = block(y)
            encoder_kernels.append(kernel)
        decoder_kernels = []
        y = self.relu(self.decoder_norm(self.first_decoder(x)))  # (B, 512, 3, 3)
        for block in self.decoder:
            y, kernel = block(y)
            decoder_kernels.append(kernel)
        return encoder_kernels[::-1], decoder_kernels


class StaticDepthwiseKernels(nn.Module):
    """Ablation (no weight prediction): learnt depthwise kernels shared by every identity."""

    def __init__(self, encoder_in_channels: tuple[int, ...], decoder_in_channels: tuple[int, ...]):
        super().__init__()
        self.encoder = nn.ParameterList(nn.Parameter(torch.randn(c, 4, 4) / 4) for c in encoder_in_channels)
        self.decoder = nn.ParameterList(nn.Parameter(torch.randn(c, 3, 3) / 3) for c in decoder_in_channels)

    def forward(self, id_map: torch.Tensor) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        expand = lambda kernels: [k.expand(len(id_map), -1, -1, -1) for k in kernels]
        return expand(self.encoder), expand(self.decoder)


POINTWISE_KINDS = ("modulated", "adain", "static")


class IdentityInjectionNetwork(nn.Module):
    """(z_id, F_id) of a batch of identities -> the IDN's identity-dependent kernels.

    ``weight_prediction=False`` and ``pointwise`` in ("adain", "static") are the network
    ablations of the paper's Table 2; ``depthwise_demodulation`` is ours (module docstring).
    """

    def __init__(
        self,
        encoder_channels: tuple[int, ...] = ENCODER_CHANNELS,
        decoder_in_channels: tuple[int, ...] = DECODER_IN_CHANNELS,
        decoder_out_channels: tuple[int, ...] = DECODER_OUT_CHANNELS,
        id_dim: int = ID_DIM,
        weight_prediction: bool = True,
        pointwise: str = "modulated",
        depthwise_demodulation: str = "none",
    ):
        super().__init__()
        if pointwise not in POINTWISE_KINDS:
            raise ValueError(f"pointwise={pointwise!r}: use one of {POINTWISE_KINDS}")
        if depthwise_demodulation not in DEPTHWISE_DEMODULATIONS:
            raise ValueError(f"depthwise_demodulation={depthwise_demodulation!r}: use one of {DEPTHWISE_DEMODULATIONS}")
        self.depthwise_demodulation = depthwise_demodulation
        encoder_pairs = list(zip(encoder_channels[:-1], encoder_channels[1:]))
        decoder_pairs = list(zip(decoder_in_channels, decoder_out_channels))

        def kernel(a: int, b: int) -> nn.Module:
            return ModulatedPointwiseKernel(a, b, id_dim) if pointwise == "modulated" else StaticPointwiseKernel(a, b)

        self.encoder_pointwise = nn.ModuleList(kernel(a, b) for a, b in encoder_pairs)
        self.decoder_pointwise = nn.ModuleList(kernel(a, b) for a, b in decoder_pairs)
        self.encoder_adain = self.decoder_adain = None
        if pointwise == "adain":
            self.encoder_adain = nn.ModuleList(AdaINStyle(b, id_dim) for _, b in encoder_pairs)
            self.decoder_adain = nn.ModuleList(AdaINStyle(b, id_dim) for _, b in decoder_pairs)
        encoder_in = tuple(encoder_channels[:-1])
        self.predictor = (
            DepthwiseKernelPredictor(encoder_in, tuple(decoder_in_channels), id_dim)
            if weight_prediction
            else StaticDepthwiseKernels(encoder_in, tuple(decoder_in_channels))
        )

    def forward(self, z_id: torch.Tensor, id_map: torch.Tensor) -> IdentityKernels:
        """z_id: (B, 512) L2-normalised, id_map: (B, 512, 7, 7)."""
        encoder_depthwise, decoder_depthwise = self.predictor(id_map)
        if self.depthwise_demodulation == "balanced":
            encoder_depthwise = [balanced_demodulation(k) for k in encoder_depthwise]  # (B, C, k, k)
            decoder_depthwise = [balanced_demodulation(k) for k in decoder_depthwise]
        adain = lambda styles: None if styles is None else [m(z_id) for m in styles]
        return IdentityKernels(
            encoder_depthwise=encoder_depthwise,
            encoder_pointwise=[m(z_id) for m in self.encoder_pointwise],
            decoder_depthwise=decoder_depthwise,
            decoder_pointwise=[m(z_id) for m in self.decoder_pointwise],
            encoder_adain=adain(self.encoder_adain),
            decoder_adain=adain(self.decoder_adain),
        )
