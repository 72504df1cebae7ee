"""``mfs live``: a camera swapped in real time. The camera captures on its own thread and keeps
only its newest frame (``camera.py``), so a swapper slower than the camera drops frames instead
of falling behind; each frame taken is swapped by the swap session of ``mfs swap`` (tracking,
smoothing, ``--only``, runtime), watermarked, and given to the outputs (``live_outputs.py``).
The latency of a frame is counted from its capture to the moment the last output took it."""

import signal
import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from mobilefaceswap.files import write_atomic
from mobilefaceswap.inference.camera import Camera, CapturedFrame
from mobilefaceswap.inference.live_outputs import FileOutput, VirtualCamera, Window
from mobilefaceswap.inference.session import SwapSession
from mobilefaceswap.inference.video import VideoEncoding
from mobilefaceswap.provenance.metadata import container_tags
from mobilefaceswap.provenance.record import OutputRecord

RECENT = 60  # frames the on-screen speed and latency are taken over


@contextmanager
def ctrl_c_sets(event: threading.Event) -> Iterator[None]:
    """Ctrl-C (SIGINT) sets ``event``, so that the stream ends between frames with its outputs
    complete; a second Ctrl-C interrupts as usual. Only the main thread receives signals."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.getsignal(signal.SIGINT)

    def first_ctrl_c(signum, frame) -> None:
        event.set()
        signal.signal(signal.SIGINT, previous)

    signal.signal(signal.SIGINT, first_ctrl_c)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def percentiles(values: list[float]) -> dict[str, float | None]:
    """p50, p95, max and mean in milliseconds of durations in seconds (None when there are none)."""
    if not values:
        return dict.fromkeys(("p50", "p95", "max", "mean"))
    p50, p95 = np.percentile(values, [50, 95])
    found = {"p50": p50, "p95": p95, "max": max(values), "mean": np.mean(values)}
    return {name: round(1000 * float(value), 1) for name, value in found.items()}


@dataclass
class LiveSummary:
    camera: str
    runtime: str
    outputs: dict = field(default_factory=dict)  # window, virtual_camera (its device), output (the file)
    frames_captured: int = 0
    frames_shown: int = 0  # swapped and given to every output
    frames_dropped: int = 0  # captured but never shown: the camera gave a newer one first
    faces_swapped: int = 0
    frames_without_face: int = 0
    seconds: float = 0.0  # from the first frame captured to the last shown
    fps: float = 0.0  # frames shown per second
    camera_fps: float = 0.0  # frames captured per second
    latency_ms: dict = field(default_factory=dict)  # capture to shown: p50, p95, max, mean
    busy_ms: dict = field(default_factory=dict)  # taken to shown (swap, watermark, outputs): p50, p95, max, mean
    stage_ms: dict = field(default_factory=dict)  # per frame shown, in each pipeline stage
    watermark: str | None = None  # the id every frame carries
    ended_by: str = "camera"  # camera (it ended), window (closed), duration, interrupted
    interrupted: bool = False
    warnings: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return asdict(self)


class LiveRun:
    """One stream from ``camera`` through ``session`` to ``outputs``, every frame marked with
    ``record``; ``duration`` (seconds) ends it early."""

    def __init__(self, session: SwapSession, record: OutputRecord, camera: Camera, outputs: list,
                 progress: bool = True, duration: float | None = None, runtime: str = ""):
        self.session, self.record, self.camera, self.outputs, self.duration = session, record, camera, outputs, duration
        self.summary = LiveSummary(camera.name, runtime)
        if self.record.watermark_id is None:
            self.summary.warnings.append("--no-watermark: frames carry no invisible watermark")
        else:
            self.summary.watermark = f"{self.record.watermark_id:08x}"
        self.latencies: list[float] = []
        self.busy: list[float] = []
        self.recent: deque[tuple[float, float]] = deque(maxlen=RECENT)  # (shown at, latency)
        self.bar = tqdm(desc=f"live from {camera.name}", unit="frame", disable=not progress)

    def status(self) -> str:
        """Speed and latency over the recent frames: the window's overlay and the progress line."""
        if len(self.recent) < 2:
            return "starting"
        fps = (len(self.recent) - 1) / max(self.recent[-1][0] - self.recent[0][0], 1e-9)
        p50, p95 = (1000 * v for v in np.percentile([lag for _, lag in self.recent], [50, 95]))
        dropped = self.camera.newest.captured - self.summary.frames_shown
        return f"{fps:.1f} fps  latency p50 {p50:.0f} ms p95 {p95:.0f} ms  dropped {dropped}"

    def _frame(self, frame: CapturedFrame) -> bool:
        """Swap, mark and show one frame; False when an output (the window) asks to stop."""
        taken = time.perf_counter()
        pipeline = self.session.pipeline
        swapped, count = pipeline.swap_frame(frame.rgb, video=True, seconds=frame.seconds)
        with pipeline.times("watermark"):
            marked = self.record.mark(swapped)
        status = self.status()
        keep_going = all([output.show(marked, frame.seconds, status) for output in self.outputs])
        shown = time.perf_counter()
        self.latencies.append(shown - frame.captured)
        self.busy.append(shown - taken)
        self.recent.append((shown, shown - frame.captured))
        self.summary.frames_shown += 1
        self.summary.faces_swapped += count
        self.summary.frames_without_face += count == 0
        self.bar.update()
        if self.summary.frames_shown % 10 == 0:
            self.bar.set_postfix_str(status.split("  ", 1)[1], refresh=False)
        return keep_going

    def run(self) -> LiveSummary:
        self.session.pipeline.reset(self.camera.fps)
        first = last = None
        interrupted = threading.Event()
        with ctrl_c_sets(interrupted):
            self.camera.start()
            try:
                while (frame := self.camera.newest.take(interrupted)) is not None:
                    first = frame.captured if first is None else first
                    keep_going = self._frame(frame)
                    last = time.perf_counter()
                    if not keep_going:
                        self.summary.ended_by = "window"
                        break
                    if self.duration is not None and last - first >= self.duration:
                        self.summary.ended_by = "duration"
                        break
            finally:
                self.bar.close()
                self.camera.stop()
        if interrupted.is_set():
            self.summary.ended_by, self.summary.interrupted = "interrupted", True
        return self._summarise(first, last)

    def _summarise(self, first: float | None, last: float | None) -> LiveSummary:
        summary = self.summary
        summary.frames_captured = self.camera.newest.captured
        summary.frames_dropped = summary.frames_captured - summary.frames_shown
        summary.seconds = round(last - first, 3) if first is not None and last is not None else 0.0
        if summary.seconds > 0:
            summary.fps = round(summary.frames_shown / summary.seconds, 2)
            summary.camera_fps = round(summary.frames_captured / summary.seconds, 2)
        summary.latency_ms, summary.busy_ms = percentiles(self.latencies), percentiles(self.busy)
        stages = self.session.pipeline.times.ms_per_frame(summary.frames_shown)
        summary.stage_ms = {stage: round(ms, 2) for stage, ms in stages.items()}
        return summary


