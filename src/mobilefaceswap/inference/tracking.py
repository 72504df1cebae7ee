"""Following the faces of a video: each tracked face is re-detected every few frames in a
window around it, the whole frame is searched for new faces now and then (both on downscaled
copies), landmarks follow optical flow in between and are smoothed over time with a One Euro
filter; a frame without an upright face is searched again turned. An image is one detection
(turned where nothing is upright), without smoothing."""

from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

from mobilefaceswap.data.detection import DetectedFace, DlibFaceDetector
from mobilefaceswap.inference.smoothing import SMOOTHING_BETA, SMOOTHING_MIN_CUTOFF, LandmarkFilter
from mobilefaceswap.inference.stage_times import StageTimes


@dataclass
class Track:
    measured: np.ndarray  # (5, 2) as last detected or followed by optical flow
    landmarks: np.ndarray  # (5, 2) smoothed over time: what the face is aligned with
    keep: bool  # swap this face (False: it does not match --only)
    smoother: LandmarkFilter
    misses: int = 0  # detections in a row that did not find this face (it was followed by flow)
    turn: int = 0  # quarter turns counter-clockwise the face is searched with (a face lying on its side)


# Video search sizes: the whole frame is searched with its long side at DETECT_SIDE pixels
# (upsampled once by dlib: faces from 40 pixels of that copy, 80 of a 720p frame), a tracked
# face's window with the face's size (see _face_size) at WINDOW_FACE_SIZE pixels (dlib's HOG
# finds faces from 80 pixels wide); the landmarks are then placed on the full-size frame.
DETECT_SIDE = 640
WINDOW_FACE_SIZE = 48.0
FLOW_FACE_SIZE = 64.0  # optical flow needs no more detail than this to follow five landmarks
# A face the detector misses (turned away, blurred) is followed by optical flow for up to this
# many detections in a row before it is given up.
MAX_MISSES = 4


