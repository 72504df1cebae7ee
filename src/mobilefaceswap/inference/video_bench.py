"""``mfs bench``'s video entries: the whole ``mfs swap`` video pipeline per stage (720p with
one and three faces, 1080p), its peak memory on a short and a long clip, and how steady and
how prompt the landmark smoothing is.

A benchmark, not a test: it measures this machine and compares with the targets.
"""

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import av
import cv2
import numpy as np

from mobilefaceswap.data.detection import DlibFaceDetector
from mobilefaceswap.data.embedded import bundled_people, bundled_photos
from mobilefaceswap.data.sample_clip import make_sample_clip
from mobilefaceswap.inference.pipeline import FaceSwapPipeline
from mobilefaceswap.inference.smoothing import SMOOTHING_BETA, SMOOTHING_MIN_CUTOFF
from mobilefaceswap.inference.swap import Swapping, write_image
from mobilefaceswap.models.swapper import Swapper, save_swapper
from mobilefaceswap.progress import Progress
from mobilefaceswap.provenance.record import Provenance

PIPELINE_TARGETS = {  # frames per second of the whole pipeline, as ``mfs swap`` runs it
    "pipeline_720p_1face_fps": 60.0,
    "pipeline_720p_3faces_fps": 25.0,
    "pipeline_1080p_1face_fps": 30.0,
}
STAGES = ("decode", "detect", "track", "align", "swap", "paste", "watermark", "encode")
MEMORY_TOLERANCE = 0.10  # peak RSS of the long clip within 10% of the short one's


def three_faces(size: tuple[int, int] = (1280, 720)) -> np.ndarray:
    """Three people side by side (``bundled_people``), each tile scaled to fill a third of ``size``."""
    people = bundled_people()
    width, height = size
    tile = width // 3
    tiles = []
    for person in people:  # cover the tile, centred
        scale = max(tile / person.shape[1], height / person.shape[0])
        resized = cv2.resize(person, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC)
        x0, y0 = (resized.shape[1] - tile) // 2, (resized.shape[0] - height) // 2
        tiles.append(resized[y0 : y0 + height, x0 : x0 + tile])
    return np.concatenate(tiles, axis=1)


def time_pipeline(swapper: Swapper, clip: Path, out: Path, source: np.ndarray, runtime: str = "onnx") -> dict:
    """One run of ``mfs swap``'s video path over ``clip`` (watermark and metadata included):
    fps, faces swapped per frame, and milliseconds per frame in each stage. Decoding and
    encoding run on threads of their own, so the stages overlap and their sum may exceed 1 / fps;
    the CPU time of all threads per frame says what the run costs, whatever else the machine runs."""
    pipeline = FaceSwapPipeline(swapper, runtime=runtime)
    pipeline.set_source(source)
    swapping = Swapping(pipeline, Provenance(model_sha256="0" * 64), progress=False)
    start, cpu = time.perf_counter(), time.process_time()
    swapping.video(clip, out)
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    frames = swapping.summary.frames
    stages = pipeline.times.ms_per_frame(frames)
    return {
        "fps": frames / elapsed,
        "faces_per_frame": swapping.summary.faces_swapped / max(frames, 1),
        "cpu_ms_per_frame": round(1000 * cpu / max(frames, 1), 2),  # all threads: steadier than fps on a shared machine
        "ms_per_frame": {stage: round(stages.get(stage, 0.0), 2) for stage in STAGES},
    }


def loop_clip(source: Path, destination: Path, times: int) -> Path:
    """``source`` played ``times`` times in a row, packets copied (no re-encoding)."""
    with av.open(str(source)) as inp, av.open(str(destination), "w") as out:
        streams = {s.index: out.add_stream_from_template(s) for s in inp.streams if s.type in ("video", "audio")}
        durations = {i: inp.streams[i].duration or int(inp.duration / av.time_base / inp.streams[i].time_base) for i in streams}
        for loop in range(times):
            inp.seek(0)
            for packet in inp.demux(*(inp.streams[i] for i in streams)):
                if packet.dts is None:
                    continue
                shift = loop * durations[packet.stream.index]
                packet.pts, packet.dts = packet.pts + shift, packet.dts + shift
                packet.stream = streams[packet.stream.index]
                out.mux(packet)
    return destination


