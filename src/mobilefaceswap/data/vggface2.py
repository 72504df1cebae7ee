"""``mfs prepare-data``: VGGFace2 filtered as in the paper, aligned as the teacher aligns, sharded.

Input: the standard layout ``<root>/<identity>/<image>.jpg`` (``root`` = VGGFace2's ``train``
folder) and, when given, its official landmark CSV (``bb_landmark/loose_landmark_train.csv``:
``NAME_ID,P1X,P1Y,...,P5X,P5Y``, five points per image). Images whose two eye landmarks are at
most ``min_eye_distance`` pixels apart are dropped (the paper keeps those above 70 px).

Output (``out``)::

    shards/faces_00000.npy   (K, S, S, 3) uint8 aligned faces of input shard 0
    shards/shard_00000.json  its index rows and dropped images (written last: the shard is done)
    shards/masks_00000.npy   (K, S, S) uint8 face-parsing masks M_t, with --masks
    index.csv                shard,row,identity,path,eye_distance,x0,y0,...,x4,y4
    dropped.csv, report.json

The sorted image list is cut into fixed shards, so a killed run continues with the shards
that have no ``shard_*.json`` and ends with exactly the files of an uninterrupted run.
"""

import csv
import json
import multiprocessing
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from mobilefaceswap.data.alignment import align_face, face_template
from mobilefaceswap.data.errors import DataError
from mobilefaceswap.data.media import read_image
from mobilefaceswap.files import IMAGE_SUFFIXES, write_atomic, write_json_atomic, write_text_atomic

INDEX_COLUMNS = ["shard", "row", "identity", "path", "eye_distance"] + [f"{a}{i}" for i in range(5) for a in "xy"]


LANDMARK_SOURCES = ("csv", "dlib", "dlib_turned", "insightface")


@dataclass(frozen=True)
class PrepareConfig:
    size: int = 224
    template: str = "arcface"
    min_eye_distance: float = 70.0
    shard_size: int = 1000  # input images per shard
    landmarks: str = "dlib"  # csv | dlib | dlib_turned | insightface
    insightface_root: str | None = None  # folder holding models/<pack>/*.onnx

    def __post_init__(self):
        face_template(self.size, self.template)  # refuses an unknown template
        if self.landmarks not in LANDMARK_SOURCES:
            raise ValueError(f"landmarks={self.landmarks!r}: use {', '.join(LANDMARK_SOURCES[:-1])} or {LANDMARK_SOURCES[-1]}")


def prepare_config(
    size: int, template: str, landmark_csv: str | Path | None = None, landmarks: str | None = None, **settings
) -> PrepareConfig:
    """The settings of ``mfs prepare-data`` and of ``VGGFace2DataModule.prepare_data``: landmarks
    from VGGFace2's CSV when one is given, else dlib's, unless ``landmarks`` says otherwise."""
    return PrepareConfig(size, template, landmarks=landmarks or ("csv" if landmark_csv else "dlib"), **settings)


def list_images(root: Path) -> list[str]:
    """``identity/image.jpg`` for every image one folder below ``root``, sorted."""
    if not root.is_dir():
        raise DataError(f"VGGFace2 folder not found: {root}")
    found = [p for p in root.glob("*/*") if p.suffix.lower() in IMAGE_SUFFIXES]
    names = sorted(p.relative_to(root).as_posix() for p in found if p.is_file())  # not a dangling or looping link
    if not names:
        links = f" ({len(found)} links to nothing, or looping)" if found else ""
        raise DataError(f"no <identity>/<image>.jpg under {root}{links}")
    return names


def read_landmark_csv(path: Path) -> dict[str, np.ndarray]:
    """NAME_ID (``identity/image`` without suffix) -> (5, 2) points."""
    if not path.is_file():
        raise DataError(f"landmark CSV not found: {path}")
    with open(path, newline="") as f:
        reader = csv.reader(f)
        header = next(reader, [])
        if header[:1] != ["NAME_ID"] or len(header) != 11:
            raise DataError(f"{path}: expected VGGFace2's header NAME_ID,P1X,P1Y,...,P5X,P5Y")
        return {row[0]: np.array(row[1:], np.float32).reshape(5, 2) for row in reader}