class FaceTracker:
    """The faces of consecutive frames; ``keep(image, face)`` decides once per new face whether it
    is swapped (``--only``), and the decision follows the face."""

    def __init__(
        self,
        detector: DlibFaceDetector,
        keep: Callable[[np.ndarray, DetectedFace], bool],
        times: StageTimes,
        redetect_every: int = 5,
        full_detect_every: int = 50,
        smoothing: float = SMOOTHING_MIN_CUTOFF,
        smoothing_beta: float = SMOOTHING_BETA,
    ):
        self.detector, self.keep, self.times = detector, keep, times
        self.redetect_every = max(1, redetect_every)
        self.full_detect_every = max(self.redetect_every, full_detect_every)
        self.smoothing = smoothing  # One Euro minimum cutoff (Hz); 0: none
        self.smoothing_beta = smoothing_beta  # how fast the cutoff rises with speed (per eye distance per second)
        self.reset()

    def reset(self, fps: float = 25.0) -> None:
        """Forget tracked faces (a new video of ``fps`` frames per second, or an unrelated image)."""
        self.tracks: list[Track] = []
        self.previous_gray: np.ndarray | None = None
        self.frame_index = 0
        self.fps = fps

    def _window(self, track: Track, shape: tuple[int, ...], half_width: float = 2.0) -> tuple[int, int, int, int]:
        """A square around a tracked face, ``2 * half_width`` face sizes wide."""
        centre = track.measured.mean(0)
        half = half_width * self._face_size(track.measured)
        left, top = np.maximum(centre - half, 0).astype(int)
        right, bottom = np.minimum(centre + half, (shape[1], shape[0])).astype(int)
        return int(left), int(top), int(right), int(bottom)

    @staticmethod
    def _face_size(landmarks: np.ndarray) -> float:
        """The eye distance, or for a face turned aside (eyes foreshortened) the eyes-to-mouth distance."""
        eyes = float(np.linalg.norm(landmarks[1] - landmarks[0]))
        eyes_to_mouth = float(np.linalg.norm(landmarks[:2].mean(0) - landmarks[3:].mean(0)))
        return max(eyes, eyes_to_mouth, 10.0)

    def _detect(self, frame: np.ndarray, gray: np.ndarray | None, video: bool) -> None:
        """Search the whole frame (in videos its grey levels, downscaled: HOG on one channel is
        cheaper); tracked faces it misses are followed."""
        scale = min(1.0, DETECT_SIDE / max(frame.shape[:2])) if video else 1.0
        tracks, matched = [], set()
        faces, turn = self._search(frame if gray is None else gray, scale, video)
        for face in faces:
            previous = self._nearest_track(face.landmarks5)
            if previous is not None:  # the same face: keep its decision and its smoothing
                matched.add(id(previous))
                tracks.append(Track(face.landmarks5, previous.landmarks, previous.keep, previous.smoother, turn=turn))
            else:
                smoother = LandmarkFilter(face.landmarks5, self.fps, self.smoothing, self.smoothing_beta)
                tracks.append(Track(face.landmarks5, face.landmarks5, self.keep(frame, face), smoother, turn=turn))
        if video:
            tracks += [t for t in (self._missed(t, gray) for t in self.tracks if id(t) not in matched) if t is not None]
        self.tracks = tracks

    def _search(self, image: np.ndarray, scale: float, video: bool) -> tuple[list[DetectedFace], int]:
        """The faces of the whole image upright, or where there is none, turned (phone footage held
        sideways or upside down); and the turn. In videos the turned search is made on re-detection
        frames only (every ``redetect_every``), so that footage without faces stays cheap."""
        if video and self.frame_index % self.redetect_every:
            return self.detector(image, scale=scale), 0
        return self.detector.search(image, scale)

    def _redetect(self, frame: np.ndarray, gray: np.ndarray) -> None:
        """Detect each tracked face again in a window around it (downscaled to a fixed face size)."""
        tracks = []
        for track in self.tracks:
            scale = min(1.0, WINDOW_FACE_SIZE / self._face_size(track.measured))
            found = self.detector.in_window(gray, self._window(track, frame.shape), scale=scale, turn=track.turn)[:1]
            if found:
                tracks.append(Track(found[0].landmarks5, track.landmarks, track.keep, track.smoother, turn=track.turn))
            elif (missed := self._missed(track, gray)) is not None:
                tracks.append(missed)
        self.tracks = tracks

    def _missed(self, track: Track, gray: np.ndarray) -> Track | None:
        if track.misses >= MAX_MISSES or (followed := self._follow(track, gray)) is None:
            return None
        followed.misses = track.misses + 1
        return followed

    def _nearest_track(self, landmarks: np.ndarray) -> Track | None:
        if not self.tracks:
            return None
        distances = [np.linalg.norm(t.measured.mean(0) - landmarks.mean(0)) for t in self.tracks]
        best = int(np.argmin(distances))
        return self.tracks[best] if distances[best] < self._face_size(landmarks) else None

    def _follow(self, track: Track, gray: np.ndarray) -> Track | None:
        """The track moved by pyramidal Lucas-Kanade optical flow of its measured landmarks (the
        smoothed ones would drift behind a moving face), or None where the flow is lost. The flow
        runs in a window six face sizes wide, downscaled to FLOW_FACE_SIZE: pyramids of that
        window, not of the whole frame."""
        left, top, right, bottom = self._window(track, gray.shape, half_width=3.0)
        scale = min(1.0, FLOW_FACE_SIZE / self._face_size(track.measured))
        before, after = self.previous_gray[top:bottom, left:right], gray[top:bottom, left:right]
        if scale < 1:
            before, after = (cv2.resize(g, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) for g in (before, after))
        corner = np.float32([left, top])
        points = ((track.measured - corner) * scale).astype(np.float32).reshape(-1, 1, 2)
        moved, status, _ = cv2.calcOpticalFlowPyrLK(before, after, points, None, winSize=(21, 21), maxLevel=3)
        if status is None or not status.all():
            return None
        return Track(moved.reshape(-1, 2) / scale + corner, track.landmarks, track.keep, track.smoother, track.misses, track.turn)

    def update(self, frame: np.ndarray, video: bool = True, seconds: float | None = None) -> list[Track]:
        """Detect or follow the faces of ``frame`` (RGB) and smooth their landmarks; ``seconds``
        is the frame's timestamp (variable frame rates are smoothed by their real time steps)."""
        i = self.frame_index
        with self.times("track"):
            gray = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY) if video else None
        if not video or not self.tracks or i % self.full_detect_every == 0:
            with self.times("detect"):
                self._detect(frame, gray, video)
        elif i % self.redetect_every == 0:
            with self.times("detect"):
                self._redetect(frame, gray)
        else:
            with self.times("track"):
                self.tracks = [t for t in (self._follow(t, gray) for t in self.tracks) if t is not None]
        for track in self.tracks:
            track.landmarks = track.smoother(track.measured, seconds) if video else track.measured
        self.previous_gray, self.frame_index = gray, i + 1
        return self.tracks
