"""``mfs bench --live``: ``mfs live`` on a 720p one-face clip played as a 30 fps camera (the
frames it shows per second, its latency from capture, the frames it drops), beside the offline
video pipeline (``mfs swap``) on the same clip.

A benchmark, not a test: it measures this machine.
"""

import tempfile
from pathlib import Path

import torch

from mobilefaceswap.data.embedded import bundled_photos
from mobilefaceswap.data.sample_clip import make_sample_clip
from mobilefaceswap.inference.bench import machine, random_swapper
from mobilefaceswap.inference.camera import open_camera
from mobilefaceswap.inference.live import run_live
from mobilefaceswap.inference.pipeline import FaceSwapPipeline
from mobilefaceswap.inference.session import SwapSession
from mobilefaceswap.inference.video_bench import time_pipeline
from mobilefaceswap.models.swapper import Swapper
from mobilefaceswap.provenance.record import Provenance

CAMERA_FPS = 30  # what webcams give


def run_live_bench(swapper: Swapper | None = None, frames: int = 100, runtime: str = "onnx", threads: int = 2) -> dict:
    """The offline pipeline, then ``mfs live`` into a file, over one 720p clip of ``frames`` frames
    (``swapper``: a random one by default; speed does not depend on the weights)."""
    torch.set_num_threads(threads)
    swapper = swapper or random_swapper()
    photos = bundled_photos()
    source = photos["insightface/Tom_Hanks_54745.png"]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        clip = make_sample_clip(folder / "camera.mp4", photos["skimage/astronaut"], (1280, 720), frames, CAMERA_FPS, audio=False)
        offline = time_pipeline(swapper, clip, folder / "offline.mp4", source, runtime)
        pipeline = FaceSwapPipeline(swapper, runtime=runtime)
        pipeline.set_source(source)
        session = SwapSession(pipeline, Provenance(model_sha256="0" * 64))
        live = run_live(session, open_camera(str(clip)), output=folder / "live.mp4", progress=False, runtime=runtime)
    entry = {
        "clip": f"{frames} frames at 1280x720 panning over scikit-image's astronaut (one face), played as a "
        f"{CAMERA_FPS} fps camera",
        "runtime": runtime,
        "offline_fps": round(offline["fps"], 2),
        "offline_cpu_ms_per_frame": offline["cpu_ms_per_frame"],
        "live_fps": live.fps,
        "camera_fps": live.camera_fps,
        "frames_captured": live.frames_captured,
        "frames_shown": live.frames_shown,
        "frames_dropped": live.frames_dropped,
        "latency_ms": live.latency_ms,
        "busy_ms": live.busy_ms,
        "stage_ms": live.stage_ms,
    }
    fps = {
        "pipeline_720p_1face_fps": entry["offline_fps"],
        "live_720p_1face_fps": entry["live_fps"],
        "live_720p_latency_p50_ms": live.latency_ms["p50"],
        "live_720p_latency_p95_ms": live.latency_ms["p95"],
    }
    return {"machine": machine(), "settings": {"threads": threads, "latency": "from capture to the frame handed to the "
            "encoder of the output file"}, "fps": fps, "live": entry}