class Landmarks:
    """Five points of the largest face: the CSV's, dlib's (``dlib_turned``: a photo without an
    upright face searched again turned, 90 degrees either way and 180) or insightface's (RetinaFace / SCRFD)."""

    def __init__(self, config: PrepareConfig):
        self.config = config
        if config.landmarks.startswith("dlib"):
            from mobilefaceswap.data.detection import DlibFaceDetector

            self.detector = DlibFaceDetector()
        elif config.landmarks == "insightface":
            self.detector = insightface_detector(config.insightface_root)

    def __call__(self, image: np.ndarray, given: np.ndarray | None) -> np.ndarray | None:
        if self.config.landmarks == "csv":
            return given
        if self.config.landmarks.startswith("dlib"):
            faces = self.detector.search(image)[0] if self.config.landmarks == "dlib_turned" else self.detector(image)
            return faces[0].landmarks5 if faces else None
        faces = self.detector.get(cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
        if not faces:
            return None
        largest = max(faces, key=lambda f: (f.bbox[2] - f.bbox[0]) * (f.bbox[3] - f.bbox[1]))
        return np.asarray(largest.kps, np.float32)


def insightface_detector(root: str | None, pack: str = "buffalo_l"):
    """insightface's detector from a local model pack; never lets insightface download one."""
    models = Path(root or "").expanduser() / "models" / pack
    if root is None or not list(models.glob("*.onnx")):
        raise DataError(f"--insightface-root: no insightface model pack at {models} (expected {pack}'s .onnx files)")
    from insightface.app import FaceAnalysis

    app = FaceAnalysis(
        name=pack, root=str(Path(root).expanduser()), allowed_modules=["detection"], providers=["CPUExecutionProvider"]
    )
    app.prepare(ctx_id=-1, det_size=(640, 640))
    return app


# -- one shard, in a worker process ----------------------------------------------------------
_worker: dict = {}


def _init_worker(root: str, config: PrepareConfig) -> None:
    cv2.setNumThreads(1)  # one process per core already
    _worker.update(root=Path(root), config=config, landmarks=Landmarks(config))


def process_shard(task: tuple[int, list[str], np.ndarray | None]) -> tuple[int, np.ndarray, list[list], list[list[str]]]:
    """-> (shard, aligned faces, index rows, [path, reason] of dropped images)."""
    shard, names, given = task
    root, config, landmarks = _worker["root"], _worker["config"], _worker["landmarks"]
    faces, rows, dropped = [], [], []
    for i, name in enumerate(names):
        points = None if given is None or np.isnan(given[i]).any() else given[i]
        try:
            image = read_image(root / name)
        except DataError:
            dropped.append([name, "unreadable"])
            continue
        points = landmarks(image, points)
        if points is None:
            dropped.append([name, "no landmarks" if config.landmarks == "csv" else "no face"])
            continue
        eye_distance = float(np.linalg.norm(points[1] - points[0]))
        if eye_distance <= config.min_eye_distance:
            dropped.append([name, "eyes too close"])
            continue
        faces.append(align_face(image, points, config.size, config.template)[0])
        rows.append([shard, len(rows), name.split("/")[0], name, round(eye_distance, 2), *np.round(points, 2).ravel().tolist()])
    empty = np.zeros((0, config.size, config.size, 3), np.uint8)
    return shard, np.stack(faces) if faces else empty, rows, dropped


# -- the whole run ----------------------------------------------------------------------------
def shard_path(out: Path, kind: str, shard: int, suffix: str = "npy") -> Path:
    return out / "shards" / f"{kind}_{shard:05d}.{suffix}"


def prepare_vggface2(
    root: str | Path,
    out: str | Path,
    config: PrepareConfig,
    landmark_csv: str | Path | None = None,
    workers: int = 1,
    progress: bool = True,
    face_parser: Callable | None = None,
    device: str = "cpu",
) -> dict:
    """Filter, align and shard; continues a killed run. Returns the report. With ``face_parser``
    (what builds it, called once the faces are aligned: torch and the networks stay out of the
    workers that align) the masks M_t too, computed on ``device``."""
    root, out = Path(root), Path(out)
    if out.resolve().is_relative_to(root.resolve()):
        raise DataError(f"--output {out} is inside the dataset folder {root}; choose another")
    if landmark_csv and Path(landmark_csv).resolve().is_relative_to(out.resolve()):
        raise DataError(
            f"--landmark-csv {landmark_csv} is inside --output {out}, whose files are rewritten; choose another --output"
        )
    settings = {**asdict(config), "root": str(root.resolve())}
    settings_path = out / "prepare.json"
    if settings_path.is_file() and json.loads(settings_path.read_text()) != settings:
        raise DataError(f"{out} holds a cache prepared with other settings ({settings_path}); choose another --output")
    names = list_images(root)
    csv_points = read_landmark_csv(Path(landmark_csv)) if landmark_csv else None
    if config.landmarks == "csv" and csv_points is None:
        raise DataError("--landmarks csv needs --landmark-csv")
    if config.landmarks == "insightface":
        insightface_detector(config.insightface_root)  # one clear error before any worker starts
    write_json_atomic(settings_path, settings)

    shards = [names[i : i + config.shard_size] for i in range(0, len(names), config.shard_size)]
    pending = [c for c in range(len(shards)) if not shard_path(out, "shard", c, "json").is_file()]

    def task(shard: int) -> tuple[int, list[str], np.ndarray | None]:
        if csv_points is None:
            return shard, shards[shard], None
        missing = np.full((5, 2), np.nan, np.float32)
        return shard, shards[shard], np.stack([csv_points.get(n.rsplit(".", 1)[0], missing) for n in shards[shard]])

    done_images = len(names) - sum(len(shards[c]) for c in pending)
    bar = tqdm(total=len(names), initial=done_images, desc="VGGFace2", unit="image", disable=not progress)
    tasks = (task(c) for c in pending)
    if workers > 1:
        pool = multiprocessing.get_context("spawn").Pool(workers, _init_worker, (str(root), config))
        results = pool.imap_unordered(process_shard, tasks)
    else:
        pool = None
        _init_worker(str(root), config)
        results = map(process_shard, tasks)
    try:
        for shard, faces, rows, dropped in results:
            write_atomic(shard_path(out, "faces", shard), lambda tmp, a=faces: np.save(tmp, a))
            record = {"rows": rows, "dropped": dropped}
            write_text_atomic(shard_path(out, "shard", shard, "json"), json.dumps(record))
            bar.update(len(shards[shard]))
    finally:
        bar.close()
        if pool is not None:
            pool.terminate()  # every result is in by now, or the run is being stopped
    report = write_index(out, len(shards), settings)
    if face_parser is not None:
        add_masks(out, face_parser(), device=device, progress=progress)
        report["masks"] = True
    return report


def write_index(out: Path, shards: int, settings: dict) -> dict:
    """index.csv, dropped.csv and report.json from the shard records, in shard order."""
    reasons: Counter = Counter()
    kept, identities = 0, set()

    def write_rows(tmp: str) -> None:
        nonlocal kept
        with open(tmp, "w", newline="") as index_file, open(out / ".dropped.csv", "w", newline="") as dropped_file:
            index, dropped = csv.writer(index_file), csv.writer(dropped_file)
            index.writerow(INDEX_COLUMNS)
            dropped.writerow(["path", "reason"])
            for shard in range(shards):
                record = json.loads(shard_path(out, "shard", shard, "json").read_text())
                index.writerows(record["rows"])
                dropped.writerows(record["dropped"])
                kept += len(record["rows"])
                identities.update(row[2] for row in record["rows"])
                reasons.update(reason for _, reason in record["dropped"])

    write_atomic(out / "index.csv", write_rows)
    (out / ".dropped.csv").replace(out / "dropped.csv")
    report = {
        "images": kept + sum(reasons.values()),
        "kept": kept,
        "identities": len(identities),
        "dropped": dict(sorted(reasons.items())),
        "shards": shards,
        "settings": settings,
    }
    write_json_atomic(out / "report.json", report)
    return report


def add_masks(out: str | Path, face_parser, batch_size: int = 32, device: str = "cpu", progress: bool = True) -> int:
    """M_t of every prepared face from a FaceParser, cached as shards/masks_*.npy; returns shards done."""
    import torch

    out = Path(out)
    shards = sorted((out / "shards").glob("faces_*.npy"))
    if not (out / "index.csv").is_file():
        raise DataError(f"{out} is not a finished prepare-data cache (no index.csv)")
    face_parser = face_parser.to(device).eval()
    done = 0
    for path in tqdm(shards, desc="face-parsing masks", unit="shard", disable=not progress):
        target = path.with_name(path.name.replace("faces_", "masks_"))
        if target.is_file():
            continue
        faces = np.load(path, mmap_mode="r")
        masks = np.zeros(faces.shape[:3], np.uint8)
        for start in range(0, len(faces), batch_size):
            batch = torch.from_numpy(np.ascontiguousarray(faces[start : start + batch_size])).to(device)
            with torch.no_grad():
                masks[start : start + batch_size] = (
                    face_parser(batch.permute(0, 3, 1, 2).float() / 255)[:, 0].byte().cpu().numpy()
                )
        write_atomic(target, lambda tmp, m=masks: np.save(tmp, m))
        done += 1
    return done
