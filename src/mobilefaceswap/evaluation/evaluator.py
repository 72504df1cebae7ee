"""Scoring face swaps from any method: identity retrieval, pose, expression and FID.

A manifest is a CSV with columns ``source,target,swapped`` (image paths, relative to the
manifest's folder) and optionally ``source_id`` (default: the source path), as in the
paper's protocol: the swapped face should carry the source's identity and the target's
pose and expression.
"""

import csv
from dataclasses import asdict, dataclass, field
from pathlib import Path

import cv2
import numpy as np
import torch
from tqdm import tqdm

from mobilefaceswap.data.alignment import alignment_matrix, warp_to_crop
from mobilefaceswap.data.detection import DlibFaceDetector
from mobilefaceswap.data.errors import DataError
from mobilefaceswap.data.media import read_image
from mobilefaceswap.files import refuse_overwrite, write_json_atomic
from mobilefaceswap.inference.device import resolve_device
from mobilefaceswap.metrics import ExpressionError, IdentityRetrieval, PoseError, build_fid
from mobilefaceswap.metrics.fid import inception_weights as find_inception
from mobilefaceswap.metrics.identity import DlibIdentityEmbedder, NetworkIdentityEmbedder
from mobilefaceswap.metrics.pose import Hopenet, hopenet_box, landmark_pose
from mobilefaceswap.models.identity import IdentityEncoder
from mobilefaceswap.models.pretrained import load_pretrained
from mobilefaceswap.models.recognition import load_recognition_network

FID_SIZE = 299  # Inception's input; every image is resized to it so they batch


def update_fid(fid, real: np.ndarray, fake: np.ndarray) -> None:
    """One real and one generated RGB uint8 image into an FID metric, each resized to Inception's input."""
    for image, is_real in ((real, True), (fake, False)):
        resized = cv2.resize(image, (FID_SIZE, FID_SIZE), interpolation=cv2.INTER_AREA)
        fid.update(torch.from_numpy(resized).permute(2, 0, 1)[None].float() / 255, real=is_real)


@dataclass
class SwapTriple:
    source: Path
    target: Path
    swapped: Path
    source_id: str


@dataclass
class Evaluation:
    pairs: int = 0
    scored: int = 0
    skipped: list[str] = field(default_factory=list)  # "path: reason"
    results: dict = field(default_factory=dict)


def read_manifest(path: str | Path) -> list[SwapTriple]:
    path = Path(path)
    if not path.is_file():
        raise DataError(f"manifest not found: {path}")
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        rows, header = list(reader), reader.fieldnames
    if header is None:
        raise DataError(f"{path} is empty: it needs a header source,target,swapped and one row per swap")
    missing = {"source", "target", "swapped"} - set(header)
    if missing:
        raise DataError(f"{path}: needs a header with source,target,swapped (missing: {', '.join(sorted(missing))})")
    if not rows:
        raise DataError(f"{path} is empty: it has a header and no rows to score")
    base = path.parent
    return [
        SwapTriple(base / r["source"], base / r["target"], base / r["swapped"], r.get("source_id") or r["source"])
        for r in rows
    ]


