"""Invisible watermark: a 40-bit payload (format version + per-output id) hidden in the
mid frequencies of the image's luminance, readable after JPEG and resizing.

Scheme (spread-transform dither modulation, on scipy's DCT and reedsolo's Reed-Solomon code):

- the luminance is resized to a fixed 256x256 canvas, so that a resized copy maps onto the
  same canvas (scale invariance);
- payload bytes + CRC-16 are Reed-Solomon encoded into ``CODED_BITS`` bits; each bit owns a
  keyed pseudo-random set of mid-frequency DCT coefficients of the canvas and a +-1 pattern
  over them, and is read from the canvas's projection on that pattern;
- embedding moves each projection to the nearest point of its bit's lattice (dither
  modulation: bit 0 and bit 1 lattices are half a ``STEP`` apart, with a keyed offset per
  bit), so the photo's own content does not interfere; the step is set for a mean squared
  change of ``MSE``; the change is upsampled to full size and added to R, G and B alike;
- reading takes the nearer lattice of each bit, marks the least certain bytes as erasures, decodes, and accepts
  only when the CRC matches (a random image passes with odds of about 1 in 65,536).
"""

from binascii import crc_hqx
from dataclasses import dataclass

import cv2
import numpy as np
from reedsolo import ReedSolomonError, RSCodec
from scipy.fft import dctn, idctn

FORMAT_VERSION = 1
CANVAS = 256
BAND = (6.0, 40.0)  # radial DCT frequency band of the canvas the bits live in
KEY = 0x4D465357  # "MFSW": seeds where the bits live; fixed, so any copy of mfs can read any mark
PAYLOAD_BYTES = 5  # version (1) + id (4)
PARITY_BYTES = 6
CODED_BITS = 8 * (PAYLOAD_BYTES + 2 + PARITY_BYTES)
MSE = 3.0  # expected per-pixel mean squared change of R, G and B (about 43 dB PSNR)
STEP = float(np.sqrt(12 * MSE * CANVAS * CANVAS / CODED_BITS))  # a uniform quantisation error costs STEP**2 / 12 a bit
_CODEC = RSCodec(PARITY_BYTES)


@dataclass(frozen=True)
class Mark:
    version: int
    id: int  # 32 bits, chosen per output
    confidence: float  # fraction of the coded bits read as written (0.5 is chance, 1 is intact)

    def as_dict(self) -> dict:
        return {"version": self.version, "id": f"{self.id:08x}", "confidence": round(self.confidence, 3)}


def _layout() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Flat coefficient indices (CODED_BITS, k), their unit +-1 weights and each bit's lattice
    offset (fractions of STEP), from the fixed key."""
    u, v = np.meshgrid(np.arange(CANVAS), np.arange(CANVAS), indexing="ij")
    radius = np.hypot(u, v)
    band = np.flatnonzero((radius >= BAND[0]) & (radius < BAND[1]))
    rng = np.random.default_rng(KEY)
    per_bit = len(band) // CODED_BITS
    indices = rng.permutation(band)[: per_bit * CODED_BITS].reshape(CODED_BITS, per_bit)
    weights = rng.choice([-1.0, 1.0], size=indices.shape) / np.sqrt(per_bit)
    dither = rng.random(CODED_BITS)
    return indices, weights, dither


_INDICES, _WEIGHTS, _DITHER = _layout()


def _luma_canvas(rgb: np.ndarray) -> np.ndarray:
    # Luma first (BT.601 weights): area-resizing one channel costs a third of three (a 720p frame
    # 1.6 ms instead of 4 here), and rounding luma to 8 bits moves the canvas by 0.3 levels on average.
    luma = cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2GRAY)
    return cv2.resize(luma, (CANVAS, CANVAS), interpolation=cv2.INTER_AREA).astype(np.float32)


def _projections(rgb: np.ndarray) -> np.ndarray:
    coefficients = dctn(_luma_canvas(rgb), norm="ortho").ravel()
    return (coefficients[_INDICES] * _WEIGHTS).sum(axis=1)


def _codeword_bits(version: int, mark_id: int) -> np.ndarray:
    payload = bytes([version]) + int(mark_id).to_bytes(4, "big")
    message = payload + crc_hqx(payload, 0xFFFF).to_bytes(2, "big")
    return np.unpackbits(np.frombuffer(bytes(_CODEC.encode(message)), np.uint8)).astype(np.float64)


def embed(rgb: np.ndarray, mark_id: int, version: int = FORMAT_VERSION) -> np.ndarray:
    """``rgb`` (H, W, 3) uint8 with the mark of ``mark_id`` (0 .. 2**32 - 1) hidden in it."""
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise ValueError(f"watermark needs an RGB uint8 image, got {rgb.dtype} {rgb.shape}")
    offset = (_DITHER + _codeword_bits(version, mark_id) / 2) * STEP  # bit 0 and bit 1 lattices, half a step apart
    projections = _projections(rgb)
    push = np.round((projections - offset) / STEP) * STEP + offset - projections  # to the nearest point of the bit's lattice
    delta = np.zeros(CANVAS * CANVAS)
    np.add.at(delta, _INDICES.ravel(), (push[:, None] * _WEIGHTS).ravel())
    change = cv2.merge([idctn(delta.reshape(CANVAS, CANVAS), norm="ortho").astype(np.float32)] * 3)
    change = cv2.resize(change, (rgb.shape[1], rgb.shape[0]), interpolation=cv2.INTER_LINEAR)  # band-limited: linear is enough
    return cv2.add(rgb, change, dtype=cv2.CV_8U)  # rounds and saturates

def phases(rgb: np.ndarray) -> np.ndarray:
    """Per coded bit: +1 on bit 0's lattice, -1 on bit 1's, near 0 when unsure."""
    return np.cos(2 * np.pi * (_projections(rgb) / STEP - _DITHER))


def decode(phase: np.ndarray, max_erasures: int = PARITY_BYTES) -> Mark | None:
    """The mark whose bits ``phase`` reads (the mean over frames of a video is read the same
    way), or None: no mark, or too damaged to read."""
    bits = phase < 0
    received = bytes(np.packbits(bits))
    order = np.argsort(np.abs(phase).reshape(-1, 8).min(axis=1))  # least certain bytes first
    for erasures in range(0, max_erasures + 1, 2):
        try:
            message = bytes(_CODEC.decode(received, erase_pos=sorted(order[:erasures].tolist()))[0])
        except ReedSolomonError:
            continue
        payload, crc = message[:PAYLOAD_BYTES], int.from_bytes(message[PAYLOAD_BYTES:], "big")
        if crc != crc_hqx(payload, 0xFFFF):
            continue
        mark_id = int.from_bytes(payload[1:], "big")
        agreement = float((bits == _codeword_bits(payload[0], mark_id)).mean())
        return Mark(version=payload[0], id=mark_id, confidence=agreement)
    return None


def detect(rgb: np.ndarray) -> Mark | None:
    return decode(phases(rgb))
