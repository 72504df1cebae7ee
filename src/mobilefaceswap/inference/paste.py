"""Pasting a swapped, aligned crop back into the frame through the inverse alignment."""

from functools import lru_cache

import cv2
import numpy as np


@lru_cache(maxsize=4)
def _feather(size: int, kernel: int, border: int) -> np.ndarray:
    """The crop's border ramp; the same for every frame, so made once."""
    feather = np.zeros((size, size), np.float32)
    feather[border:-border, border:-border] = 1.0
    return cv2.blur(feather, (kernel, kernel))


def blend_mask(mask: np.ndarray, kernel: int = 11, blur: int = 7, border: int = 10) -> np.ndarray:
    """Fusion mask (S, S) in [0, 1] -> soft paste mask: closed, shrunk, blurred, feathered at the edge."""
    m = np.where(mask > 0.001, 1.0, mask).astype(np.float32)  # the mask's support, as the released code
    element = cv2.getStructuringElement(cv2.MORPH_RECT, (kernel, kernel))
    m = cv2.erode(cv2.dilate(m, element), element, iterations=2)
    m = cv2.blur(m, (blur, blur))
    return m * _feather(m.shape[0], kernel, border)


def paste_back(frame: np.ndarray, crop: np.ndarray, mask: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """frame (H, W, 3) uint8; crop (S, S, 3) uint8 and mask (S, S) aligned by ``matrix`` (2, 3).

    Only the frame region the crop maps to is warped and blended, so the cost does not grow
    with the frame size. The frame is modified in place and returned.
    """
    h, w = frame.shape[:2]
    size = crop.shape[0]
    inverse = cv2.invertAffineTransform(matrix)
    corners = np.array([[0, 0, 1], [size, 0, 1], [0, size, 1], [size, size, 1]], np.float32) @ inverse.T
    x0, y0 = np.floor(corners.min(0)).astype(int)
    x1, y1 = np.ceil(corners.max(0)).astype(int)
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
    if x1 <= x0 or y1 <= y0:
        return frame
    shifted = inverse.copy()
    shifted[:, 2] -= (x0, y0)
    roi = (x1 - x0, y1 - y0)
    face = cv2.warpAffine(crop, shifted, roi, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    alpha = cv2.warpAffine(blend_mask(mask), shifted, roi, flags=cv2.INTER_LINEAR)
    region = frame[y0:y1, x0:x1]
    frame[y0:y1, x0:x1] = cv2.blendLinear(face, region, alpha, 1 - alpha)  # uint8 in, uint8 out, in one pass
    return frame