class SwapEvaluator:
    """Identity: dlib's 128-d recogniser, or a CosFace/ArcFace network (``cosface_weights``: an
    ONNX file, an arcface_torch IResNet or an IR-SE state dict). Pose: dlib landmarks + solvePnP,
    or Hopenet (``hopenet_weights``). FID when Inception weights are found: ``fid`` on the
    aligned face crops (``crop_size`` on ``template``, the teacher's alignment), the swapped crop
    against the target crop, both cut where the target's face is; ``fid_frame`` on the whole images.
    """

    def __init__(
        self,
        inception_weights: str | None = None,
        hopenet_weights: str | None = None,
        cosface_weights: str | None = None,
        device: str = "cpu",
        crop_size: int = 224,
        template: str = "arcface",
    ):
        self.device = resolve_device(device)  # of the Hopenet and CosFace networks
        self.crop_size, self.template = crop_size, template
        self.detector = DlibFaceDetector()
        self.inception = find_inception(inception_weights)
        if self.inception is None:
            build_fid(inception_weights)  # says, once, why no FID is reported
        self.hopenet = None
        if hopenet_weights is not None:
            self.hopenet = load_pretrained(Hopenet(), hopenet_weights, "--hopenet", "a Hopenet state dict").eval().to(self.device)
        self.embed_identity = DlibIdentityEmbedder()
        if cosface_weights is not None:
            net = load_recognition_network(cosface_weights, "--cosface")
            encoder = IdentityEncoder(net.eval(), mean=(0.5,) * 3, std=(0.5,) * 3).to(self.device)
            self.embed_identity = NetworkIdentityEmbedder(encoder)
        self.backends = {
            "identity": "CosFace network " + str(cosface_weights) if cosface_weights is not None else "dlib 128-d recogniser",
            "pose": "Hopenet " + str(hopenet_weights) if self.hopenet else "dlib 68 landmarks + solvePnP",
            "fid": self._fid_backend() if self.inception is not None else None,
        }

    def _fid_backend(self) -> str:
        return f"Inception {self.inception} on aligned face crops ({self.template} {self.crop_size})"

    def align_fid_crops(self, crop_size: int, template: str) -> None:
        """Cut FID's crops as a swapper aligns its faces (``mfs eval-ffpp`` with its swapper's alignment)."""
        self.crop_size, self.template = crop_size, template
        if self.inception is not None:
            self.backends["fid"] = self._fid_backend()

    @torch.no_grad()
    def _pose(self, image: np.ndarray, face) -> torch.Tensor:
        if self.hopenet is None:
            return torch.tensor(landmark_pose(face, image.shape[:2]), dtype=torch.float32)
        x0, y0, x1, y1 = hopenet_box(face.box, image.shape)
        crop = torch.from_numpy(np.ascontiguousarray(image[y0:y1, x0:x1])).permute(2, 0, 1)[None].float() / 255
        return self.hopenet(crop.to(self.device))[0].cpu()

    def _face(self, image: np.ndarray, what: Path):
        faces = self.detector(image)
        if not faces:
            raise DataError(f"no face found in {what}")
        return faces[0]

    def new_metrics(self) -> dict:
        """The metrics of one scoring pass (one method); each pass has its own FID."""
        # One process scores every pair; inside a DDP run the other ranks must not be waited for.
        local = dict(sync_on_compute=False)
        return {
            "identity": IdentityRetrieval(**local),
            "pose": PoseError(**local),
            "expression": ExpressionError(**local),
            "fid": build_fid(self.inception, **local) if self.inception is not None else None,
            "fid_frame": build_fid(self.inception, **local) if self.inception is not None else None,
            "scored": 0,
        }

    def score(
        self,
        metrics: dict,
        source: np.ndarray,
        target: np.ndarray,
        swapped: np.ndarray,
        source_id: int,
        names=("source", "target", "swapped"),
    ) -> None:
        """Add one (source, target, swapped) triple of RGB uint8 images; DataError if a face is missing."""
        source_face, target_face, swapped_face = (
            self._face(image, name) for image, name in zip((source, target, swapped), names)
        )
        identities = (self.embed_identity(swapped, swapped_face)[None], self.embed_identity(source, source_face)[None])
        metrics["identity"].update(*identities, torch.tensor([source_id]))
        metrics["pose"].update(self._pose(swapped, swapped_face)[None], self._pose(target, target_face)[None])
        metrics["expression"].update(
            torch.from_numpy(swapped_face.landmarks68)[None], torch.from_numpy(target_face.landmarks68)[None]
        )
        if metrics["fid"] is not None:
            # Both crops where the target's face is: the region the swapper generated and pasted back.
            matrix = alignment_matrix(target_face.landmarks5, self.crop_size, self.template)
            update_fid(metrics["fid"], *(warp_to_crop(image, matrix, self.crop_size) for image in (target, swapped)))
            update_fid(metrics["fid_frame"], target, swapped)
        metrics["scored"] += 1

    def results(self, metrics: dict) -> dict:
        if metrics["scored"] == 0:
            raise DataError("no pair could be scored")
        results = {k: float(v) for k, v in metrics["identity"].compute().items()}
        results["pose_error"] = float(metrics["pose"].compute())
        results["expression_error"] = float(metrics["expression"].compute())
        if metrics["fid"] is not None and metrics["scored"] >= 2:
            results["fid"] = float(metrics["fid"].compute())
            results["fid_frame"] = float(metrics["fid_frame"].compute())
        else:
            results["fid"] = results["fid_frame"] = None
            results["fid_note"] = (
                "no Inception weights (see --inception)" if metrics["fid"] is None else "FID needs at least 2 pairs"
            )
        results["backends"] = self.backends
        return results

    def evaluate(self, triples: list[SwapTriple], progress: bool = True) -> Evaluation:
        metrics = self.new_metrics()
        ids = {name: i for i, name in enumerate(dict.fromkeys(t.source_id for t in triples))}
        report = Evaluation(pairs=len(triples))
        for triple in tqdm(triples, desc="scoring swaps", unit="pair", disable=not progress):
            paths = (triple.source, triple.target, triple.swapped)
            try:
                self.score(metrics, *(read_image(p) for p in paths), ids[triple.source_id], names=paths)
            except DataError as err:
                report.skipped.append(str(err))
        report.scored = metrics["scored"]
        if report.scored == 0:
            more = f"; and {len(report.skipped) - 3} more" if len(report.skipped) > 3 else ""
            raise DataError(f"none of the {report.pairs} rows could be scored: {'; '.join(report.skipped[:3])}{more}")
        report.results = self.results(metrics)
        return report


def score_manifest(manifest: str | Path, out: str | Path | None = None, progress: bool = True, **weights) -> dict:
    """``mfs eval-swaps``: the report of a manifest's swaps, also written to ``out`` when given
    (never over one of its inputs); ``weights`` are SwapEvaluator's."""
    triples = read_manifest(manifest)
    if out:
        images = {
            f"{column} image of row {i + 2}": getattr(t, column)
            for i, t in enumerate(triples)
            for column in ("source", "target", "swapped")
        }
        refuse_overwrite(Path(out), {"--manifest": Path(manifest), **images})
    report = asdict(SwapEvaluator(**weights).evaluate(triples, progress=progress))
    if out:
        write_json_atomic(out, report)
    return report
