"""``mfs swap``: swap one source identity into images, videos or folders of them."""

import errno
import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from mobilefaceswap.data.errors import DataError
from mobilefaceswap.data.media import ImageFile, as_stored, can_write_image, image_bytes, read_image_file
from mobilefaceswap.files import IMAGE_SUFFIXES, VIDEO_SUFFIXES, check_writable_folder, is_video, refuse_overwrite, write_atomic
from mobilefaceswap.inference.pipeline import FaceSwapPipeline, NonFiniteOutputError
from mobilefaceswap.inference.video import OUTPUT_VIDEO_SUFFIXES, VideoEncoding, even_size, transcode
from mobilefaceswap.progress import Progress
from mobilefaceswap.provenance.metadata import container_tags, encode_image
from mobilefaceswap.provenance.record import OutputRecord, Provenance

log = logging.getLogger(__name__)
WRITE_ERRORS = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS}  # a full disk or quota, too large a file, read-only
ALPHA_SUFFIXES = {".png", ".webp"}  # the image outputs that hold an alpha channel
_SAME_TYPE = {".jpeg": ".jpg"}  # suffixes naming one file type


@dataclass
class SwapSummary:
    images: int = 0
    videos: int = 0
    frames: int = 0
    faces_swapped: int = 0
    frames_without_face: int = 0
    skipped: list[str] = field(default_factory=list)  # "path: reason"
    truncated_videos: list[str] = field(default_factory=list)
    watermarks: dict[str, str] = field(default_factory=dict)  # output -> watermark id
    unchanged: list[str] = field(default_factory=list)  # "output: why": nothing swapped, so not marked as synthetic
    warnings: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return asdict(self)


def write_image(path: str | Path, image: np.ndarray, record: OutputRecord | None = None,
                gray: bool = False, alpha: np.ndarray | None = None) -> None:
    """RGB ``image`` written atomically; with a ``record``, watermarked and carrying its provenance
    metadata; ``gray``: stored as grayscale; ``alpha``: stored with this alpha channel."""

    def write(tmp: str) -> None:
        marked = as_stored(image if record is None else record.mark(image), gray, alpha)
        suffix = Path(path).suffix
        if record is not None and suffix.lower() in IMAGE_SUFFIXES:  # with metadata where the format has room
            Path(tmp).write_bytes(encode_image(marked, suffix, record.as_dict()))
        else:
            Path(tmp).write_bytes(image_bytes(marked, suffix))

    write_atomic(path, write)


class Swapping:
    """Swaps targets one by one into outputs, counting what happened."""

    def __init__(
        self,
        pipeline: FaceSwapPipeline,
        provenance: Provenance,
        aligned: bool = False,
        progress: bool = True,
        encoding: VideoEncoding | None = None,
    ):
        self.pipeline = pipeline
        self.encoding = encoding or VideoEncoding()
        self.provenance = provenance
        self.aligned = aligned
        self.progress = progress
        self.summary = SwapSummary()
        self._target, self._target_frames = Path(), 0  # the target being swapped, and its frames so far
        self.summary.warnings.extend(pipeline.warnings)
        if not provenance.watermark:
            self.summary.warnings.append("--no-watermark: outputs carry no invisible watermark, only provenance metadata")

    def _record(self, destination: Path) -> OutputRecord:
        record = self.provenance.for_output()
        if record.watermark_id is not None:
            self.summary.watermarks[str(destination)] = f"{record.watermark_id:08x}"
        return record

    def _frame(self, frame: np.ndarray, video: bool, seconds: float | None = None) -> tuple[np.ndarray, int]:
        """The swapped frame and how many faces it had swapped."""
        try:
            if self.aligned:  # raw network output, as the released code writes without merging
                out, count = self.pipeline.swap_aligned(self.pipeline.as_crop(frame))[0], 1
            else:
                out, count = self.pipeline.swap_frame(frame, video=video, seconds=seconds)
        except NonFiniteOutputError as err:
            where = f"frame {self._target_frames + 1}: " if video else ""
            raise NonFiniteOutputError(f"{self._target}: {where}{err}") from None
        self._target_frames += 1
        self.summary.frames += 1
        self.summary.faces_swapped += count
        self.summary.frames_without_face += count == 0
        return out, count

    def _start(self, source: Path) -> None:
        """A new target: no tracked faces, its frames counted from 1 (named in errors)."""
        self.pipeline.reset()
        self._target, self._target_frames = source, 0

    def image(self, source: Path, destination: Path) -> None:
        self._start(source)
        original = read_image_file(source)
        swapped, count = self._frame(original.rgb, video=False)
        if count == 0:  # nothing synthetic in it: no watermark, no metadata or manifest saying so
            self.summary.unchanged.append(f"{destination}: no face found in {source}: {write_unchanged(destination, original)}")
        else:
            alpha = original.alpha
            if alpha is not None and destination.suffix.lower() not in ALPHA_SUFFIXES:
                alpha = None
                self.summary.warnings.append(f"{destination}: {source}'s alpha channel (transparency) is dropped: "
                                             f"{destination.suffix} has none; write .png or .webp to keep it")
            record = self._record(destination)
            write_image(destination, swapped, record, gray=original.gray, alpha=alpha)
            self.provenance.seal(destination, record)
        self.summary.images += 1

    def video(self, source: Path, destination: Path) -> None:
        self._start(source)
        record = self._record(destination)

        def swap(frame: np.ndarray, seconds: float | None) -> np.ndarray:
            marked, _ = self._frame(frame, video=True, seconds=seconds)
            with self.pipeline.times("watermark"):
                return record.mark(marked)

        result = transcode(source, destination, swap, progress=self.progress, encoding=self.encoding,
                           metadata=container_tags(record.as_dict()), times=self.pipeline.times)
        self.provenance.seal(destination, record)
        self.summary.videos += 1
        if (result.width, result.height) != even_size(result.width, result.height):
            width, height = even_size(result.width, result.height)
            self.summary.warnings.append(
                f"{destination}: {source} is {result.width}x{result.height}: written {width}x{height} (its last column or row "
                "repeated), as 4:2:0 video, the kind every browser and phone plays, has even sides"
            )
        if result.truncated:
            self.summary.truncated_videos.append(str(source))

    def path(self, source: Path, destination: Path) -> None:
        (self.video if is_video(source) else self.image)(source, destination)


