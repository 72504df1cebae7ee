"""``mfs verify``: is a file (or every file of a folder) marked as synthetic, and how."""

from pathlib import Path

import av
import numpy as np
from PIL import Image, UnidentifiedImageError

from mobilefaceswap.files import IMAGE_SUFFIXES, VIDEO_SUFFIXES, is_video
from mobilefaceswap.provenance import watermark
from mobilefaceswap.provenance.c2pa_manifest import read_manifest
from mobilefaceswap.provenance.metadata import read_image_metadata, read_video_metadata

VIDEO_FRAMES = 24  # frames read from the start of a video; their bits are averaged


def _watermark_report(frames: list[np.ndarray]) -> dict:
    per_frame = [watermark.phases(frame) for frame in frames]
    mark = watermark.decode(np.mean(per_frame, axis=0))
    report = {"found": mark is not None, **(mark.as_dict() if mark else {})}
    if len(frames) > 1:
        report["frames_read"] = len(frames)
        report["frames_marked"] = sum(watermark.decode(p) is not None for p in per_frame)
    return report


def _video(path: Path) -> dict:
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                return {"error": "no video stream"}
            metadata = read_video_metadata(container)
            frames = []
            for frame in container.decode(video=0):
                frames.append(frame.to_ndarray(format="rgb24"))
                if len(frames) == VIDEO_FRAMES:
                    break
    except (av.error.FFmpegError, OSError) as err:
        return {"error": f"cannot read video: {err}"}
    if not frames:
        return {"error": "no decodable frame"}
    return {"kind": "video", "watermark": _watermark_report(frames), "metadata": metadata}


def _image(path: Path) -> dict:
    try:
        with Image.open(path) as image:
            rgb = np.asarray(image.convert("RGB"))
        metadata = read_image_metadata(path)
    except (UnidentifiedImageError, OSError, ValueError) as err:
        return {"error": f"cannot read image: {err}"}
    return {"kind": "image", "watermark": _watermark_report([rgb]), "metadata": metadata}


def verify_file(path: str | Path) -> dict:
    """{"path", "marked", "kind", "watermark", "metadata", "c2pa"} or {"path", "error"} when unreadable."""
    path = Path(path)
    report = _video(path) if is_video(path) else _image(path)
    if "error" not in report:
        report["c2pa"] = read_manifest(path)
        report["marked"] = (
            report["watermark"]["found"] or report["metadata"]["record"] is not None or report["c2pa"].get("present", False)
        )
    return {"path": str(path), **report}


def _is_visible_media(path: Path, folder: Path) -> bool:
    hidden = any(part.startswith(".") for part in path.relative_to(folder).parts)
    return not hidden and path.suffix.lower() in IMAGE_SUFFIXES | VIDEO_SUFFIXES and path.is_file()


def verify_paths(path: str | Path) -> list[dict]:
    """One report per file: ``path`` itself, or every image and video in a folder and its
    subfolders (other files, and hidden ones, are left out: a readme.txt is no unreadable image)."""
    path = Path(path)
    if path.is_dir():
        return [verify_file(p) for p in sorted(path.rglob("*")) if _is_visible_media(p, path)]
    if not path.exists():
        return [{"path": str(path), "error": "not found"}]
    return [verify_file(path)]


def exit_code(reports: list[dict]) -> int:
    """2 when any file is unreadable (or there is none), 1 when any is unmarked, else 0."""
    if not reports or any("error" in r for r in reports):
        return 2
    return 0 if all(r["marked"] for r in reports) else 1


def format_report(report: dict) -> str:
    if "error" in report:
        return f"{report['path']}: unreadable ({report['error']})"
    mark = report["watermark"]
    mark_text = f"watermark id {mark['id']} (confidence {mark['confidence']})" if mark["found"] else "no watermark"
    where = ", ".join(report["metadata"]["where"]) or "no provenance metadata"
    c2pa = report["c2pa"]
    if c2pa.get("present"):
        where += f"; C2PA manifest {c2pa['validation_state']}" + (f" ({', '.join(c2pa['failures'])})" if c2pa["failures"] else "")
    verdict = "marked as synthetic" if report["marked"] else "NOT marked"
    return f"{report['path']}: {verdict}: {mark_text}; metadata: {where}"
