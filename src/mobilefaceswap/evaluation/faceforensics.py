"""The FaceForensics++ evaluation set of the paper (and of FaceShifter and SimSwap before it).

FF++ as downloaded::

    <root>/original_sequences/youtube/<compression>/videos/000.mp4 ... 999.mp4
    <root>/manipulated_sequences/<Method>/<compression>/videos/000_003.mp4 ...
    <root>/splits/{train,val,test}.json      (optional: lists of [a, b] video-id pairs)

A manipulated video ``a_b`` puts the face of video ``b`` (the source) into the frames of
video ``a`` (the target). The protocol takes N evenly spaced frames of every target video;
frame k of the pair is swapped with the face in frame k of the source video.
"""

import csv
import json
import logging
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import av
import numpy as np
from tqdm import tqdm

from mobilefaceswap.data.errors import DataError
from mobilefaceswap.data.media import read_image, write_image_file
from mobilefaceswap.evaluation.evaluator import SwapEvaluator, read_manifest
from mobilefaceswap.files import write_atomic, write_json_atomic, write_text_atomic
from mobilefaceswap.inference.pipeline import FaceSwapPipeline
from mobilefaceswap.inference.session import open_swap_session
from mobilefaceswap.inference.swap import write_image

log = logging.getLogger(__name__)

PAIR_METHOD = "FaceSwap"  # the face-swap subset whose video names give the pairs


@dataclass(frozen=True)
class VideoPair:
    target: str  # video id whose frames are swapped
    source: str  # video id that gives the identity

    @property
    def name(self) -> str:
        return f"{self.target}_{self.source}"


def original_video(root: Path, video_id: str, compression: str) -> Path:
    return root / "original_sequences" / "youtube" / compression / "videos" / f"{video_id}.mp4"


def manipulated_video(root: Path, method: str, pair: VideoPair, compression: str) -> Path:
    return root / "manipulated_sequences" / method / compression / "videos" / f"{pair.name}.mp4"


def read_pairs(root: str | Path, compression: str = "c23", split: str | None = None) -> list[VideoPair]:
    """The pairs of ``splits/<split>.json`` (both directions, as FF++ made them), or else every
    ``a_b.mp4`` of the FaceSwap subset."""
    root = Path(root)
    if split is not None:
        path = root / "splits" / f"{split}.json"
        if not path.is_file():
            raise DataError(f"FaceForensics++ split file not found: {path}")
        try:
            listed = json.loads(path.read_text())
            pairs = [VideoPair(str(a), str(b)) for a, b in listed] + [VideoPair(str(b), str(a)) for a, b in listed]
        except (ValueError, TypeError) as err:
            raise DataError(f"{path}: expected a JSON list of [a, b] video-id pairs ({err})") from None
    else:
        folder = root / "manipulated_sequences" / PAIR_METHOD / compression / "videos"
        names = sorted(p.stem for p in folder.glob("*_*.mp4"))
        if not names:
            raise DataError(f"no pair list: neither --split nor {folder}/<target>_<source>.mp4 videos")
        pairs = [VideoPair(*name.split("_", 1)) for name in names]
    return sorted(set(pairs), key=lambda p: (p.target, p.source))


def frame_count(path: Path) -> int:
    """Frames in the first video stream (counted from packets when the container does not say)."""
    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            return stream.frames or sum(1 for packet in container.demux(stream) if packet.size)
    except (av.error.FFmpegError, OSError, IndexError) as err:
        raise DataError(f"cannot read video {path}: {err}") from None


def evenly_spaced(count: int, n: int) -> list[int]:
    """The centres of n equal parts of [0, count): no first or last frame (often fades)."""
    n = min(n, count)
    return [int((i + 0.5) * count / n) for i in range(n)]


def read_frames(path: Path, indices: list[int]) -> dict[int, np.ndarray]:
    """Frame index -> RGB uint8 for the wanted indices; a truncated video gives those it has."""
    wanted, frames = set(indices), {}
    try:
        with av.open(str(path)) as container:
            for i, frame in enumerate(container.decode(video=0)):
                if i in wanted:
                    frames[i] = frame.to_ndarray(format="rgb24")
                if i >= max(wanted):
                    break
    except (av.error.FFmpegError, OSError) as err:
        if not frames:
            raise DataError(f"cannot decode video {path}: {err}") from None
        log.warning("%s: decoding stopped early (%s)", path, err)
    return frames


