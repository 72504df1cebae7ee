"""Video in and out with PyAV (FFmpeg): frames are processed one by one, fps and size are
kept, the audio track is carried over (re-encoded as AAC, which every container takes), and
the output appears atomically."""

import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np
from tqdm import tqdm

from mobilefaceswap.data.errors import DataError
from mobilefaceswap.files import write_atomic

log = logging.getLogger(__name__)

VIDEO_SUFFIXES = {".mp4", ".mov", ".mkv", ".avi", ".webm", ".m4v"}
# Outputs are H.264 + AAC, which every container here takes but WebM.
OUTPUT_VIDEO_SUFFIXES = VIDEO_SUFFIXES - {".webm"}


@dataclass
class VideoResult:
    frames: int
    fps: float
    width: int
    height: int
    audio: bool
    truncated: bool


def is_video(path: str | Path) -> bool:
    return Path(path).suffix.lower() in VIDEO_SUFFIXES


class _Writer:
    """Encodes and muxes on a thread of its own, so that encoding overlaps with swapping."""

    def __init__(self, container, video, audio):
        self.container, self.streams = container, [s for s in (video, audio) if s is not None]
        self.queue: queue.Queue = queue.Queue(maxsize=8)
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            while (item := self.queue.get()) is not None:
                stream, frame = item
                self.container.mux(stream.encode(frame))
            for stream in self.streams:
                self.container.mux(stream.encode(None))  # flush
        except BaseException as err:  # re-raised in the caller's thread
            self.error = err
            while self.queue.get() is not None:
                pass

    def put(self, stream, frame) -> None:
        if self.error is not None:
            raise self.error
        self.queue.put((stream, frame))

    def close(self) -> None:
        self.queue.put(None)
        self.thread.join()
        if self.error is not None:
            raise self.error


def expected_frames(container, stream, fps) -> int:
    """Frames the container promises: its frame count, else (Matroska, WebM) as many as its
    duration holds less 0.1 s, as the duration may count the last frame, or the audio
    running past the video; 0 when it says neither."""
    if stream.frames:
        return stream.frames
    if container.duration is None:
        return 0
    return max(int((container.duration / av.time_base - 0.1) * fps), 0)


def transcode(
    source: str | Path,
    destination: str | Path,
    process: Callable[[np.ndarray], np.ndarray],
    progress: bool = True,
    crf: int = 18,
    preset: str = "superfast",
    metadata: dict[str, str] | None = None,
) -> VideoResult:
    """Decode ``source``, apply ``process`` to every RGB frame, encode H.264 to ``destination``
    (with ``metadata`` as the container's tags).

    A decoding error part-way, or fewer frames than the container announces (a truncated
    file), ends the video there with a warning; what was decoded is written, and the result
    says ``truncated``.
    """
    destination = Path(destination)
    if destination.suffix.lower() not in OUTPUT_VIDEO_SUFFIXES:
        raise DataError(f"{destination}: video outputs end in {', '.join(sorted(OUTPUT_VIDEO_SUFFIXES))}")
    try:
        inp = av.open(str(source))
    except (av.error.FFmpegError, OSError) as err:
        raise DataError(f"cannot open video {source}: {err}") from None
    if not inp.streams.video:
        inp.close()
        raise DataError(f"{source} has no video stream")
    in_video = inp.streams.video[0]
    in_video.thread_type = "AUTO"  # FFmpeg decodes on its own threads while we swap
    in_audio = inp.streams.audio[0] if inp.streams.audio else None
    if in_audio is not None and in_audio.codec_context.layout.nb_channels == 0:
        log.warning("%s: the audio stream cannot be read; the output has no sound", source)
        in_audio = None
    fps = in_video.average_rate or in_video.guessed_rate or 25
    width, height = in_video.codec_context.width, in_video.codec_context.height
    expected = expected_frames(inp, in_video, fps)
    frames, damaged = 0, 0

    def encode(tmp: str) -> None:
        nonlocal frames, damaged
        with av.open(tmp, "w") as out:
            out.metadata.update(metadata or {})
            out_video = out.add_stream("libx264", rate=fps)
            out_video.width, out_video.height = width, height
            out_video.pix_fmt = "yuv420p" if width % 2 == 0 and height % 2 == 0 else "yuv444p"
            out_video.options = {"crf": str(crf), "preset": preset}
            out_audio = None
            if in_audio is not None:
                out_audio = out.add_stream(
                    "aac", rate=in_audio.codec_context.sample_rate, layout=in_audio.codec_context.layout.name
                )
            writer = _Writer(out, out_video, out_audio)
            bar = tqdm(total=expected or None, desc=f"swapping {Path(source).name}", unit="frame", disable=not progress)
            streams = [s for s in (in_video, in_audio) if s is not None]

            def emit(stream, decoded) -> None:
                nonlocal frames
                for frame in decoded:
                    if stream is in_audio:
                        frame.pts = None  # the encoder numbers samples itself
                        writer.put(out_audio, frame)
                    else:
                        writer.put(
                            out_video, av.VideoFrame.from_ndarray(process(frame.to_ndarray(format="rgb24")), format="rgb24")
                        )
                        frames += 1
                        bar.update()

            try:
                for packet in inp.demux(*streams):
                    try:
                        decoded = packet.decode()
                    except av.error.FFmpegError:
                        damaged += 1  # a damaged or missing packet: skip it, keep what decodes
                        continue
                    emit(packet.stream, decoded)
            except av.error.FFmpegError as err:
                damaged += 1
                log.warning("%s: reading stopped after frame %d (%s)", source, frames, err)
            finally:
                if damaged:  # the demuxer stopped early: frames still inside the decoders come out now
                    for stream in streams:
                        try:
                            emit(stream, stream.codec_context.decode(None))
                        except av.error.FFmpegError:
                            pass
                bar.close()
                writer.close()
        if frames == 0:
            raise DataError(f"no frame could be decoded from {source}")

    try:
        write_atomic(destination, encode)
    finally:
        inp.close()
    truncated = bool(damaged) or frames < expected
    if truncated:
        announced = f" of its {expected}" if expected else ""
        log.warning("%s is damaged or truncated: %d%s frames decoded and written", source, frames, announced)
    return VideoResult(frames, float(fps), width, height, in_audio is not None, truncated)
