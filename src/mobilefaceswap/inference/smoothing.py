"""Temporal smoothing of a tracked face's landmarks with the One Euro filter (Casiez et al.,
CHI 2012): a low-pass filter whose cutoff rises with the speed of the motion, so that a still
face stops jittering while a moving one is followed without lag."""

import numpy as np
from OneEuroFilter import OneEuroFilter

# `mfs swap`'s settings (--smoothing, --smoothing-beta), chosen with `mfs bench`'s smoothing
# entry: less jitter on a still face and less lag on a moving one than the exponential
# average they replace.
SMOOTHING_MIN_CUTOFF = 0.5  # Hz
SMOOTHING_BETA = 5.0


class LandmarkFilter:
    """One One Euro filter per coordinate of the five landmarks.

    Coordinates are filtered in units of the face's eye distance (fixed when the face is first
    seen), so that ``beta`` means the same for a small and a large face, at any resolution.
    ``min_cutoff`` (Hz) <= 0 switches smoothing off.
    """

    def __init__(self, first: np.ndarray, fps: float, min_cutoff: float, beta: float):
        self.scale = max(float(np.linalg.norm(first[1] - first[0])), 1.0)
        self.filters = [OneEuroFilter(fps, min_cutoff, beta) for _ in range(first.size)] if min_cutoff > 0 else None

    def __call__(self, landmarks: np.ndarray, seconds: float | None) -> np.ndarray:
        if self.filters is None:
            return landmarks
        flat = landmarks.ravel() / self.scale
        smoothed = [f(float(x), seconds) for f, x in zip(self.filters, flat)]
        return (np.array(smoothed, np.float32) * self.scale).reshape(landmarks.shape)
