"""``mfs bench-watermark``: how often the watermark survives common edits, how often it is
found where there is none, and what it costs in PSNR; on real photos and video frames.

A benchmark, not a test: it reports rates, with the targets beside them.
"""

import platform
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import av
import cv2
import numpy as np
import skimage.data

from mobilefaceswap.data.embedded import bundled_photos
from mobilefaceswap.data.sample_clip import make_sample_clip
from mobilefaceswap.provenance import watermark

TARGETS = {"jpeg75": 0.95, "half_size": 0.95, "false_positive_rate_max": 0.01, "psnr_db_min": 40.0}
MIN_SIDE = 256  # smaller outputs are outside what the mark is made for (the canvas is 256 px)


def real_photos() -> dict[str, np.ndarray]:
    """The real photographs shipped inside installed packages (insightface, scikit-image)."""
    import insightface

    photos = dict(bundled_photos())
    folder = Path(insightface.__file__).parent / "data" / "images"
    for path in sorted(folder.glob("mask_*.jpg")):
        photos[f"insightface/{path.name}"] = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)
    for name in ("chelsea", "coffee", "rocket", "hubble_deep_field", "immunohistochemistry", "retina"):
        photos[f"skimage/{name}"] = getattr(skimage.data, name)()
    photos["skimage/camera"] = cv2.cvtColor(skimage.data.camera(), cv2.COLOR_GRAY2RGB)
    return {name: photo for name, photo in photos.items() if min(photo.shape[:2]) >= MIN_SIDE}


def _jpeg(rgb: np.ndarray, quality: int) -> np.ndarray:
    _, data = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality])
    return cv2.cvtColor(cv2.imdecode(data, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


def _crop(rgb: np.ndarray, fraction: float = 0.1) -> np.ndarray:
    """Cut ``fraction`` of the width and of the height, half on each side."""
    h, w = rgb.shape[:2]
    dy, dx = round(h * fraction / 2), round(w * fraction / 2)
    return rgb[dy : h - dy, dx : w - dx]


ATTACKS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "none": lambda x: x,
    "jpeg75": lambda x: _jpeg(x, 75),
    "jpeg50": lambda x: _jpeg(x, 50),
    "half_size": lambda x: cv2.resize(x, (x.shape[1] // 2, x.shape[0] // 2), interpolation=cv2.INTER_AREA),
    "crop10": _crop,
    "brighter30": lambda x: cv2.add(x, (30, 30, 30, 0)),
    "darker30": lambda x: cv2.subtract(x, (30, 30, 30, 0)),
}


def photo_samples(photos: dict[str, np.ndarray], per_photo: int, seed: int = 0) -> list[np.ndarray]:
    """Random crops (30 to 100% of each side, at least MIN_SIDE) of every photo."""
    rng, samples = np.random.default_rng(seed), []
    for photo in photos.values():
        h, w = photo.shape[:2]
        for _ in range(per_photo):
            ch = int(rng.uniform(max(0.3, MIN_SIDE / h), 1.0) * h)
            cw = int(rng.uniform(max(0.3, MIN_SIDE / w), 1.0) * w)
            y, x = rng.integers(0, h - ch + 1), rng.integers(0, w - cw + 1)
            samples.append(np.ascontiguousarray(photo[y : y + ch, x : x + cw]))
    return samples


def _decode_all(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        return [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]


def _encode_h264(frames: list[np.ndarray], path: Path, crf: int) -> Path:
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=25)
        stream.height, stream.width = frames[0].shape[:2]
        stream.pix_fmt, stream.options = "yuv420p", {"crf": str(crf), "preset": "medium"}
        for frame in frames:
            out.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        out.mux(stream.encode(None))
    return path


def _mean_ms(run: Callable[[], object], runs: int) -> float:
    start = time.perf_counter()
    for _ in range(runs):
        run()
    return (time.perf_counter() - start) / runs * 1000


def _rate(hits: int, total: int) -> dict:
    return {"rate": round(hits / total, 4), "n": total}


def run_watermark_bench(per_photo: int = 4, clips: int = 3, clip_frames: int = 20, seed: int = 0) -> dict:
    """Detection rate per attack on marked photos and video frames, false positives on the
    unmarked originals, PSNR of marked against unmarked."""
    start = time.perf_counter()
    rng, sources = np.random.default_rng(seed), real_photos()
    photos = photo_samples(sources, per_photo, seed)
    hits, psnr = dict.fromkeys(ATTACKS, 0), []
    false_positives = 0
    for image in photos:
        false_positives += watermark.detect(image) is not None
        mark_id = int(rng.integers(0, 2**32))
        marked = watermark.embed(image, mark_id)
        psnr.append(cv2.PSNR(marked, image))
        for name, attack in ATTACKS.items():
            found = watermark.detect(attack(marked))
            hits[name] += found is not None and found.id == mark_id

    names = list(sources)
    frame_hits, frame_total, video_hits, frame_false = 0, 0, 0, 0
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(clips):
            photo = sources[names[i % len(names)]]
            source = _decode_all(make_sample_clip(Path(tmp) / f"src{i}.mp4", photo, (640, 360), frames=clip_frames, audio=False))
            mark_id = int(rng.integers(0, 2**32))
            marked = [watermark.embed(frame, mark_id) for frame in source]
            psnr.extend(cv2.PSNR(m, f) for m, f in zip(marked, source, strict=True))
            false_positives += sum(watermark.detect(frame) is not None for frame in source)
            frame_false += len(source)
            decoded = _decode_all(_encode_h264(marked, Path(tmp) / f"crf28_{i}.mp4", crf=28))
            phases = [watermark.phases(frame) for frame in decoded]
            frame_hits += sum((m := watermark.decode(p)) is not None and m.id == mark_id for p in phases)
            frame_total += len(decoded)
            whole = watermark.decode(np.mean(phases, axis=0))  # as mfs verify reads a video
            video_hits += whole is not None and whole.id == mark_id

    frame_720p = np.ascontiguousarray(cv2.resize(sources[names[0]], (1280, 720)))
    embed_ms = min(_mean_ms(lambda: watermark.embed(frame_720p, 1), runs=10) for _ in range(5))  # best window: shared machines

    unmarked = len(photos) + frame_false
    report = {
        "machine": f"{platform.processor() or platform.machine()}, Python {platform.python_version()}",
        "photos": {"samples": len(photos), "sources": len(sources), "min_side": MIN_SIDE},
        "detection_rate": {name: _rate(count, len(photos)) for name, count in hits.items()},
        "h264_crf28": {"per_frame": _rate(frame_hits, frame_total), "per_video": _rate(video_hits, clips)},
        "false_positive_rate": _rate(false_positives, unmarked),
        "psnr_db": {"min": round(min(psnr), 2), "mean": round(float(np.mean(psnr)), 2)},
        "payload_bits": 8 * watermark.PAYLOAD_BYTES,
        "embed_ms_720p": round(embed_ms, 1),
        "targets": TARGETS,
        "seconds": round(time.perf_counter() - start, 1),
    }
    rates = report["detection_rate"]
    report["targets_met"] = {
        "jpeg75": rates["jpeg75"]["rate"] >= TARGETS["jpeg75"],
        "half_size": rates["half_size"]["rate"] >= TARGETS["half_size"],
        "false_positive_rate": report["false_positive_rate"]["rate"] <= TARGETS["false_positive_rate_max"],
        "psnr": report["psnr_db"]["min"] >= TARGETS["psnr_db_min"],
    }
    return report
