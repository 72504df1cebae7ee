"""The swapping pipeline: detect, align, run the baked student, paste back.

The source identity is injected once (``set_source`` bakes the IDN); every frame then runs
only the static 0.5M-parameter network. In videos, each tracked face is re-detected every
few frames in a window around it, the whole frame is searched for new faces now and then,
and landmarks are tracked by optical flow in between and smoothed over time.
"""

import logging
from dataclasses import dataclass

import cv2
import numpy as np
from torch import nn

from mobilefaceswap.data.alignment import align_face
from mobilefaceswap.data.detection import DetectedFace, DlibFaceDetector, DlibFaceRecognizer
from mobilefaceswap.data.errors import DataError
from mobilefaceswap.data.pairs import to_tensor
from mobilefaceswap.inference.calibration import calibration_faces
from mobilefaceswap.inference.device import runtime_device
from mobilefaceswap.inference.formats import RUNTIMES
from mobilefaceswap.inference.paste import paste_back
from mobilefaceswap.inference.runtimes import BakedRunner, build_runner
from mobilefaceswap.models.swapper import Swapper

log = logging.getLogger(__name__)


class NoFaceError(DataError):
    """The source (or the --only reference) shows no detectable face."""


@dataclass
class Track:
    landmarks: np.ndarray  # (5, 2), smoothed
    keep: bool  # swap this face (False: it does not match --only)


class FaceSwapPipeline:
    def __init__(
        self,
        swapper: Swapper,
        detector: DlibFaceDetector | None = None,
        redetect_every: int = 5,
        full_detect_every: int = 50,
        smoothing: float = 0.5,
        only_threshold: float = DlibFaceRecognizer.same_person_distance,
        runtime: str = "torch",
        device: str = "cpu",
    ):
        if runtime not in RUNTIMES:
            raise ValueError(f"runtime={runtime!r}: use one of {', '.join(RUNTIMES)}")
        self.runtime = RUNTIMES[runtime]
        self.device = runtime_device(self.runtime, device)
        self.swapper = swapper
        if self.device.type == "cuda":  # the identity is injected on the GPU too
            swapper.student.cuda()
            swapper.identity.cuda()
        self.detector = detector or DlibFaceDetector()
        self.recognizer = DlibFaceRecognizer()
        self.redetect_every = max(1, redetect_every)
        self.full_detect_every = max(self.redetect_every, full_detect_every)
        self.smoothing = smoothing  # weight of the previous landmarks in the moving average
        self.only_threshold = only_threshold
        self.network: nn.Module | None = None
        self.baked: BakedRunner | None = None
        self.reference: np.ndarray | None = None  # descriptor of the --only face
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
        baked = self.swapper.bake(to_tensor(self.as_crop(crop))[None].to(self.device))
        size, template = self.swapper.crop_size, self.swapper.template
        calibration = calibration_faces(size, template).calibration if self.runtime.int8 else None  # aligned as the targets are
        self.network = baked  # the fp32 PyTorch network, whatever runs it (mfs export writes it)
        self.baked = build_runner(self.runtime, baked, size, device=self.device, calibration=calibration)

    def only_faces_like(self, image: np.ndarray) -> None:
        """Swap only faces of the person in ``image`` (dlib descriptor distance below the threshold)."""
        self.reference = self.recognizer.descriptor(image, self._largest_face(image, "--only reference image"))

    # -- frames ----------------------------------------------------------------------------
    def reset(self) -> None:
        """Forget tracked faces (a new video or an unrelated image)."""
        self.tracks: list[Track] = []
        self.previous_gray: np.ndarray | None = None
        self.frame_index = 0

    def swap_aligned(self, crop: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Aligned target crop (S, S, 3) uint8 -> raw swapped crop (uint8) and fusion mask (S, S)."""
        target = (
            crop.transpose(2, 0, 1)[None].astype(np.float32) / 255
        )  # numpy in: no torch threads wake up outside torch runtimes
        image, mask = self.baked.run(target)
        return (image[0].transpose(1, 2, 0).clip(0, 1) * 255 + 0.5).astype(np.uint8), mask[0, 0]

    def _keep(self, image: np.ndarray, face: DetectedFace) -> bool:
        if self.reference is None:
            return True
        distance = np.linalg.norm(self.recognizer.descriptor(image, face) - self.reference)
        return bool(distance < self.only_threshold)

    def _window(self, track: Track, shape: tuple[int, ...]) -> tuple[int, int, int, int]:
        """A square around a tracked face, four eye distances wide."""
        centre = track.landmarks.mean(0)
        half = 2.0 * max(np.linalg.norm(track.landmarks[1] - track.landmarks[0]), 10.0)
        left, top = np.maximum(centre - half, 0).astype(int)
        right, bottom = np.minimum(centre + half, (shape[1], shape[0])).astype(int)
        return int(left), int(top), int(right), int(bottom)

    def _detect(self, frame: np.ndarray, full: bool) -> None:
        if full:
            faces = self.detector(frame)
        else:
            faces = [f for t in self.tracks for f in self.detector.in_window(frame, self._window(t, frame.shape))[:1]]
        tracks = []
        for face in faces:
            landmarks = face.landmarks5
            previous = self._nearest_track(landmarks)
            if previous is not None:  # keep the decision, smooth the landmarks
                landmarks = self.smoothing * previous.landmarks + (1 - self.smoothing) * landmarks
                tracks.append(Track(landmarks, previous.keep))
            else:
                tracks.append(Track(landmarks, self._keep(frame, face)))
        self.tracks = tracks

    def _nearest_track(self, landmarks: np.ndarray) -> Track | None:
        if not self.tracks:
            return None
        eye_distance = np.linalg.norm(landmarks[1] - landmarks[0])
        distances = [np.linalg.norm(t.landmarks.mean(0) - landmarks.mean(0)) for t in self.tracks]
        best = int(np.argmin(distances))
        return self.tracks[best] if distances[best] < eye_distance else None

    def _track(self, gray: np.ndarray) -> None:
        """Follow each face's landmarks with pyramidal Lucas-Kanade optical flow."""
        kept = []
        for track in self.tracks:
            points = track.landmarks.astype(np.float32).reshape(-1, 1, 2)
            moved, status, _ = cv2.calcOpticalFlowPyrLK(self.previous_gray, gray, points, None, winSize=(21, 21), maxLevel=3)
            if status is not None and status.all():
                new = moved.reshape(-1, 2)
                kept.append(Track(self.smoothing * track.landmarks + (1 - self.smoothing) * new, track.keep))
        self.tracks = kept

    def swap_frame(self, frame: np.ndarray, video: bool = True) -> tuple[np.ndarray, int]:
        """RGB frame -> (frame with every kept face swapped, number swapped). ``frame`` is not modified."""
        if self.baked is None:
            raise RuntimeError("call set_source before swapping")
        gray = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
        i = self.frame_index
        if not video or not self.tracks or i % self.full_detect_every == 0:
            self._detect(frame, full=True)
        elif i % self.redetect_every == 0:
            self._detect(frame, full=False)
        else:
            self._track(gray)
        self.previous_gray, self.frame_index = gray, i + 1
        out = frame.copy()
        swapped = 0
        for track in self.tracks:
            if not track.keep:
                continue
            crop, matrix = align_face(frame, track.landmarks, self.swapper.crop_size, self.swapper.template)
            face, mask = self.swap_aligned(crop)
            paste_back(out, face, mask, matrix)
            swapped += 1
        return out, swapped
