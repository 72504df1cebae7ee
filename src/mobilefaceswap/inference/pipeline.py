"""The swapping pipeline: detect, align, run the baked student, paste back.

The source identity is injected once (``set_source`` bakes the IDN); every frame then runs
only the static 0.5M-parameter network. In videos, each tracked face is re-detected every
few frames in a window around it, the whole frame is searched for new faces now and then
(both on downscaled copies), landmarks follow optical flow in between and are smoothed over
time with a One Euro filter; all faces of a frame are swapped in one batched call.
"""

import logging
from dataclasses import dataclass

import cv2
import numpy as np
import torch
from torch import nn

from mobilefaceswap.data.alignment import align_face
from mobilefaceswap.data.detection import DetectedFace, DlibFaceDetector, DlibFaceRecognizer
from mobilefaceswap.data.errors import DataError
from mobilefaceswap.data.pairs import to_tensor
from mobilefaceswap.inference.export import OnnxBaked
from mobilefaceswap.inference.paste import paste_back
from mobilefaceswap.inference.smoothing import LandmarkFilter
from mobilefaceswap.inference.stage_times import StageTimes
from mobilefaceswap.models.swapper import Swapper

log = logging.getLogger(__name__)


class NoFaceError(DataError):
    """The source (or the --only reference) shows no detectable face."""


@dataclass
class Track:
    measured: np.ndarray  # (5, 2) as last detected or followed by optical flow
    landmarks: np.ndarray  # (5, 2) smoothed over time: what the face is aligned with
    keep: bool  # swap this face (False: it does not match --only)
    smoother: LandmarkFilter


# Video search sizes: the whole frame is searched with its long side at DETECT_SIDE pixels
# (upsampled once by dlib: faces from about 1/8 of that side up), a tracked face's window with
# the eyes WINDOW_EYE_DISTANCE pixels apart (dlib's HOG finds faces from 80 pixels wide).
DETECT_SIDE = 640
WINDOW_EYE_DISTANCE = 48.0


