"""Where ``mfs live`` puts its frames: a window (OpenCV highgui, with the speed written over the
picture), a virtual camera (pyvirtualcam, an optional extra) that video-call programs read as a
webcam, or a video file. Each is checked before any work, in one line that says what to change."""

import os
import re
import sys
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

from mobilefaceswap.data.errors import DataError
from mobilefaceswap.files import check_writable_folder, refuse_overwrite
from mobilefaceswap.inference.stage_times import StageTimes
from mobilefaceswap.inference.video import TIMESTAMPED_SUFFIXES, VideoEncoding, _Writer

# A live stream drops frames, so its file keeps each frame's capture time: containers with timestamps only.
LIVE_VIDEO_SUFFIXES = TIMESTAMPED_SUFFIXES
TIME_BASE = Fraction(1, 1000)  # milliseconds


def check_outputs(output: Path | None, inputs: dict[str, Path | None], window: bool, virtual_camera: bool) -> None:
    """One line on what to change, before any work, unless every output asked for can be opened:
    the file ``output`` (never one of ``inputs``: what -> path), a window, a virtual camera."""
    if output is not None:
        if output.suffix.lower() not in LIVE_VIDEO_SUFFIXES:
            raise DataError(f"--output {output}: a live stream is written to a video file ending in "
                            f"{', '.join(sorted(LIVE_VIDEO_SUFFIXES))}")
        if output.is_dir():
            raise DataError(f"--output {output} is a folder; give a file name such as {output / 'live.mp4'}")
        refuse_overwrite(output, inputs)
        check_writable_folder(output.parent)
    if window and (problem := display_problem()) is not None:
        raise DataError(f"--window: {problem}; write to --output FILE or --virtual-camera instead")
    if virtual_camera:
        pyvirtualcam()


def pyvirtualcam():
    """The pyvirtualcam module (an optional extra), or one line saying how to install it."""
    try:
        import pyvirtualcam
    except ImportError:
        raise DataError("--virtual-camera needs pyvirtualcam: pip install 'mobilefaceswap[live]'") from None
    return pyvirtualcam


def display_problem() -> str | None:
    """Why no window can be shown here, or None."""
    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        return "no display to show a window on (DISPLAY is not set)"
    gui = re.search(r"^\s*GUI:\s*(\S+)", cv2.getBuildInformation(), re.MULTILINE)
    if gui is None or gui.group(1) == "NONE":
        return "this OpenCV has no window support (opencv-python-headless; pip install opencv-python for windows)"
    return None


class FileOutput:
    """Frames written to a video file at their times (a variable frame rate, as frames were
    dropped), encoded on a thread of its own (``video.py``'s writer)."""

    def __init__(self, path: str, fps: float, encoding: VideoEncoding, metadata: dict[str, str], times: StageTimes):
        self.fps, self.encoding, self.times = fps, encoding, times
        self.container = av.open(path, "w")
        self.container.metadata.update(metadata)
        self.stream, self.writer, self.last_pts, self.frames = None, None, -1, 0

    def show(self, rgb: np.ndarray, seconds: float, status: str) -> bool:
        if self.writer is None:  # the first frame gives the size
            height, width = rgb.shape[:2]
            self.stream = self.encoding.add_stream(self.container, Fraction(self.fps).limit_denominator(1001), width, height)
            self.stream.codec_context.time_base = TIME_BASE
            self.writer = _Writer(self.container, self.stream, None, self.times)
        pts = max(round(seconds / TIME_BASE), self.last_pts + 1)
        self.writer.put((rgb, pts, TIME_BASE))
        self.last_pts, self.frames = pts, self.frames + 1
        return True

    def close(self) -> None:
        try:
            if self.writer is not None:
                self.writer.close()  # flushes the encoder: the file is complete
        finally:
            self.container.close()
        if self.frames == 0:
            raise DataError("the camera gave no frame; nothing was written")


class Window:
    """An OpenCV window showing each frame with ``status`` (speed, latency) written over it;
    q, Esc or closing the window ends the stream."""

    NAME = "mfs live (q to quit)"

    def __init__(self) -> None:
        check_outputs(None, {}, window=True, virtual_camera=False)
        cv2.namedWindow(self.NAME, cv2.WINDOW_AUTOSIZE)

    def show(self, rgb: np.ndarray, seconds: float, status: str) -> bool:
        bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
        for colour, thickness in (((0, 0, 0), 4), ((255, 255, 255), 1)):  # white on a dark outline: legible on any picture
            cv2.putText(bgr, status, (12, 28), cv2.FONT_HERSHEY_SIMPLEX, 0.7, colour, thickness, cv2.LINE_AA)
        cv2.imshow(self.NAME, bgr)
        key = cv2.waitKey(1) & 0xFF
        return key not in (ord("q"), 27) and cv2.getWindowProperty(self.NAME, cv2.WND_PROP_VISIBLE) >= 1

    def close(self) -> None:
        cv2.destroyWindow(self.NAME)
        cv2.waitKey(1)


class VirtualCamera:
    """A virtual webcam (pyvirtualcam: v4l2loopback on Linux, OBS's on Windows and macOS), opened
    at the first frame's size."""

    def __init__(self, fps: float) -> None:
        self._module, self.fps, self.camera = pyvirtualcam(), fps, None

    @property
    def device(self) -> str | None:
        return None if self.camera is None else self.camera.device

    def show(self, rgb: np.ndarray, seconds: float, status: str) -> bool:
        if self.camera is None:
            height, width = rgb.shape[:2]
            try:
                self.camera = self._module.Camera(width, height, self.fps, fmt=self._module.PixelFormat.RGB)
            except RuntimeError as err:  # no virtual camera device (e.g. v4l2loopback not loaded)
                raise DataError(f"--virtual-camera: {err}") from None
        self.camera.send(np.ascontiguousarray(rgb))
        return True

    def close(self) -> None:
        if self.camera is not None:
            self.camera.close()
