"""The swapping pipeline: detect, align, run the baked student, paste back.

The source identity is injected once (``set_source`` bakes the IDN); every frame then runs
only the static 0.5M-parameter network. The faces of a video are tracked (``tracking.py``);
all faces of a frame are swapped in one batched call.
"""

import logging

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
from mobilefaceswap.inference.smoothing import SMOOTHING_BETA, SMOOTHING_MIN_CUTOFF
from mobilefaceswap.inference.stage_times import StageTimes
from mobilefaceswap.inference.tracking import FaceTracker, Track
from mobilefaceswap.models.swapper import Swapper

log = logging.getLogger(__name__)


class NoFaceError(DataError):
    """The source (or the --only reference) shows no detectable face."""


class NonFiniteOutputError(DataError):
    """The swapper gave NaN or infinite values: the faces would come out black, so nothing is written."""


def check_finite(image: np.ndarray, mask: np.ndarray) -> None:
    bad_faces = int((~np.isfinite(image).reshape(len(image), -1).all(1) | ~np.isfinite(mask).reshape(len(mask), -1).all(1)).sum())
    if bad_faces:
        raise NonFiniteOutputError(
            f"the swapper gave NaN or infinite values for {bad_faces} of {len(image)} face(s): not written, as they would "
            "come out black; the swapper file (or its runtime) is faulty"
        )


class FaceSwapPipeline:
    def __init__(
        self,
        swapper: Swapper,
        detector: DlibFaceDetector | None = None,
        redetect_every: int = 5,
        full_detect_every: int = 50,
        smoothing: float = SMOOTHING_MIN_CUTOFF,
        smoothing_beta: float = SMOOTHING_BETA,
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
        self.only_threshold = only_threshold
        self.network: nn.Module | None = None
        self.baked: BakedRunner | None = None
        self.reference: np.ndarray | None = None  # descriptor of the --only face
        self.warnings: list[str] = []  # about the source and --only faces, for the run's summary
        self.times = StageTimes()
        self.tracker = FaceTracker(
            self.detector, self._keep, self.times, redetect_every, full_detect_every, smoothing, smoothing_beta
        )

    # -- identities ----------------------------------------------------------------------
    def _largest_face(self, image: np.ndarray, what: str) -> DetectedFace:
        faces = self.detector(image)
        if not faces:
            raise NoFaceError(f"no face found in the {what}")
        if len(faces) > 1:  # said, so that nobody is surprised by whose identity is swapped in
            left, top, right, _ = faces[0].box
            warning = (f"the {what} shows {len(faces)} faces: the largest is used ({right - left} px wide, at x={left}, "
                       f"y={top}); crop the photo to use another")
            log.warning(warning)
            self.warnings.append(warning)
        return faces[0]

    def set_source(self, image: np.ndarray) -> None:
        """Inject the identity of the largest face in ``image`` (RGB uint8): bake once."""
        face = self._largest_face(image, "source image")
        crop, _ = align_face(image, face.landmarks5, self.swapper.crop_size, self.swapper.template)
        self.set_aligned_source(crop)

    def as_crop(self, aligned: np.ndarray) -> np.ndarray:
        """An already aligned face at any size -> the crop size the student expects."""
        height, width = aligned.shape[:2]
        if height != width:  # resizing would squash it: it is not the aligned crop --aligned takes
            raise DataError(f"--aligned takes square aligned face crops; this image is {width}x{height}")
        size = self.swapper.crop_size
        return aligned if aligned.shape[:2] == (size, size) else cv2.resize(aligned, (size, size), interpolation=cv2.INTER_AREA)

    def set_aligned_source(self, crop: np.ndarray) -> None:
        baked = self.swapper.bake(to_tensor(self.as_crop(crop))[None].to(self.device))
        size, template = self.swapper.crop_size, self.swapper.template
        calibration = calibration_faces(size, template).calibration if self.runtime.int8 else None  # aligned as the targets are
        self.network = baked  # the fp32 PyTorch network, whatever runs it (mfs export writes it)
        # ONNX Runtime's idle threads sleep: the decoder and encoder threads need the cores
        self.baked = build_runner(self.runtime, baked, size, device=self.device, calibration=calibration, spinning=False)

    def only_faces_like(self, image: np.ndarray) -> None:
        """Swap only faces of the person in ``image`` (dlib descriptor distance below the threshold)."""
        self.reference = self.recognizer.descriptor(image, self._largest_face(image, "--only reference image"))

    # -- frames ----------------------------------------------------------------------------
    def reset(self, fps: float = 25.0) -> None:
        """Forget tracked faces (a new video of ``fps`` frames per second, or an unrelated image)."""
        self.tracker.reset(fps)

    def swap_crops(self, crops: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Aligned target crops (N, S, S, 3) uint8 -> raw swapped crops (N, S, S, 3) uint8 and fusion
        masks (N, S, S), in one call."""
        target = crops.transpose(0, 3, 1, 2).astype(np.float32) / 255  # numpy only: no torch threads wake up
        image, mask = self.baked.run(target)
        check_finite(image, mask)
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

    def update_tracks(self, frame: np.ndarray, video: bool = True, seconds: float | None = None) -> list[Track]:
        """The faces of ``frame``, tracked (see ``tracking.py``)."""
        return self.tracker.update(frame, video, seconds)

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
