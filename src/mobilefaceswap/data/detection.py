"""Face detection and landmarks from dlib, with the models shipped in face_recognition_models."""

from dataclasses import dataclass
from functools import cached_property
from importlib.metadata import distribution
from pathlib import Path

import numpy as np

# Quarter turns counter-clockwise a picture without an upright face is searched again with:
# 90 degrees either way (a phone held sideways), then 180 (upside down).
TURNS = (1, 3, 2)


def dlib_model_file(name: str) -> str:
    """A model file shipped in face_recognition_models, found from its installed files: importing
    the package would need pkg_resources, which recent setuptools no longer has."""
    return str(Path(distribution("face_recognition_models").locate_file(f"face_recognition_models/models/{name}")))


@dataclass
class DetectedFace:
    box: tuple[int, int, int, int]  # left, top, right, bottom
    score: float
    landmarks68: np.ndarray  # (68, 2)

    @property
    def landmarks5(self) -> np.ndarray:
        """ArcFace's five points: eye centres, nose tip, mouth corners, image-left first."""
        p = self.landmarks68
        return np.stack([p[36:42].mean(0), p[42:48].mean(0), p[30], p[48], p[54]]).astype(np.float32)


class DlibFaceRecognizer:
    """dlib's 128-d face descriptor (the face_recognition_models ResNet); same person below 0.6."""

    same_person_distance = 0.6

    @cached_property
    def _model(self):
        import dlib

        return dlib.face_recognition_model_v1(dlib_model_file("dlib_face_recognition_resnet_model_v1.dat"))

    def descriptor(self, image: np.ndarray, face: DetectedFace) -> np.ndarray:
        import dlib

        rect = dlib.rectangle(*face.box)
        shape = dlib.full_object_detection(rect, [dlib.point(int(x), int(y)) for x, y in face.landmarks68])
        return np.array(self._model.compute_face_descriptor(np.ascontiguousarray(image), shape))


class DlibFaceDetector:
    """HOG face detector + 68-point shape predictor; needs no download."""

    def __init__(self, upsample: int = 1, min_score: float = 0.2):
        self.upsample = upsample
        self.min_score = min_score

    @cached_property
    def _models(self):
        import dlib

        return dlib.get_frontal_face_detector(), dlib.shape_predictor(dlib_model_file("shape_predictor_68_face_landmarks.dat"))

    def __call__(self, image: np.ndarray, upsample: int | None = None, scale: float = 1.0, turn: int = 0) -> list[DetectedFace]:
        """image: (H, W, 3) uint8 RGB or (H, W) grey -> faces, largest first. ``upsample`` finds
        smaller faces, slower.

        ``scale`` < 1 searches a downscaled copy (HOG's cost falls with its area) and places the
        landmarks on the full image, so they keep its precision. ``turn``: search the image turned
        by that many quarter turns counter-clockwise (faces lying on their side, or upside down:
        HOG finds faces within about 45 degrees of upright); the faces are given in ``image``'s
        coordinates, their landmarks still naming each eye as the face's own.
        """
        if turn % 4:
            turned = self(np.ascontiguousarray(np.rot90(image, turn % 4)), upsample, scale)
            return [_turned_back(face, turn % 4, image.shape) for face in turned]
        import cv2
        import dlib

        detector, predictor = self._models
        image = np.ascontiguousarray(image)
        searched = image if scale >= 1 else cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        rects, scores, _ = detector.run(searched, self.upsample if upsample is None else upsample, self.min_score)
        faces = []
        for rect, score in zip(rects, scores):
            if scale < 1:
                rect = dlib.rectangle(*(round(v / scale) for v in (rect.left(), rect.top(), rect.right(), rect.bottom())))
            shape = predictor(image, rect)
            points = np.array([(shape.part(i).x, shape.part(i).y) for i in range(68)], np.float32)
            faces.append(DetectedFace((rect.left(), rect.top(), rect.right(), rect.bottom()), float(score), points))
        return sorted(faces, key=lambda f: -(f.box[2] - f.box[0]) * (f.box[3] - f.box[1]))

    def search(self, image: np.ndarray, scale: float = 1.0) -> tuple[list[DetectedFace], int]:
        """The faces of ``image`` upright or, where none is upright, at the first of ``TURNS`` that
        shows some (in ``image``'s coordinates); and that turn (0: upright)."""
        for turn in (0, *TURNS):
            if faces := self(image, scale=scale, turn=turn):
                return faces, turn
        return [], 0

    def in_window(
        self, image: np.ndarray, box: tuple[int, int, int, int], upsample: int = 0, scale: float = 1.0, turn: int = 0
    ) -> list[DetectedFace]:
        """Faces inside ``box`` (left, top, right, bottom) of ``image``, in image coordinates."""
        left, top, right, bottom = box
        faces = self(image[top:bottom, left:right], upsample, scale, turn)
        shift = np.array([left, top], np.float32)
        return [
            DetectedFace((f.box[0] + left, f.box[1] + top, f.box[2] + left, f.box[3] + top), f.score, f.landmarks68 + shift)
            for f in faces
        ]


def _turned_back(face: DetectedFace, turn: int, shape: tuple[int, ...]) -> DetectedFace:
    """A face found in an image turned by ``turn`` quarter turns counter-clockwise (``np.rot90``),
    placed on the unturned image of ``shape``."""
    height, width = shape[:2]

    def back(points: np.ndarray) -> np.ndarray:
        x, y = points[:, 0], points[:, 1]
        unturned = {1: (width - 1 - y, x), 2: (width - 1 - x, height - 1 - y), 3: (y, height - 1 - x)}[turn]
        return np.stack(unturned, axis=1).astype(np.float32)

    corners = back(np.array([face.box[:2], face.box[2:]], np.float32))
    (left, top), (right, bottom) = corners.min(0), corners.max(0)
    return DetectedFace((int(left), int(top), int(right), int(bottom)), face.score, back(face.landmarks68))
