"""Face alignment of five landmarks (eye centres, nose tip, mouth corners) onto a template.

``arcface``: the 112 ArcFace template scaled to the crop, as the released MobileFaceSwap
code and SimSwap at 224 align. ``ffhq``: the FFHQ-style template (SimSwap 512, FaceShifter).
The student must see faces aligned as its teacher saw them.
"""

import cv2
import numpy as np
from insightface.utils.face_align import arcface_dst
from skimage.transform import SimilarityTransform

# Five points, image-left first, as fractions of the crop side.
TEMPLATES = {
    "arcface": arcface_dst / 112.0,
    "ffhq": np.array(
        [[192.98138, 239.94708], [318.90277, 240.1936], [256.63416, 314.01935], [201.26117, 371.41043], [313.08905, 371.15118]]
    )
    / 512.0,
}


def face_template(size: int, name: str = "arcface") -> np.ndarray:
    """(5, 2) template in pixels of a size x size crop."""
    if name not in TEMPLATES:
        raise ValueError(f"unknown alignment template {name!r}: use one of {sorted(TEMPLATES)}")
    return TEMPLATES[name] * size


def alignment_matrix(landmarks: np.ndarray, size: int, template: str = "arcface") -> np.ndarray:
    """(5, 2) landmarks in the image -> (2, 3) similarity transform onto the template."""
    transform = SimilarityTransform.from_estimate(np.asarray(landmarks, np.float64), face_template(size, template))
    return transform.params[:2].astype(np.float32)


def align_face(image: np.ndarray, landmarks: np.ndarray, size: int, template: str = "arcface") -> tuple[np.ndarray, np.ndarray]:
    """image (H, W, 3) -> aligned crop (size, size, 3) and the (2, 3) matrix that made it."""
    matrix = alignment_matrix(landmarks, size, template)
    return warp_to_crop(image, matrix, size), matrix


def warp_to_crop(image: np.ndarray, matrix: np.ndarray, size: int) -> np.ndarray:
    """The size x size crop of ``image`` under a (2, 3) alignment matrix (``align_face``'s warp)."""
    return cv2.warpAffine(image, matrix, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