def peak_rss_mb(command: list[str]) -> float:
    """Peak resident memory of ``command`` run as a child process (its own rusage, not the sum of all children)."""
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise RuntimeError(f"{' '.join(command[:2])} failed: {process.stderr.read().strip().splitlines()[-1:]}")
    return usage.ru_maxrss / 1024  # Linux reports kilobytes


def swap_memory(checkpoint: Path, source: Path, seconds: tuple[float, float], folder: Path) -> dict:
    """Peak RSS of ``mfs swap`` on a 720p one-face clip of each length in ``seconds`` (the long
    one the short one looped, so the content is the same)."""
    short, long = seconds
    fps = 25
    photo = bundled_photos()["skimage/astronaut"]
    clip = make_sample_clip(folder / "short.mp4", photo, (1280, 720), max(int(short * fps), 1), fps)
    looped = loop_clip(clip, folder / "long.mp4", max(round(long / short), 1))
    mfs = str(Path(sys.executable).parent / "mfs")
    peaks = {}
    for name, path in (("short", clip), ("long", looped)):
        with av.open(str(path)) as c:
            length = float(c.duration / av.time_base)
        command = [mfs, "swap", "--source", str(source), "--target", str(path), "--output", str(folder / f"out_{name}.mp4"),
                   "--checkpoint", str(checkpoint), "--runtime", "onnx", "--quiet"]
        peaks[name] = {"seconds": round(length, 2), "peak_rss_mb": round(peak_rss_mb(command), 1)}
    ratio = peaks["long"]["peak_rss_mb"] / peaks["short"]["peak_rss_mb"]
    return {**peaks, "long_over_short": round(ratio, 3), "within_10_percent": abs(ratio - 1) <= MEMORY_TOLERANCE}


def smoothing_quality(swapper: Swapper, settings: dict[str, tuple[float, float]], fps: float = 25.0, speed: float = 8.0) -> dict:
    """Jitter on a still face and lag on a moving one, for each smoothing setting (name ->
    (min cutoff Hz, beta)).

    A 1280x720 clip is made in memory from the astronaut photo with sensor-like noise (each
    frame its own): 40 still frames, then 60 frames panning at ``speed`` pixels per frame.
    The true landmarks are the photo's, moved as the frame was. Jitter: the standard deviation
    of each landmark over the last 30 still frames (pixels, mean over the five). Lag: how far
    behind the truth the landmarks are along the motion during the last 40 moving frames, less
    the detector's own offset on the still face, in frames (pixels / speed).
    """
    photo = bundled_photos()["skimage/astronaut"]
    truth = DlibFaceDetector()(photo)[0].landmarks5
    rng = np.random.default_rng(0)
    still, moving = 40, 60
    offsets = [0.0] * still + [speed * (i + 1) for i in range(moving)]
    frames, truths = [], []
    for dx in offsets:
        matrix = np.float32([[1.5, 0, 200 + dx], [0, 1.5, -40]])
        frame = cv2.warpAffine(photo, matrix, (1280, 720), borderMode=cv2.BORDER_REFLECT)
        frames.append(cv2.add(frame, 4 * rng.standard_normal(frame.shape, np.float32), dtype=cv2.CV_8U))
        truths.append(truth @ matrix[:, :2].T + matrix[:, 2])
    truths = np.array(truths)
    results = {}
    for name, (min_cutoff, beta) in settings.items():
        pipeline = FaceSwapPipeline(swapper, smoothing=min_cutoff, smoothing_beta=beta)
        pipeline.reset(fps)
        seen = []
        for i, frame in enumerate(frames):
            tracks = pipeline.update_tracks(frame, video=True, seconds=i / fps)
            seen.append(tracks[0].landmarks if tracks else np.full((5, 2), np.nan))
        seen = np.array(seen)
        jitter = float(np.nanstd(seen[still - 30 : still], axis=0).mean())
        along = (seen - truths)[..., 0].mean(axis=1)  # x: the direction of motion
        bias = float(np.nanmean(along[still - 30 : still]))
        lag = -(float(np.nanmean(along[still + moving - 40 :])) - bias) / speed
        results[name] = {
            "min_cutoff_hz": min_cutoff,
            "beta": beta,
            "still_jitter_px": round(jitter, 3),
            "moving_lag_frames": round(lag, 3),
        }
    return {
        "clip": f"1280x720 at {fps:g} fps, astronaut photo x1.5 with Gaussian noise (sigma 4): {still} still frames, "
        f"then {moving} frames moving {speed:g} px per frame; eye distance {np.linalg.norm(truth[1] - truth[0]) * 1.5:.0f} px",
        "settings": results,
    }


