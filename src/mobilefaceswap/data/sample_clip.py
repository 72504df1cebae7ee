"""Sample videos for the benchmarks (``mfs bench``, ``mfs bench-watermark``) and the tests: real
faces in motion, made from a bundled photo, so that nothing is downloaded."""

from pathlib import Path

import av
import cv2
import numpy as np


def make_sample_clip(
    path: str | Path, image: np.ndarray, size: tuple[int, int] = (1280, 720), frames: int = 50, fps: int = 25, audio: bool = True
) -> Path:
    """A clip that slowly pans and zooms over a real photo (RGB uint8), with a 440 Hz tone."""
    width, height = size
    path = Path(path)
    sample_rate, samples_per_frame = 16000, 16000 // fps
    options = {"movflags": "faststart"} if path.suffix.lower() in (".mp4", ".mov", ".m4v") else {}
    codec, audio_codec = ("libvpx-vp9", "libopus") if path.suffix.lower() == ".webm" else ("libx264", "aac")
    with av.open(str(path), "w", options=options) as out:
        video = out.add_stream(codec, rate=fps)
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        tone = out.add_stream(audio_codec, rate=sample_rate, layout="mono") if audio else None
        scale = max(width / image.shape[1], height / image.shape[0]) * 1.1
        for i in range(frames):
            zoom = scale * (1 + 0.002 * i)
            matrix = np.float32([[zoom, 0, -2.0 * i - 0.05 * width], [0, zoom, -0.05 * height + i]])
            frame = cv2.warpAffine(np.ascontiguousarray(image), matrix, (width, height), borderMode=cv2.BORDER_REFLECT)
            out.mux(video.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
            if tone is not None:
                t = (np.arange(samples_per_frame) + i * samples_per_frame) / sample_rate
                chunk = av.AudioFrame.from_ndarray(
                    (0.2 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)[None], format="fltp", layout="mono"
                )
                chunk.sample_rate = sample_rate
                out.mux(tone.encode(chunk))
        out.mux(video.encode(None))
        if tone is not None:
            out.mux(tone.encode(None))
    return path