@dataclass
class EvalFrame:
    pair: VideoPair
    k: int  # which of the N frames
    frame: int  # its index in the target video
    target: Path
    source: Path


def frame_name(k: int, index: int) -> str:
    """The k-th of a video's N frames, at ``index`` in the video."""
    return f"{k:02d}_{index:05d}.png"


def extract_frames(
    root: str | Path,
    out: str | Path,
    frames_per_video: int = 10,
    compression: str = "c23",
    split: str | None = None,
    limit: int | None = None,
    progress: bool = True,
) -> tuple[list[EvalFrame], list[str]]:
    """Write the N evenly spaced frames of every video the pairs need to ``out/frames/<id>/<k>_<index>.png``
    (kept between runs) -> one EvalFrame per (pair, k) whose frames exist, and the skipped videos."""

    root, out = Path(root), Path(out)
    pairs = read_pairs(root, compression, split)[:limit]
    skipped: list[str] = []
    written: dict[str, list[tuple[int, Path]]] = {}
    videos = sorted({p.target for p in pairs} | {p.source for p in pairs})
    for video_id in tqdm(videos, desc="FF++ frames", unit="video", disable=not progress):
        folder = out / "frames" / video_id
        done = folder / "frames.json"  # written last: a killed extraction redoes this video only
        if not done.is_file():
            path = original_video(root, video_id, compression)
            try:
                frames = read_frames(path, evenly_spaced(frame_count(path), frames_per_video))
            except DataError as err:
                skipped.append(str(err))
                continue
            indices = sorted(frames)
            for k, index in enumerate(indices):
                write_image_file(folder / frame_name(k, index), frames[index])
            write_text_atomic(done, json.dumps(indices))
        indices = json.loads(done.read_text())
        written[video_id] = [(index, folder / frame_name(k, index)) for k, index in enumerate(indices)]
    items = [
        EvalFrame(pair, k, index, target, source)
        for pair in pairs
        if pair.target in written and pair.source in written
        for k, ((index, target), (_, source)) in enumerate(zip(written[pair.target], written[pair.source]))
    ]
    return items, skipped


def relative(folder: Path, path: Path) -> str:
    return Path(os.path.relpath(path, folder)).as_posix()


def write_manifest(path: Path, items: list[EvalFrame], swapped: list[Path]) -> Path:
    """A manifest for ``mfs eval-swaps``: paths relative to it; the source id is the source video."""
    rows = [
        {
            "source": relative(path.parent, item.source),
            "target": relative(path.parent, item.target),
            "swapped": relative(path.parent, result),
            "source_id": item.pair.source,
        }
        for item, result in zip(items, swapped)
    ]

    def write(tmp: str) -> None:
        with open(tmp, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=["source", "target", "swapped", "source_id"])
            writer.writeheader()
            writer.writerows(rows)

    return write_atomic(path, write)


def swap_with_model(
    items: list[EvalFrame], pipeline: FaceSwapPipeline, out: Path, progress: bool = True
) -> tuple[list[EvalFrame], list[Path], list[str]]:
    """Swap frame k of each source video into frame k of its target video, pasted back into the
    whole frame. Outputs already written are kept (a killed run continues)."""
    kept, swapped, skipped = [], [], []
    for item in tqdm(items, desc="swapping FF++ frames", unit="frame", disable=not progress):
        destination = out / "swapped" / item.pair.name / item.target.name
        if not destination.is_file():
            try:
                pipeline.reset()
                pipeline.set_source(read_image(item.source))
                image, count = pipeline.swap_frame(read_image(item.target), video=False)
                if count == 0:
                    raise DataError(f"no face found in {item.target}")
            except DataError as err:
                skipped.append(f"{item.pair.name} frame {item.k}: {err}")
                continue
            write_image(destination, image)
        kept.append(item)
        swapped.append(destination)
    return kept, swapped, skipped


