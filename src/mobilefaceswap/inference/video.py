"""Video in and out with PyAV (FFmpeg).

Decoding, processing and encoding run on three threads joined by bounded queues, so that
FFmpeg's work overlaps with swapping and memory stays flat however long the video. Frames
come out upright (the display matrix of phone clips is applied), keep their timestamps
(variable frame rates stay variable), and the audio is copied packet for packet where the
output container takes its codec (re-encoded as AAC where not); the output appears atomically.
"""

import logging
import queue
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
from tqdm import tqdm

from mobilefaceswap.data.errors import DataError
from mobilefaceswap.files import VIDEO_SUFFIXES, write_atomic
from mobilefaceswap.inference.stage_times import StageTimes

log = logging.getLogger(__name__)

# Outputs are H.264 or HEVC + the audio, which every container here takes but WebM.
OUTPUT_VIDEO_SUFFIXES = VIDEO_SUFFIXES - {".webm"}
# Audio codecs each output container takes as they are (stream copy); others are re-encoded as AAC.
_MP4_AUDIO = {"aac", "mp3", "alac", "ac3", "eac3", "opus", "flac"}
COPYABLE_AUDIO: dict[str, set[str] | None] = {
    ".mp4": _MP4_AUDIO,
    ".m4v": _MP4_AUDIO,
    ".mov": _MP4_AUDIO - {"opus", "flac"} | {"pcm_s16le", "pcm_s24le"},
    ".mkv": None,  # Matroska takes any codec
    ".avi": {"aac", "mp3", "ac3", "pcm_s16le"},
}
# Containers that carry each frame's timestamp; AVI has a constant frame rate.
TIMESTAMPED_SUFFIXES = {".mp4", ".m4v", ".mov", ".mkv"}


def even_size(width: int, height: int) -> tuple[int, int]:
    """The size a video of ``width`` x ``height`` frames is written at: 4:2:0 chroma needs even sides."""
    return width + width % 2, height + height % 2


def padded_to_even(rgb: np.ndarray) -> np.ndarray:
    """``rgb`` with its last column and row repeated where its width or height is odd."""
    height, width = rgb.shape[:2]
    if width % 2 == 0 and height % 2 == 0:
        return rgb
    return cv2.copyMakeBorder(rgb, 0, height % 2, 0, width % 2, cv2.BORDER_REPLICATE)


@dataclass(frozen=True)
class VideoEncoding:
    """How output videos are encoded: ``codec`` (h264 or hevc), constant rate factor ``crf``
    (0 lossless .. 51 worst; 18 looks like the input) and the encoder ``preset`` (ultrafast:
    the least CPU, so the most frames per second beside the swapping; slower presets make
    smaller files)."""

    codec: str = "h264"
    crf: int = 18
    preset: str = "ultrafast"

    ENCODERS = {"h264": "libx264", "hevc": "libx265"}
    PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow")
    CRF_RANGE = (0, 51)

    def __post_init__(self):
        if self.codec not in self.ENCODERS:
            raise DataError(f"--codec {self.codec}: use one of {', '.join(self.ENCODERS)}")
        low, high = self.CRF_RANGE
        if not low <= self.crf <= high:
            raise DataError(f"--crf {self.crf}: use {low} (lossless) to {high} (smallest); 18 looks like the input")
        if self.preset not in self.PRESETS:
            raise DataError(f"--preset {self.preset}: use one of {', '.join(self.PRESETS)}")

    def add_stream(self, container, rate: Fraction, width: int, height: int):
        """The video stream of frames ``width`` x ``height``: 4:2:0 at the even size ``even_size``
        gives, which every browser and phone plays (4:4:4, or an odd size, many do not)."""
        stream = container.add_stream(self.ENCODERS[self.codec], rate=rate)
        stream.width, stream.height = even_size(width, height)
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": str(self.crf), "preset": self.preset}
        if self.codec == "hevc":
            stream.options["x265-params"] = "log-level=error"
            stream.codec_tag = "hvc1"  # the HEVC tag Apple's players accept
        return stream