def run_video_bench(
    swapper: Swapper,
    clip_frames: int,
    memory_seconds: tuple[float, float],
    checkpoint: str | None = None,
    runtime: str = "onnx",
    progress: Progress | None = None,
) -> dict:
    """The video entries of ``mfs bench``'s report: ``pipeline`` (per clip), ``memory``, ``smoothing``,
    ``targets``; five steps of ``progress``, each clip's time estimated at the pace of the one before."""
    progress = progress or Progress(5, quiet=True)
    photos = bundled_photos()
    source = photos["insightface/Tom_Hanks_54745.png"]
    clips = {
        "pipeline_720p_1face_fps": ((1280, 720), photos["skimage/astronaut"]),
        "pipeline_720p_3faces_fps": ((1280, 720), three_faces((1280, 720))),
        "pipeline_1080p_1face_fps": ((1920, 1080), photos["skimage/astronaut"]),
    }
    pipeline, fps = {}, {}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for name, (size, image) in clips.items():
            pace = next(reversed(fps.values()), None)
            progress.step(f"mfs swap's video path on {name.removesuffix('_fps')}", clip_frames / pace if pace else None)
            clip = make_sample_clip(folder / f"{name}.mp4", image, size, clip_frames)
            pipeline[name] = time_pipeline(swapper, clip, folder / f"{name}.out.mp4", source, runtime)
            fps[name] = pipeline[name]["fps"]
        if checkpoint is None:
            checkpoint = str(folder / "swapper.pt")
            save_swapper(checkpoint, swapper.student, swapper.identity, swapper.crop_size, swapper.template, identity_arch={})
        write_image(folder / "source.png", source)
        frames = sum(memory_seconds) * 25  # the clips' frame rate
        progress.step(f"peak memory of mfs swap on 720p clips of {memory_seconds[0]:g} s and {memory_seconds[1]:g} s",
                      frames / fps["pipeline_720p_1face_fps"])
        memory = swap_memory(Path(checkpoint), folder / "source.png", memory_seconds, folder)
    progress.step("smoothing: jitter on a still face and lag on a moving one")
    smoothing = smoothing_quality(swapper, {
        "none": (0.0, 0.0),
        # the exponential average this replaced (weight 0.5 on the past at 25 fps) is a One
        # Euro filter without the speed term, cut off at 25 / (2 pi) Hz
        "exponential_average_0.5": (25 / (2 * np.pi), 0.0),
        "one_euro_default": (SMOOTHING_MIN_CUTOFF, SMOOTHING_BETA),
    })
    return {
        "pipeline": {name: {**entry, "fps": round(entry["fps"], 2)} for name, entry in pipeline.items()},
        "memory": memory,
        "smoothing": smoothing,
        "targets": {k: {"target": t, "measured": round(fps[k], 2), "met": fps[k] >= t} for k, t in PIPELINE_TARGETS.items()},
    }