def write_unchanged(destination: Path, original: ImageFile) -> str:
    """``original`` written to ``destination`` as it was, unmarked: its bytes where the types
    match, else its pixels (gray and alpha kept where the type holds them); says which."""
    suffix, source_suffix = (_SAME_TYPE.get(s.lower(), s.lower()) for s in (destination.suffix, original.path.suffix))
    if suffix == source_suffix:
        data, how = original.data, "written unchanged (its bytes), not marked"
    else:
        alpha = original.alpha if suffix in ALPHA_SUFFIXES else None
        data = image_bytes(as_stored(original.rgb, original.gray, alpha), destination.suffix)
        how = f"its pixels written unchanged as {destination.suffix}, not marked"
        if suffix in (".jpg", ".webp"):  # lossy: the pixels are as close as the type allows
            how = f"re-encoded as {destination.suffix} without a change, not marked"
    write_atomic(destination, lambda tmp: Path(tmp).write_bytes(data))
    return how


def output_for(target: Path, output: Path, folder: bool) -> Path:
    if not folder:
        return output
    name = target.with_suffix(".mp4").name if is_video(target) else target.name
    return output / name


def check_output_format(target: Path, destination: Path) -> None:
    """One line saying what to change when ``destination`` cannot hold what ``target`` gives."""
    if is_video(target):
        if destination.suffix.lower() not in OUTPUT_VIDEO_SUFFIXES:
            endings = ", ".join(sorted(OUTPUT_VIDEO_SUFFIXES))
            raise DataError(f"--output {destination}: a video target needs a video file name ending in {endings}")
    elif not can_write_image(destination):
        raise DataError(f"--output {destination}: not an image file type that can be written; end it in .png or .jpg")


def plan_swaps(target: Path, output: Path, inputs: dict[str, Path | None]) -> list[tuple[Path, Path | None]]:
    """Every (target, output) file of a run, checked before any work: the output's type and
    folder, and that no output is an input (``inputs``: what -> path, e.g. the source photo).
    A folder's other entries come last, with no output: they are listed as skipped."""
    folder = target.is_dir()
    if folder:
        entries = sorted(p for p in target.iterdir() if not p.name.startswith("."))  # hidden files are no targets
        targets = [p for p in entries if not p.is_dir() and (p.suffix.lower() in IMAGE_SUFFIXES or is_video(p))]
        if not targets:
            raise DataError(f"no image or video in {target}")
        if output.exists() and not output.is_dir():
            raise DataError(f"--output {output} is a file; a folder --target needs an output folder")
        check_writable_folder(output)
    elif target.exists():  # a file, or a pipe such as <(cat photo.jpg), read as an image
        targets = [target]
        if output.is_dir():
            raise DataError(f"--output {output} is a folder; give a file name such as {output / target.name}")
        check_writable_folder(output.parent)
    else:
        raise DataError(f"target not found: {target}")
    protected = {**inputs, **{f"target {t.name}": t for t in targets}}
    plan, destinations = [], {}
    for item in targets:
        destination = output_for(item, output, folder)
        refuse_overwrite(destination, protected)
        check_output_format(item, destination)
        if destination in destinations:
            raise DataError(f"{destinations[destination]} and {item} would both be written to {destination}; rename one")
        destinations[destination] = item
        plan.append((item, destination))
    unswapped = [(entry, None) for entry in entries if entry not in targets] if folder else []
    return plan + unswapped


def unswapped_reason(entry: Path) -> str:
    if entry.is_dir():
        return "a folder: the folders inside a target folder are not searched"
    readable = ", ".join(sorted(IMAGE_SUFFIXES | VIDEO_SUFFIXES))
    return f"not swapped in a folder (reads {readable}); give it alone as --target"


def swap_targets(swapping: Swapping, plan: list[tuple[Path, Path | None]], folder: bool) -> SwapSummary:
    """Swap each planned target (see ``plan_swaps``); in a folder, unreadable ones are skipped and
    listed, and each file is announced on stderr as it starts (``3 of 12: name``) unless quiet."""
    progress = Progress(len(plan), quiet=not (folder and swapping.progress))
    for done, (item, destination) in enumerate(plan):
        progress.step(item.name)
        if destination is None:
            swapping.summary.skipped.append(f"{item}: {unswapped_reason(item)}")
            continue
        try:
            swapping.path(item, destination)
        except DataError as err:
            if not folder:
                raise
            swapping.summary.skipped.append(f"{item}: {err}")
            log.warning("skipped %s: %s", item, err)
        except OSError as err:
            if err.errno not in WRITE_ERRORS:
                raise
            raise DataError(  # the run stops, naming the file; the outputs written before are whole
                f"cannot write {destination}: {err.strerror}; stopped after {done} of {len(plan)} targets"
            ) from None
    return swapping.summary