@dataclass
class VideoResult:
    frames: int
    fps: float
    width: int
    height: int
    audio: bool
    truncated: bool
    audio_copied: bool = False  # the audio packets were copied, not re-encoded
    rotation: int = 0  # degrees counter-clockwise applied to make the frames upright


@dataclass
class _Picture:
    rgb: np.ndarray  # upright
    pts: int | None  # in the input stream's time base
    seconds: float | None
    rotation: int


class _Worker:
    """A thread fed through a bounded queue; its error is re-raised in the caller's thread."""

    def __init__(self, run: Callable[[], None], size: int = 8):
        self.queue: queue.Queue = queue.Queue(maxsize=size)
        self.error: BaseException | None = None
        self.stop = threading.Event()
        self._run = run
        self.thread = threading.Thread(target=self._main, daemon=True)
        self.thread.start()

    def _main(self) -> None:
        try:
            self._run()
        except BaseException as err:
            self.error = err

    def check(self) -> None:
        if self.error is not None:
            raise self.error


class _Reader(_Worker):
    """Demuxes and decodes on its own thread: upright RGB pictures, audio frames or, when the
    audio is copied, audio packets; None at the end. Damaged packets are skipped and counted."""

    def __init__(self, container, video, audio, copy_audio: bool, times: StageTimes):
        self.container, self.video, self.audio, self.copy_audio, self.times = container, video, audio, copy_audio, times
        self.damaged = self.pictures = 0
        super().__init__(self._read)

    def _put(self, item) -> None:
        while not self.stop.is_set():  # the consumer may have given up: never block for good
            try:
                self.queue.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    def _emit(self, stream, decoded) -> None:
        for frame in decoded:
            if stream is self.audio:
                frame.pts = None  # the encoder numbers samples itself
                self._put(frame)
                continue
            with self.times("decode"):
                rgb, rotation = upright(frame.to_ndarray(format="rgb24"), frame.rotation)
            self._put(_Picture(rgb, frame.pts, frame.time, rotation))
            self.pictures += 1

    def _read(self) -> None:
        streams = [s for s in (self.video, self.audio) if s is not None]
        try:
            for packet in self.container.demux(*streams):
                if self.stop.is_set():
                    break
                if packet.stream is self.audio and self.copy_audio:
                    if packet.dts is not None and packet.size:
                        self._put(packet)
                    continue
                try:
                    with self.times("decode"):
                        decoded = packet.decode()
                except av.error.FFmpegError:
                    self.damaged += 1  # a damaged or missing packet: skip it, keep what decodes
                    continue
                self._emit(packet.stream, decoded)
        except av.error.FFmpegError as err:
            self.damaged += 1
            log.warning("reading stopped after frame %d (%s)", self.pictures, err)
        finally:
            if self.damaged:  # the demuxer stopped early: frames still inside the decoders come out now
                for stream in streams:
                    if stream is self.audio and self.copy_audio:
                        continue
                    try:
                        self._emit(stream, stream.codec_context.decode(None))
                    except av.error.FFmpegError:
                        pass
            self._put(None)

    def items(self) -> Iterator:
        while (item := self.queue.get()) is not None:
            yield item
        self.check()


class _Writer(_Worker):
    """Converts, encodes and muxes on its own thread, so that encoding overlaps with swapping."""

    def __init__(self, container, video, audio, times: StageTimes):
        self.container, self.video, self.audio, self.times = container, video, audio, times
        super().__init__(self._write)

    def _write(self) -> None:
        try:
            while (item := self.queue.get()) is not None:
                with self.times("encode"):
                    if isinstance(item, av.Packet):  # copied audio
                        item.stream = self.audio
                        self.container.mux(item)
                    elif isinstance(item, av.AudioFrame):
                        self.container.mux(self.audio.encode(item))
                    else:
                        self.container.mux(self.video.encode(video_frame(*item)))
            with self.times("encode"):
                for stream in (self.video, self.audio):
                    if stream is not None and stream.codec_context.is_encoder:
                        self.container.mux(stream.encode(None))  # flush
        except BaseException:
            while self.queue.get() is not None:  # let the producer finish; it sees the error
                pass
            raise

    def put(self, item) -> None:
        self.check()
        self.queue.put(item)

    def close(self) -> None:
        if self.thread.is_alive():
            self.queue.put(None)
            self.thread.join()
        self.check()


