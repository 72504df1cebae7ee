"""Small shared utilities."""

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp"}  # the image files read (with OpenCV) wherever a folder is scanned
VIDEO_SUFFIXES = {".mp4", ".mov", ".mkv", ".avi", ".webm", ".m4v"}  # the video files read (with PyAV)


def is_video(path: str | Path) -> bool:
    return Path(path).suffix.lower() in VIDEO_SUFFIXES


def write_atomic(path: str | Path, write: Callable[[str], None], suffix: str = "") -> Path:
    """Call ``write(tmp_path)`` then move the file into place, so readers never see half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=suffix or path.suffix)
    os.close(fd)
    try:
        write(tmp)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; give the file ordinary permissions
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path


def write_text_atomic(path: str | Path, text: str) -> Path:
    return write_atomic(path, lambda tmp: Path(tmp).write_text(text))


def write_json_atomic(path: str | Path, data) -> Path:
    return write_text_atomic(path, json.dumps(data, indent=2) + "\n")


def same_file(a: str | Path, b: str | Path) -> bool:
    """Whether two paths name one existing file, however spelt (relative, symlink, hard link)."""
    return os.path.exists(a) and os.path.exists(b) and os.path.samefile(a, b)


def refuse_overwrite(output: str | Path, inputs: dict[str, str | Path | None], flag: str = "--output") -> None:
    """ValueError with one line when ``output`` is one of the ``inputs`` (what -> path)."""
    for what, path in inputs.items():
        if path is not None and same_file(output, path):
            raise ValueError(f"{flag} {output} is the {what} {path}: it would be overwritten; choose another {flag}")


def check_writable_folder(folder: str | Path, flag: str = "--output") -> None:
    """ValueError with one line unless ``folder`` exists writable or can be created."""
    folder = Path(folder).absolute()
    existing = next(p for p in (folder, *folder.parents) if p.exists())
    if not existing.is_dir():
        raise ValueError(f"{flag}: cannot create the folder {folder} because {existing} is a file; choose another {flag}")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ValueError(f"{flag}: the folder {existing} is not writable; choose another {flag}")