def swaps_of_method(
    items: list[EvalFrame], root: Path, method: str, compression: str, out: Path, progress: bool = True
) -> tuple[list[EvalFrame], list[Path], list[str]]:
    """The same frames of FF++'s own manipulated videos ``<method>/<target>_<source>.mp4``."""
    kept, swapped, skipped = [], [], []
    by_pair: dict[VideoPair, list[EvalFrame]] = {}
    for item in items:
        by_pair.setdefault(item.pair, []).append(item)
    for pair, frames in tqdm(by_pair.items(), desc=f"FF++ {method} frames", unit="video", disable=not progress):
        path = manipulated_video(root, method, pair, compression)
        indices = {item.frame: item for item in frames}
        try:
            decoded = read_frames(path, sorted(indices))
        except DataError as err:
            skipped.append(str(err))
            continue
        for index, item in indices.items():
            if index not in decoded:
                skipped.append(f"{path}: no frame {index}")
                continue
            destination = out / "swapped" / pair.name / item.target.name
            write_image(destination, decoded[index])
            kept.append(item)
            swapped.append(destination)
    return kept, swapped, skipped


@dataclass
class FFppProtocol:
    """The FaceForensics++ evaluation (``mfs eval-ffpp``, ``eval=ffpp``): which videos and frames."""

    root: Path
    frames: int = 10
    compression: str = "c23"
    split: str | None = None
    limit: int | None = None

    def describe(self, pairs: int) -> dict:
        return {
            "name": "ffpp",
            "frames_per_video": self.frames,
            "compression": self.compression,
            "split": self.split or "all FaceSwap pairs",
            "pairs": pairs,
        }


def evaluate_ffpp(
    evaluator: SwapEvaluator,
    protocol: FFppProtocol,
    out: Path,
    name: str,
    pipeline: FaceSwapPipeline | None = None,
    method: str | None = None,
    progress: bool = True,
) -> dict:
    """Score the swapper of ``pipeline`` or FF++'s own ``method`` on FF++ -> the report, also
    written to ``out/<name>/eval.json``."""
    root, out = Path(protocol.root), Path(out)
    if out.resolve().is_relative_to(root.resolve()):
        raise DataError(f"the output folder {out} is inside the dataset {root}; choose a folder outside it")
    items, skipped = extract_frames(
        root, out, protocol.frames, protocol.compression, protocol.split, protocol.limit, progress=progress
    )
    if method is not None:
        items, swapped, failed = swaps_of_method(items, root, method, protocol.compression, out / name, progress=progress)
    else:
        items, swapped, failed = swap_with_model(items, pipeline, out / name, progress=progress)
    if not items:
        raise DataError(f"nothing to score: {'; '.join((skipped + failed)[:3])}")
    manifest = write_manifest(out / name / "manifest.csv", items, swapped)
    report = asdict(evaluator.evaluate(read_manifest(manifest), progress=progress))
    report["skipped"] = skipped + failed + report["skipped"]
    report["protocol"] = protocol.describe(len({i.pair for i in items}))
    write_json_atomic(out / name / "eval.json", report)
    return report


def score_on_ffpp(
    protocol: FFppProtocol, out: Path, checkpoint: str | None = None, method: str | None = None, progress: bool = True, **weights
) -> tuple[dict, Path]:
    """``mfs eval-ffpp``: score a swapper file (``checkpoint``) or FF++'s own ``method`` ->
    (the report, the folder of its manifest and eval.json); ``weights`` are SwapEvaluator's. FID's
    crops follow the swapper's alignment unless ``weights`` give ``crop_size`` and ``template``."""
    evaluator = SwapEvaluator(**weights)
    if method:
        name, pipeline = method, None
    else:
        name, pipeline = Path(checkpoint).stem, open_swap_session(checkpoint, device=evaluator.device.type).pipeline
        if "crop_size" not in weights:
            evaluator.align_fid_crops(pipeline.swapper.crop_size, pipeline.swapper.template)
    report = evaluate_ffpp(evaluator, protocol, Path(out), name, pipeline, method, progress=progress)
    return report, Path(out) / name