def run_live(
    session: SwapSession,
    camera: Camera,
    output: Path | None = None,
    window: bool = False,
    virtual_camera: bool = False,
    encoding: VideoEncoding | None = None,
    progress: bool = True,
    duration: float | None = None,
    runtime: str = "",
) -> LiveSummary:
    """Stream ``camera`` through ``session`` to a window, a virtual camera and/or the file ``output``
    (written atomically: complete, or not there). The outputs are opened before the camera starts."""
    record = session.provenance.for_output()  # one watermark id for the whole stream
    shown = [Window()] if window else []
    sent = VirtualCamera(camera.fps) if virtual_camera else None
    outputs = [*shown, *([sent] if sent else [])]
    live = LiveRun(session, record, camera, outputs, progress, duration, runtime)

    def write(tmp: str) -> None:
        file = FileOutput(tmp, camera.fps, encoding or VideoEncoding(), container_tags(record.as_dict()), session.pipeline.times)
        live.outputs = [*outputs, file]
        try:
            live.run()
        finally:
            file.close()

    try:
        if output is None:
            live.run()
        else:
            write_atomic(output, write)
    finally:
        camera.stop()
        for opened in outputs:
            opened.close()
    live.summary.outputs = {"window": window, "virtual_camera": sent and sent.device, "output": output and str(output)}
    return live.summary
