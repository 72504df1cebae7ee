"""Face alignment to the 5-point ArcFace template, scaled to the crop size.

This is the alignment of the released MobileFaceSwap code and of SimSwap at 224: the
student must see faces aligned as its teacher saw them.
"""

import cv2
import numpy as np
from insightface.utils.face_align import arcface_dst
from skimage.transform import SimilarityTransform


def arcface_template(size: int) -> np.ndarray:
    """(5, 2) template: eye centres, nose tip, mouth corners (image left first) for a size x size crop."""
    return arcface_dst * (size / 112.0)


def alignment_matrix(landmarks: np.ndarray, size: int) -> np.ndarray:
    """(5, 2) landmarks in the image -> (2, 3) similarity transform onto the template."""
    transform = SimilarityTransform.from_estimate(np.asarray(landmarks, np.float64), arcface_template(size))
    return transform.params[:2].astype(np.float32)


def align_face(image: np.ndarray, landmarks: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """image (H, W, 3) -> aligned crop (size, size, 3) and the (2, 3) matrix that made it."""
    matrix = alignment_matrix(landmarks, size)
    crop = cv2.warpAffine(image, matrix, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    return crop, matrix
