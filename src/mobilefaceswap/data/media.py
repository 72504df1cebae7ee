"""Image files read and written through bytes, never through OpenCV's file-name functions.

``cv2.imread``, ``cv2.imwrite`` and ``cv2.haveImageWriter`` crash the process (a segmentation
fault) on a name that is not valid UTF-8, which the file system allows; reading the bytes with
Python and decoding them in memory takes any name. Decoding in memory also refuses a truncated
JPEG, which ``cv2.imread`` returns with its missing rows grey.
"""

import io
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from mobilefaceswap.data.errors import DataError
from mobilefaceswap.files import write_atomic


def _frame_count(data: bytes) -> int:
    """Frames (or pages) of an animated GIF, WebP, PNG or a multi-page TIFF; 1 for a still."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            return getattr(image, "n_frames", 1)
    except (UnidentifiedImageError, OSError, ValueError):
        return 1  # not for Pillow: OpenCV decides


def decode_image(data: bytes, name: str | Path) -> np.ndarray:
    """RGB uint8 of an image file's bytes (EXIF orientation applied), or DataError with one line."""
    frames = _frame_count(data)
    if frames > 1:
        raise DataError(
            f"{name} is animated ({frames} frames): only still images are swapped; "
            f"convert it to a video first (e.g. ffmpeg -i {Path(name).name} clip.mp4)"
        )
    bgr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR) if data else None
    if bgr is None:
        raise DataError(f"cannot read image {name}: not an image, or damaged or truncated")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def _read_bytes(path: str | Path) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as err:
        raise DataError(f"cannot read image {path}: {err.strerror or err}") from None


def read_image(path: str | Path) -> np.ndarray:
    """RGB uint8 of an image file, whatever bytes its name holds; DataError with one line."""
    return decode_image(_read_bytes(path), path)


@dataclass(frozen=True)
class ImageFile:
    """An image file as read: its path and bytes, its RGB pixels (swapped in colour whatever it
    holds), whether it is grayscale, and its alpha channel (H, W) uint8 when it has one."""

    path: Path
    data: bytes
    rgb: np.ndarray
    gray: bool
    alpha: np.ndarray | None


def _gray_and_alpha(data: bytes, shape: tuple[int, ...]) -> tuple[bool, np.ndarray | None]:
    """Whether the file is grayscale, and its alpha upright as the RGB pixels (None without one)."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            gray = image.mode in ("1", "L", "LA", "I", "I;16", "F")
            if not (image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in image.info):
                return gray, None
            alpha = np.asarray(ImageOps.exif_transpose(image).convert("RGBA").getchannel("A"))
    except (UnidentifiedImageError, OSError, ValueError):
        return False, None  # not for Pillow: read as the RGB OpenCV gives
    return gray, (alpha if alpha.shape == shape[:2] else None)


def read_image_file(path: str | Path) -> ImageFile:
    """``read_image``, keeping what the RGB pixels leave out: the bytes, gray or not, the alpha."""
    data = _read_bytes(path)
    rgb = decode_image(data, path)
    return ImageFile(Path(path), data, rgb, *_gray_and_alpha(data, rgb.shape))


def as_stored(rgb: np.ndarray, gray: bool, alpha: np.ndarray | None) -> np.ndarray:
    """RGB pixels back in the channels of the file they came from: (H, W) gray, or RGBA."""
    if gray:
        pixels = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
        return pixels if alpha is None else np.dstack([pixels, pixels, pixels, alpha])  # gray + alpha: RGBA
    return rgb if alpha is None else np.dstack([rgb, alpha])


def can_write_image(path: str | Path) -> bool:
    """Whether OpenCV writes the type that ``path``'s suffix names (asked with an ASCII name)."""
    suffix = Path(path).suffix.lower()
    return suffix.isascii() and len(suffix) > 1 and cv2.haveImageWriter(f"image{suffix}")


def image_bytes(rgb: np.ndarray, suffix: str) -> bytes:
    """``rgb`` (or (H, W) gray, or RGBA) encoded as ``suffix`` names."""
    conversions = {3: cv2.COLOR_RGB2BGR, 4: cv2.COLOR_RGBA2BGRA}
    pixels = rgb if rgb.ndim == 2 else cv2.cvtColor(rgb, conversions[rgb.shape[2]])
    ok, data = cv2.imencode(suffix, pixels)
    if not ok:
        raise DataError(f"cannot encode an image as {suffix}")
    return data.tobytes()


def write_image_file(path: str | Path, rgb: np.ndarray) -> Path:
    """``rgb`` written atomically in the type of ``path``'s suffix."""
    data = image_bytes(rgb, Path(path).suffix)
    return write_atomic(path, lambda tmp: Path(tmp).write_bytes(data))