def upright(rgb: np.ndarray, rotation: int) -> tuple[np.ndarray, int]:
    """A decoded picture and its display rotation (degrees counter-clockwise, as PyAV reads the
    display matrix) -> the picture as it is meant to be seen, and the rotation applied."""
    quarter = round(rotation / 90) % 4
    turns = {1: cv2.ROTATE_90_COUNTERCLOCKWISE, 2: cv2.ROTATE_180, 3: cv2.ROTATE_90_CLOCKWISE}
    return (cv2.rotate(rgb, turns[quarter]) if quarter else rgb), 90 * quarter


def video_frame(rgb: np.ndarray, pts: int, time_base: Fraction) -> av.VideoFrame:
    """RGB -> a 4:2:0 frame at the even size (``padded_to_even``); OpenCV converts to 4:2:0
    several times faster than swscale."""
    frame = av.VideoFrame.from_ndarray(cv2.cvtColor(padded_to_even(rgb), cv2.COLOR_RGB2YUV_I420), format="yuv420p")
    frame.pts, frame.time_base = pts, time_base
    return frame


def expected_frames(container, stream, fps) -> int:
    """Frames the container promises: its frame count, else (Matroska, WebM) as many as its
    duration holds less 0.1 s, as the duration may count the last frame, or the audio
    running past the video; 0 when it says neither."""
    if stream.frames:
        return stream.frames
    if container.duration is None:
        return 0
    return max(int((container.duration / av.time_base - 0.1) * fps), 0)


@dataclass
class _Input:
    """An opened video to transcode: its streams, and what the output does with its audio."""

    container: av.container.InputContainer
    video: av.VideoStream
    audio: av.AudioStream | None
    copy_audio: bool  # the audio packets are copied as they are (else re-encoded as AAC)
    fps: Fraction
    expected: int  # frames the container promises (0: it does not say)


def _open_input(source: str | Path, suffix: str) -> _Input:
    """``source`` opened for an output ending in ``suffix``, or DataError with one line."""
    try:
        container = av.open(str(source))
    except (av.error.FFmpegError, OSError) as err:
        raise DataError(f"cannot open video {source}: {err}") from None
    if not container.streams.video:
        container.close()
        raise DataError(f"{source} has no video stream")
    video = container.streams.video[0]
    video.thread_type = "AUTO"  # FFmpeg decodes on its own threads while we swap
    audio = container.streams.audio[0] if container.streams.audio else None
    if audio is not None and audio.codec_context.layout.nb_channels == 0:
        log.warning("%s: the audio stream cannot be read; the output has no sound", source)
        audio = None
    copyable = COPYABLE_AUDIO[suffix]
    copy_audio = audio is not None and (copyable is None or audio.codec_context.name in copyable)
    fps = video.average_rate or video.guessed_rate or Fraction(25)
    return _Input(container, video, audio, copy_audio, fps, expected_frames(container, video, fps))


def _output_streams(out, source: _Input, encoding: VideoEncoding, width: int, height: int, time_base: Fraction):
    """The output's video stream at the upright size, and its audio stream (copied, AAC, or None)."""
    video = encoding.add_stream(out, source.fps, width, height)
    video.codec_context.time_base = time_base
    if source.copy_audio:
        return video, out.add_stream_from_template(source.audio)
    if source.audio is not None:
        context = source.audio.codec_context
        return video, out.add_stream("aac", rate=context.sample_rate, layout=context.layout.name)
    return video, None