class FaceSwapPipeline:
    def __init__(
        self,
        swapper: Swapper,
        detector: DlibFaceDetector | None = None,
        redetect_every: int = 5,
        full_detect_every: int = 50,
        smoothing: float = 1.0,
        smoothing_beta: float = 2.0,
        only_threshold: float = DlibFaceRecognizer.same_person_distance,
        runtime: str = "torch",
    ):
        if runtime not in ("torch", "onnx"):
            raise ValueError(f"runtime={runtime!r}: use torch or onnx")
        self.runtime = runtime
        self.swapper = swapper
        self.detector = detector or DlibFaceDetector()
        self.recognizer = DlibFaceRecognizer()
        self.redetect_every = max(1, redetect_every)
        self.full_detect_every = max(self.redetect_every, full_detect_every)
        self.smoothing = smoothing  # One Euro minimum cutoff (Hz); 0: none
        self.smoothing_beta = smoothing_beta  # how fast the cutoff rises with speed (per eye distance per second)
        self.only_threshold = only_threshold
        self.baked: nn.Module | OnnxBaked | None = None
        self.reference: np.ndarray | None = None  # descriptor of the --only face
        self.times = StageTimes()
        self.reset()

    # -- identities ----------------------------------------------------------------------
    def _largest_face(self, image: np.ndarray, what: str) -> DetectedFace:
        faces = self.detector(image)
        if not faces:
            raise NoFaceError(f"no face found in the {what}")
        return faces[0]

    def set_source(self, image: np.ndarray) -> None:
        """Inject the identity of the largest face in ``image`` (RGB uint8): bake once."""
        face = self._largest_face(image, "source image")
        crop, _ = align_face(image, face.landmarks5, self.swapper.crop_size, self.swapper.template)
        self.set_aligned_source(crop)

    def as_crop(self, aligned: np.ndarray) -> np.ndarray:
        """An already aligned face at any size -> the crop size the student expects."""
        size = self.swapper.crop_size
        return aligned if aligned.shape[:2] == (size, size) else cv2.resize(aligned, (size, size), interpolation=cv2.INTER_AREA)

    def set_aligned_source(self, crop: np.ndarray) -> None:
        baked = self.swapper.bake(to_tensor(self.as_crop(crop))[None])
        onnx = self.runtime == "onnx"
        self.baked = OnnxBaked.from_module(baked, self.swapper.crop_size, spinning=False) if onnx else baked

    def only_faces_like(self, image: np.ndarray) -> None:
        """Swap only faces of the person in ``image`` (dlib descriptor distance below the threshold)."""
        self.reference = self.recognizer.descriptor(image, self._largest_face(image, "--only reference image"))

    # -- frames ----------------------------------------------------------------------------
    def reset(self, fps: float = 25.0) -> None:
        """Forget tracked faces (a new video of ``fps`` frames per second, or an unrelated image)."""
        self.tracks: list[Track] = []
        self.previous_gray: np.ndarray | None = None
        self.frame_index = 0
        self.fps = fps

    def swap_crops(self, crops: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Aligned target crops (N, S, S, 3) uint8 -> raw swapped crops (N, S, S, 3) uint8 and fusion masks (N, S, S), in one call."""
        target = crops.transpose(0, 3, 1, 2).astype(np.float32) / 255  # numpy only: no torch threads wake up
        if isinstance(self.baked, OnnxBaked):
            image, mask = self.baked.run(target)
        else:
            with torch.no_grad():
                image, mask = (t.numpy() for t in self.baked(torch.from_numpy(target)))
        return (image.transpose(0, 2, 3, 1).clip(0, 1) * 255 + 0.5).astype(np.uint8), mask[:, 0]

    def swap_aligned(self, crop: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Aligned target crop (S, S, 3) uint8 -> raw swapped crop (uint8) and fusion mask (S, S)."""
        faces, masks = self.swap_crops(crop[None])
        return faces[0], masks[0]

    def _keep(self, image: np.ndarray, face: DetectedFace) -> bool:
        if self.reference is None:
            return True
        distance = np.linalg.norm(self.recognizer.descriptor(image, face) - self.reference)
        return bool(distance < self.only_threshold)

    def _window(self, track: Track, shape: tuple[int, ...], half_width: float = 2.0) -> tuple[int, int, int, int]:
        """A square around a tracked face, ``2 * half_width`` eye distances wide."""
        centre = track.measured.mean(0)
        half = half_width * self._eye_distance(track.measured)
        left, top = np.maximum(centre - half, 0).astype(int)
        right, bottom = np.minimum(centre + half, (shape[1], shape[0])).astype(int)
        return int(left), int(top), int(right), int(bottom)

    @staticmethod
    def _eye_distance(landmarks: np.ndarray) -> float:
        return max(float(np.linalg.norm(landmarks[1] - landmarks[0])), 10.0)

    def _detect(self, frame: np.ndarray, full: bool, video: bool) -> None:
        if full:
            scale = min(1.0, DETECT_SIDE / max(frame.shape[:2])) if video else 1.0
            faces = self.detector(frame, scale=scale)
        else:
            faces = [
                f
                for t in self.tracks
                for f in self.detector.in_window(frame, self._window(t, frame.shape), scale=min(1.0, WINDOW_EYE_DISTANCE / self._eye_distance(t.measured)))[:1]
            ]
        tracks = []
        for face in faces:
            previous = self._nearest_track(face.landmarks5)
            if previous is not None:  # the same face: keep its decision and its smoothing
                tracks.append(Track(face.landmarks5, previous.landmarks, previous.keep, previous.smoother))
            else:
                smoother = LandmarkFilter(face.landmarks5, self.fps, self.smoothing, self.smoothing_beta)
                tracks.append(Track(face.landmarks5, face.landmarks5, self._keep(frame, face), smoother))
        self.tracks = tracks

    def _nearest_track(self, landmarks: np.ndarray) -> Track | None:
        if not self.tracks:
            return None
        eye_distance = np.linalg.norm(landmarks[1] - landmarks[0])
        distances = [np.linalg.norm(t.measured.mean(0) - landmarks.mean(0)) for t in self.tracks]
        best = int(np.argmin(distances))
        return self.tracks[best] if distances[best] < eye_distance else None

    def _track(self, gray: np.ndarray) -> None:
        """Follow each face's measured landmarks with pyramidal Lucas-Kanade optical flow (the
        smoothed ones would drift behind a moving face), in a window six eye distances wide
        around the face: the image pyramids are built for that window, not the whole frame."""
        kept = []
        for track in self.tracks:
            left, top, right, bottom = self._window(track, gray.shape, half_width=3.0)
            corner = np.float32([left, top])
            points = (track.measured - corner).astype(np.float32).reshape(-1, 1, 2)
            before, after = self.previous_gray[top:bottom, left:right], gray[top:bottom, left:right]
            moved, status, _ = cv2.calcOpticalFlowPyrLK(before, after, points, None, winSize=(21, 21), maxLevel=3)
            if status is not None and status.all():
                kept.append(Track(moved.reshape(-1, 2) + corner, track.landmarks, track.keep, track.smoother))
        self.tracks = kept

    def update_tracks(self, frame: np.ndarray, video: bool = True, seconds: float | None = None) -> list[Track]:
        """Detect or follow the faces of ``frame`` (RGB) and smooth their landmarks; ``seconds``
        is the frame's timestamp (variable frame rates are smoothed by their real time steps)."""
        i = self.frame_index
        with self.times("track"):
            gray = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY) if video else None
        if not video or not self.tracks or i % self.full_detect_every == 0:
            with self.times("detect"):
                self._detect(frame, full=True, video=video)
        elif i % self.redetect_every == 0:
            with self.times("detect"):
                self._detect(frame, full=False, video=video)
        else:
            with self.times("track"):
                self._track(gray)
        for track in self.tracks:
            track.landmarks = track.smoother(track.measured, seconds) if video else track.measured
        self.previous_gray, self.frame_index = gray, i + 1
        return self.tracks

    def swap_frame(self, frame: np.ndarray, video: bool = True, seconds: float | None = None) -> tuple[np.ndarray, int]:
        """RGB frame -> (frame with every kept face swapped, number swapped). ``frame`` is not modified."""
        if self.baked is None:
            raise RuntimeError("call set_source before swapping")
        kept = [t for t in self.update_tracks(frame, video, seconds) if t.keep]
        out = frame.copy()
        if not kept:
            return out, 0
        size, template = self.swapper.crop_size, self.swapper.template
        with self.times("align"):
            crops, matrices = zip(*(align_face(frame, t.landmarks, size, template) for t in kept))
        with self.times("swap"):
            faces, masks = self.swap_crops(np.stack(crops))
        with self.times("paste"):
            for face, mask, matrix in zip(faces, masks, matrices):
                paste_back(out, face, mask, matrix)
        return out, len(kept)
