"""Expression error: distance between normalised eye and mouth landmark shapes (beyond the paper)."""

import torch

from mobilefaceswap.metrics.distance import MeanDistance

EYES_AND_MOUTH = list(range(36, 48)) + list(range(48, 68))  # dlib's 68-point indices


def normalised_shape(landmarks: torch.Tensor) -> torch.Tensor:
    """(N, 68, 2) -> eye and mouth points, centred and divided by the inter-ocular distance."""
    left_eye, right_eye = landmarks[:, 36:42].mean(1), landmarks[:, 42:48].mean(1)
    scale = (right_eye - left_eye).norm(dim=1)[:, None, None]
    points = landmarks[:, EYES_AND_MOUTH]
    return (points - points.mean(1, keepdim=True)) / scale


class ExpressionError(MeanDistance):
    def update(self, swapped_landmarks: torch.Tensor, target_landmarks: torch.Tensor) -> None:
        """(N, 68, 2) landmarks of swapped and target faces."""
        self.add((normalised_shape(swapped_landmarks.float()) - normalised_shape(target_landmarks.float())).norm(dim=2).mean(1))
