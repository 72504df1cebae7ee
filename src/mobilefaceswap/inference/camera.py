"""A camera for ``mfs live``: frames from a device (OpenCV) or from a video file played at its own
frame rate (PyAV, upright as ``mfs swap`` reads it), captured on a thread of their own. Only the
newest frame is kept: a consumer slower than the camera gets fewer frames, never older ones."""

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from mobilefaceswap.data.errors import DataError
from mobilefaceswap.inference.stage_times import StageTimes
from mobilefaceswap.inference.video import _open_input, _Reader


@dataclass
class CapturedFrame:
    rgb: np.ndarray
    seconds: float  # the frame's time in the stream, from its first frame
    captured: float  # time.perf_counter() when the camera gave it: latency is counted from here


class NewestFrame:
    """A slot holding the newest captured frame; one put over a frame never taken counts as a drop."""

    def __init__(self) -> None:
        self._frame: CapturedFrame | None = None
        self._closed = False
        self._ready = threading.Condition()
        self.captured = self.dropped = 0

    def put(self, frame: CapturedFrame) -> None:
        with self._ready:
            self.dropped += self._frame is not None
            self.captured += 1
            self._frame = frame
            self._ready.notify()

    def close(self) -> None:
        with self._ready:
            self._closed = True
            self._ready.notify()

    def take(self, stop: threading.Event | None = None) -> CapturedFrame | None:
        """The newest frame not taken yet, waiting for one; None once the camera has ended or ``stop`` is set."""
        with self._ready:
            while not (stop is not None and stop.is_set()):
                if self._frame is not None or self._closed:
                    frame, self._frame = self._frame, None
                    return frame
                self._ready.wait(0.05)  # a timeout, so that ``stop`` is seen
            return None


class Camera:
    """``frames()`` yields (RGB, seconds); once started, a thread feeds them into ``newest``.
    ``paced``: wait until each frame's time comes (a file played as a camera would give it)."""

    def __init__(self, name: str, fps: float, frames: Callable[[], Iterator[tuple[np.ndarray, float]]],
                 paced: bool, close: Callable[[], None]):
        self.name, self.fps, self._frames, self.paced, self._close = name, fps, frames, paced, close
        self.newest = NewestFrame()
        self.error: BaseException | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._capture, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _capture(self) -> None:
        start = None
        try:
            with closing(self._frames()) as frames:
                for rgb, seconds in frames:
                    if self._stop.is_set():
                        break
                    start = time.perf_counter() - seconds if start is None else start
                    if self.paced and (wait := start + seconds - time.perf_counter()) > 0:
                        if self._stop.wait(wait):
                            break
                    self.newest.put(CapturedFrame(rgb, seconds, time.perf_counter()))
        except BaseException as err:  # re-raised by stop() in the caller's thread
            self.error = err
        finally:
            self.newest.close()

    def stop(self) -> None:
        """End the capture and release the device or file (once); a capture error is raised here."""
        if self._stop.is_set():
            return
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
        self._close()
        if self.error is not None:
            raise self.error


def open_camera(spec: str) -> Camera:
    """``spec``: a device index (``0``) or a video file; DataError with one line when it cannot be opened."""
    return _device(int(spec)) if spec.strip().isdigit() else _file(Path(spec))


def _device(index: int) -> Camera:
    previous = cv2.utils.logging.getLogLevel()
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)  # our one line, not OpenCV's warnings
    try:
        capture = cv2.VideoCapture(index)
        opened = capture.isOpened()
    finally:
        cv2.utils.logging.setLogLevel(previous)
    if not opened:
        capture.release()
        raise DataError(f"--camera {index}: cannot open camera {index} (no such device, or another program holds it)")

    def frames() -> Iterator[tuple[np.ndarray, float]]:
        start = time.perf_counter()
        while True:
            ok, bgr = capture.read()
            if not ok:
                return
            yield cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), time.perf_counter() - start

    fps = capture.get(cv2.CAP_PROP_FPS) or 30.0  # what the device announces; some announce nothing
    return Camera(f"device {index}", float(fps), frames, paced=False, close=capture.release)


def _file(path: Path) -> Camera:
    if not path.is_file():
        raise DataError(f"--camera {path}: no such file or device index")
    opened = _open_input(path, ".mkv")  # the suffix only decides what becomes of audio, which is not read here

    def frames() -> Iterator[tuple[np.ndarray, float]]:
        reader = _Reader(opened.container, opened.video, None, False, StageTimes())
        first = None
        try:
            for i, picture in enumerate(reader.items()):
                seconds = picture.seconds if picture.seconds is not None else i / opened.fps  # no timestamp: the nominal rate
                first = seconds if first is None else first
                yield picture.rgb, float(seconds - first)
        finally:
            reader.stop.set()
            reader.thread.join()

    return Camera(str(path), float(opened.fps), frames, paced=True, close=opened.container.close)
