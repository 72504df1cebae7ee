"""A small VGGFace2-shaped folder (``<identity>/<image>.jpg``) made from the bundled photos, so
that nothing is downloaded: for the tests and ``scripts/gpu-check.sh``."""

from pathlib import Path

import cv2
import numpy as np

from mobilefaceswap.data.detection import DlibFaceDetector
from mobilefaceswap.data.embedded import bundled_photos

# Each person's images: (half-width of the crop in eye distances, eye distance in pixels after
# resizing); the last one's eyes are closer than the 70 px filter of the paper.
COPIES = ((2.5, 95), (3.0, 110), (2.8, 100), (3.0, 45))


def write_vggface2_tree(root: str | Path, copies: tuple[tuple[float, int], ...] = COPIES) -> int:
    """One identity folder ``n<6 digits>`` per face of the bundled group photos (7), one JPEG
    per entry of ``copies`` -> the number of identities."""
    root = Path(root)
    photos = bundled_photos()
    group, astronaut = photos["insightface/t1.jpg"], photos["skimage/astronaut"]
    people = [(image, face) for image in (group, astronaut) for face in DlibFaceDetector()(image)]
    for person, (image, face) in enumerate(people):
        eyes = float(np.linalg.norm(face.landmarks5[1] - face.landmarks5[0]))
        cx, cy = face.landmarks5.mean(0)
        for k, (pad, eye_px) in enumerate(copies):
            half = pad * eyes
            x0, y0 = int(max(cx - half, 0)), int(max(cy - half, 0))
            crop = image[y0 : int(cy + half), x0 : int(cx + half)]
            scale = eye_px / eyes
            crop = cv2.resize(crop, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
            path = root / f"n{person:06d}" / f"{k:04d}_01.jpg"
            path.parent.mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(path), cv2.cvtColor(crop, cv2.COLOR_RGB2BGR))
    return len(people)