class _Transcoding:
    """One video through ``process``: ``encode(tmp)`` writes it, and what it found on the way
    (frames written, upright size and rotation, damage) stays on the object."""

    def __init__(self, source: _Input, path: str | Path, process, progress: bool, encoding: VideoEncoding,
                 metadata: dict[str, str], times: StageTimes, keep_timestamps: bool):
        self.source, self.path, self.process, self.progress = source, path, process, progress
        self.encoding, self.metadata, self.times, self.keep_timestamps = encoding, metadata, times, keep_timestamps
        # Timestamps: the input's own where the container keeps them, else one frame per tick.
        self.time_base = source.video.time_base if keep_timestamps else 1 / source.fps
        self.step = max(1, round(1 / (source.fps * self.time_base)))
        self.frames = self.damaged = self.rotation = 0
        self.size = (source.video.codec_context.width, source.video.codec_context.height)

    def encode(self, tmp: str) -> None:
        reader = _Reader(self.source.container, self.source.video, self.source.audio, self.source.copy_audio, self.times)
        name = Path(self.path).name
        bar = tqdm(total=self.source.expected or None, desc=f"swapping {name}", unit="frame", disable=not self.progress)
        try:
            with av.open(tmp, "w") as out:
                out.metadata.update(self.metadata)
                self._write(out, reader, bar)
        finally:
            reader.stop.set()
            reader.thread.join()
            bar.close()
        self.damaged = reader.damaged
        if self.frames == 0:
            raise DataError(f"no frame could be decoded from {self.path}")

    def _write(self, out, reader: "_Reader", bar) -> None:
        writer, pending, last_pts = None, [], None
        try:
            for item in reader.items():
                if not isinstance(item, _Picture):
                    (pending.append if writer is None else writer.put)(item)  # audio before the first picture waits
                    continue
                if writer is None:  # the first picture gives the upright size
                    height, width = item.rgb.shape[:2]
                    self.size, self.rotation = (width, height), item.rotation
                    out_video, out_audio = _output_streams(out, self.source, self.encoding, width, height, self.time_base)
                    writer = _Writer(out, out_video, out_audio, self.times)
                    for waiting in pending:
                        writer.put(waiting)
                last_pts = self._pts(item, last_pts)
                writer.put((self.process(item.rgb, item.seconds), last_pts, self.time_base))
                self.frames += 1
                bar.update()
        finally:
            if writer is not None:
                writer.close()

    def _pts(self, item: "_Picture", last_pts: int | None) -> int:
        pts = item.pts if self.keep_timestamps and item.pts is not None else None
        if pts is None or (last_pts is not None and pts <= last_pts):  # none given, or out of order
            pts = 0 if last_pts is None else last_pts + self.step
        return pts


def transcode(
    source: str | Path,
    destination: str | Path,
    process: Callable[[np.ndarray, float | None], np.ndarray],
    progress: bool = True,
    encoding: VideoEncoding | None = None,
    metadata: dict[str, str] | None = None,
    times: StageTimes | None = None,
) -> VideoResult:
    """Decode ``source``, apply ``process(rgb, seconds)`` to every upright RGB frame, encode it
    with ``encoding`` to ``destination`` (with ``metadata`` as the container's tags); ``times``
    collects the time spent decoding and encoding.

    A decoding error part-way, or fewer frames than the container announces (a truncated
    file), ends the video there with a warning; what was decoded is written, and the result
    says ``truncated``.
    """
    destination = Path(destination)
    suffix = destination.suffix.lower()
    if suffix not in OUTPUT_VIDEO_SUFFIXES:
        raise DataError(f"{destination}: video outputs end in {', '.join(sorted(OUTPUT_VIDEO_SUFFIXES))}")
    opened = _open_input(source, suffix)
    transcoding = _Transcoding(opened, source, process, progress, encoding or VideoEncoding(), metadata or {},
                               times or StageTimes(), suffix in TIMESTAMPED_SUFFIXES)
    try:
        write_atomic(destination, transcoding.encode)
    finally:
        opened.container.close()
    frames, expected = transcoding.frames, opened.expected
    truncated = bool(transcoding.damaged) or frames < expected
    if truncated:
        announced = f" of its {expected}" if expected else ""
        log.warning("%s is damaged or truncated: %d%s frames decoded and written", source, frames, announced)
    width, height = transcoding.size
    return VideoResult(
        frames, float(opened.fps), width, height, opened.audio is not None, truncated, opened.copy_audio, transcoding.rotation
    )
