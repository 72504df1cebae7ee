"""Pose error: L2 distance between the (yaw, pitch, roll) of swapped and target faces, degrees.

Backends: Hopenet (ResNet-50 with binned angle heads, weights from a local path) as in the
paper; the embedded default fits a generic 3D face to dlib's 68 landmarks with solvePnP.
"""

import cv2
import numpy as np
import torch
import torchvision.transforms.v2.functional as TF
from torch import nn
from torchvision.models.resnet import Bottleneck, ResNet

from mobilefaceswap.data.detection import DetectedFace
from mobilefaceswap.metrics.distance import MeanDistance
from mobilefaceswap.models.imagenet import imagenet_normalize


class PoseError(MeanDistance):
    def update(self, swapped_pose: torch.Tensor, target_pose: torch.Tensor) -> None:
        """(N, 3) yaw, pitch, roll in degrees."""
        self.add((swapped_pose.float() - target_pose.float()).norm(dim=1))


# A generic face in millimetres (nose tip at the origin) for the six landmarks below.
FACE_MODEL_3D = np.array(
    [
        (0.0, 0.0, 0.0),
        (0.0, -330.0, -65.0),
        (-225.0, 170.0, -135.0),
        (225.0, 170.0, -135.0),
        (-150.0, -150.0, -125.0),
        (150.0, -150.0, -125.0),
    ]
)
MODEL_LANDMARKS = [30, 8, 36, 45, 48, 54]  # nose tip, chin, eye outer corners, mouth corners


def landmark_pose(face: DetectedFace, image_size: tuple[int, int]) -> np.ndarray:
    """(yaw, pitch, roll) in degrees of a face from its 68 landmarks and a pinhole camera."""
    h, w = image_size
    camera = np.array([[w, 0, w / 2], [0, w, h / 2], [0, 0, 1]], np.float64)
    points = face.landmarks68[MODEL_LANDMARKS].astype(np.float64)
    ok, rotation, _ = cv2.solvePnP(
        FACE_MODEL_3D, points, camera, None, flags=cv2.SOLVEPNP_SQPNP
    )  # globally optimal: no flipped local minimum
    if not ok:
        raise ValueError("solvePnP found no pose")
    matrix, _ = cv2.Rodrigues(rotation)
    # The model's y axis points up and its z towards the camera; the camera's y points down and
    # its z away. A frontal face thus gives diag(1, -1, -1): angles are read relative to it.
    matrix = matrix @ np.diag([1.0, -1.0, -1.0])
    pitch = np.degrees(np.arctan2(matrix[2, 1], matrix[2, 2]))
    yaw = np.degrees(np.arcsin(np.clip(-matrix[2, 0], -1, 1)))
    roll = np.degrees(np.arctan2(matrix[1, 0], matrix[0, 0]))
    return np.array([yaw, pitch, roll])


def hopenet_box(box: tuple[int, int, int, int], image_shape: tuple[int, ...]) -> tuple[int, int, int, int]:
    """Hopenet's crop around a dlib face box, as its reference code (deep-head-pose,
    ``test_on_video_dlib.py``) cuts it: half the box width added left and right, three quarters
    of its height above and a quarter below, clipped to the image."""
    left, top, right, bottom = box
    width, height = abs(right - left), abs(bottom - top)
    return (
        max(left - 2 * width // 4, 0),
        max(top - 3 * height // 4, 0),
        min(right + 2 * width // 4, image_shape[1]),
        min(bottom + height // 4, image_shape[0]),
    )


class Hopenet(nn.Module):
    """Hopenet (Ruiz et al.): ResNet-50 with three 66-bin heads of 3 degrees; keys of its released weights."""

    def __init__(self, bins: int = 66):
        super().__init__()
        backbone = ResNet(Bottleneck, [3, 4, 6, 3])
        for name in ("conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3", "layer4", "avgpool"):
            setattr(self, name, getattr(backbone, name))
        self.fc_yaw = nn.Linear(2048, bins)
        self.fc_pitch = nn.Linear(2048, bins)
        self.fc_roll = nn.Linear(2048, bins)
        self.fc_finetune = nn.Linear(2048 + 3, 3)  # in the released file, unused at inference
        self.register_buffer("bin_centres", torch.arange(bins, dtype=torch.float32) * 3 - 99, persistent=False)
        self.normalize = imagenet_normalize()

    @staticmethod
    def preprocess(crop: torch.Tensor) -> torch.Tensor:
        """The reference transform: shorter side resized to 224 (antialiased bilinear, as PIL's
        ``Scale(224)``), then the central 224x224."""
        return TF.center_crop(TF.resize(crop, 224, antialias=True), [224, 224])

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        """Hopenet crops (B, 3, H, W) in [0, 1] (``hopenet_box``) -> (B, 3) yaw, pitch, roll in degrees."""
        x = self.preprocess(image)
        x = self.maxpool(self.relu(self.bn1(self.conv1(self.normalize(x)))))
        x = self.avgpool(self.layer4(self.layer3(self.layer2(self.layer1(x))))).flatten(1)
        angles = [(head(x).softmax(dim=1) * self.bin_centres).sum(dim=1) for head in (self.fc_yaw, self.fc_pitch, self.fc_roll)]
        return torch.stack(angles, dim=1)
