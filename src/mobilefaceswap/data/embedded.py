"""The embedded default data: real faces from photos that ship inside PyPI packages.

insightface's sample photos (a group photo of six and one portrait) and scikit-image's
astronaut are detected and aligned once; each detected face is its own identity.
The result is cached as one ``.npz`` so later runs start at once.
"""

import logging
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from mobilefaceswap.data.alignment import align_face
from mobilefaceswap.data.detection import DlibFaceDetector
from mobilefaceswap.data.errors import DataError
from mobilefaceswap.files import write_atomic

log = logging.getLogger(__name__)


def bundled_photos() -> dict[str, np.ndarray]:
    """Name -> RGB uint8 image, for every bundled photo that holds a face."""
    import insightface
    import skimage.data

    folder = Path(insightface.__file__).parent / "data" / "images"
    photos = {}
    for name in ("t1.jpg", "Tom_Hanks_54745.png"):
        bgr = cv2.imread(str(folder / name))
        if bgr is None:
            raise DataError(f"bundled photo missing from the insightface package: {folder / name}")
        photos[f"insightface/{name}"] = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    photos["skimage/astronaut"] = skimage.data.astronaut()
    return photos


def prepare_embedded_faces(
    cache_dir: str | Path, size: int, template: str = "arcface", detector: DlibFaceDetector | None = None
) -> Path:
    """Detect and align every bundled face at ``size``; returns the cache file (reused if present)."""
    path = Path(cache_dir).expanduser() / f"embedded_faces_{template}_{size}.npz"
    if path.is_file():
        return path
    detector = detector or DlibFaceDetector()
    faces, names = [], []
    for name, image in tqdm(bundled_photos().items(), desc="aligning bundled faces", unit="photo"):
        for i, face in enumerate(detector(image)):
            faces.append(align_face(image, face.landmarks5, size, template)[0])
            names.append(f"{name}#{i}")
    if len(faces) < 2:
        raise DataError(f"found {len(faces)} faces in the bundled photos; need at least 2 identities")
    log.info("aligned %d bundled faces at %d px into %s", len(faces), size, path)
    arrays = dict(faces=np.stack(faces), identities=np.arange(len(faces)), names=np.array(names))
    write_atomic(path, lambda tmp: np.savez(tmp, **arrays))
    return path
