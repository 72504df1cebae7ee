"""Scoring face swaps from any method: identity retrieval, pose, expression and FID.

A manifest is a CSV with columns ``source,target,swapped`` (image paths, relative to the
manifest's folder) and optionally ``source_id`` (default: the source path), as in the
paper's protocol: the swapped face should carry the source's identity and the target's
pose and expression.
"""

import copy
import csv
import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path

import cv2
import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from mobilefaceswap.data.alignment import align_face
from mobilefaceswap.data.detection import DlibFaceDetector, DlibFaceRecognizer
from mobilefaceswap.data.errors import DataError
from mobilefaceswap.data.faceforensics import EvalFrame, VideoPair, extract_frames, manipulated_video, read_frames, write_manifest
from mobilefaceswap.inference.device import resolve_device
from mobilefaceswap.inference.pipeline import FaceSwapPipeline
from mobilefaceswap.inference.swap import read_image, write_image
from mobilefaceswap.data.pairs import FacePairDataset
from mobilefaceswap.metrics import ExpressionError, IdentityRetrieval, PoseError, build_fid
from mobilefaceswap.metrics.fid import inception_weights as find_inception
from mobilefaceswap.metrics.pose import Hopenet, hopenet_box, landmark_pose
from mobilefaceswap.models.identity import IdentityEncoder, IdentityFeatures
from mobilefaceswap.models.pretrained import load_pretrained
from mobilefaceswap.models.recognition import load_recognition_network
from mobilefaceswap.utils import write_json_atomic

log = logging.getLogger(__name__)

FID_SIZE = 299  # Inception's input; every image is resized to it so they batch


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
    or Hopenet (``hopenet_weights``). FID when Inception weights are found."""

    def __init__(self, inception_weights: str | None = None, hopenet_weights: str | None = None, cosface_weights: str | None = None,
                 device: str = "cpu"):
        self.device = resolve_device(device)
        self.detector = DlibFaceDetector()
        self.recognizer = DlibFaceRecognizer()
        self.inception = find_inception(inception_weights)
        if self.inception is None:
            build_fid(inception_weights)  # says, once, why no FID is reported
        self.hopenet = None
        if hopenet_weights is not None:
            self.hopenet = load_pretrained(Hopenet(), hopenet_weights, "--hopenet", "a Hopenet state dict").eval().to(self.device)
        self.cosface = None
        if cosface_weights is not None:
            net = load_recognition_network(cosface_weights, "--cosface")
            self.cosface = IdentityEncoder(net.eval(), mean=(0.5,) * 3, std=(0.5,) * 3).eval().to(self.device)
        self.backends = {
            "identity": "CosFace network " + str(cosface_weights) if self.cosface else "dlib 128-d recogniser",
            "pose": "Hopenet " + str(hopenet_weights) if self.hopenet else "dlib 68 landmarks + solvePnP",
            "fid": "Inception " + str(self.inception) if self.inception is not None else None,
        }

    @torch.no_grad()
    def _identity(self, image: np.ndarray, face) -> torch.Tensor:
        if self.cosface is None:
            return torch.tensor(self.recognizer.descriptor(image, face), dtype=torch.float32)
        crop, _ = align_face(image, face.landmarks5, 112)
        return self.cosface(torch.from_numpy(crop).permute(2, 0, 1)[None].to(self.device).float() / 255).z[0].cpu()

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
            "scored": 0,
        }

    def score(self, metrics: dict, source: np.ndarray, target: np.ndarray, swapped: np.ndarray, source_id: int, names=("source", "target", "swapped")) -> None:
        """Add one (source, target, swapped) triple of RGB uint8 images; DataError if a face is missing."""
        source_face, target_face, swapped_face = (self._face(image, name) for image, name in zip((source, target, swapped), names))
        metrics["identity"].update(self._identity(swapped, swapped_face)[None], self._identity(source, source_face)[None], torch.tensor([source_id]))
        metrics["pose"].update(self._pose(swapped, swapped_face)[None], self._pose(target, target_face)[None])
        metrics["expression"].update(torch.from_numpy(swapped_face.landmarks68)[None], torch.from_numpy(target_face.landmarks68)[None])
        if metrics["fid"] is not None:
            for image, real in ((target, True), (swapped, False)):
                resized = cv2.resize(image, (FID_SIZE, FID_SIZE), interpolation=cv2.INTER_AREA)
                metrics["fid"].update(torch.from_numpy(resized).permute(2, 0, 1)[None].float() / 255, real=real)
        metrics["scored"] += 1

    def results(self, metrics: dict) -> dict:
        if metrics["scored"] == 0:
            raise DataError("no pair could be scored")
        results = {k: float(v) for k, v in metrics["identity"].compute().items()}
        results["pose_error"] = float(metrics["pose"].compute())
        results["expression_error"] = float(metrics["expression"].compute())
        if metrics["fid"] is not None and metrics["scored"] >= 2:
            results["fid"] = float(metrics["fid"].compute())
        else:
            results["fid"] = None
            results["fid_note"] = "no Inception weights (see --inception)" if metrics["fid"] is None else "FID needs at least 2 pairs"
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


def swap_with_model(items: list[EvalFrame], pipeline: FaceSwapPipeline, out: Path, progress: bool = True) -> tuple[list[EvalFrame], list[Path], list[str]]:
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


def swaps_of_method(items: list[EvalFrame], root: Path, method: str, compression: str, out: Path, progress: bool = True) -> tuple[list[EvalFrame], list[Path], list[str]]:
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
        return {"name": "ffpp", "frames_per_video": self.frames, "compression": self.compression,
                "split": self.split or "all FaceSwap pairs", "pairs": pairs}


def evaluate_ffpp(
    evaluator: SwapEvaluator, protocol: FFppProtocol, out: Path, name: str, swapper=None, method: str | None = None, progress: bool = True,
    device: str = "cpu",
) -> dict:
    """Score ``swapper`` (a Swapper, or anything with its ``bake``, ``crop_size`` and ``template``)
    or FF++'s own ``method`` on FF++ -> the report, also written to ``out/<name>/eval.json``."""
    root, out = Path(protocol.root), Path(out)
    if out.resolve().is_relative_to(root.resolve()):
        raise DataError(f"the output folder {out} is inside the dataset {root}; choose a folder outside it")
    items, skipped = extract_frames(root, out, protocol.frames, protocol.compression, protocol.split, protocol.limit, progress=progress)
    if method is not None:
        items, swapped, failed = swaps_of_method(items, root, method, protocol.compression, out / name, progress=progress)
    else:
        items, swapped, failed = swap_with_model(items, FaceSwapPipeline(swapper, device=device), out / name, progress=progress)
    if not items:
        raise DataError(f"nothing to score: {'; '.join((skipped + failed)[:3])}")
    manifest = write_manifest(out / name / "manifest.csv", items, swapped)
    report = asdict(evaluator.evaluate(read_manifest(manifest), progress=progress))
    report["skipped"] = skipped + failed + report["skipped"]
    report["protocol"] = protocol.describe(len({i.pair for i in items}))
    write_json_atomic(out / name / "eval.json", report)
    return report


class _TeacherForOneSource(nn.Module):
    """The teacher with one source fixed: target crops -> (swapped, a mask of ones)."""

    def __init__(self, teacher: nn.Module, source: torch.Tensor, identity: IdentityFeatures):
        super().__init__()
        self.teacher, self.source, self.identity = teacher, source, identity

    def forward(self, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        n = len(target)
        identity = IdentityFeatures(z=self.identity.z.expand(n, -1), map=self.identity.map.expand(n, -1, -1, -1))
        image = self.teacher(self.source.expand(n, -1, -1, -1), target.to(self.source.device), identity).cpu()
        return image, torch.ones_like(image[:, :1])


@dataclass
class TeacherSwapper:
    """A teacher in the place of a Swapper, so it swaps FF++ frames through the same pipeline."""

    teacher: nn.Module
    identity: IdentityEncoder  # the student's: the teacher reads z_id from it unless it has its own
    crop_size: int
    template: str

    @torch.no_grad()
    def bake(self, source: torch.Tensor) -> nn.Module:
        """source: (1, 3, S, S) aligned face in [0, 1], on the CPU; the teacher runs on its own device."""
        source = source.to(next(self.teacher.parameters()).device)
        return _TeacherForOneSource(self.teacher, source, self.identity(source)).eval()


def tensor_image(tensor: torch.Tensor) -> np.ndarray:
    """(3, S, S) in [0, 1] -> (S, S, 3) uint8."""
    return (tensor.permute(1, 2, 0).clamp(0, 1) * 255 + 0.5).byte().cpu().numpy()


@torch.no_grad()
def evaluate_student(module, pairs: FacePairDataset, evaluator: SwapEvaluator, teacher: bool = True, limit: int | None = None) -> dict:
    """Score a StudentGAN's student, and (``teacher``) the teacher it learnt from, on fixed pairs."""
    was_training = module.training
    module.eval()
    scores = {"student": evaluator.new_metrics()}
    if teacher and module.loss_cfg.distillation:
        scores["teacher"] = evaluator.new_metrics()
    count = len(pairs) if limit is None else min(limit, len(pairs))
    skipped = []
    for i in range(count):
        item = pairs[i]
        source_index, _ = pairs.pair_indices(i)
        batch = {k: v[None].to(module.device) for k, v in item.items()}
        ref = module.distillation_targets(batch)
        outputs = {"student": module.student(batch["target"], ref.source_identity.z, ref.source_identity.map).image, "teacher": ref.reference_image}
        for who, metrics in scores.items():
            try:
                evaluator.score(metrics, tensor_image(item["source"]), tensor_image(item["target"]), tensor_image(outputs[who][0]), int(pairs.identities[source_index]))
            except DataError as err:
                skipped.append(f"{who} pair {i}: {err}")
    module.train(was_training)
    results = {}
    for who, metrics in scores.items():
        try:
            results[who] = {**evaluator.results(metrics), "scored": metrics["scored"]}
        except DataError:  # e.g. an untrained teacher draws no detectable face
            results[who] = {"scored": 0, "note": "no face was found in any of its outputs"}
    results["run"] = {"pairs": count, "skipped": skipped, "steps": module.global_step, "protocol": {"name": "validation", "pairs": count}}
    return results


@torch.no_grad()
def evaluate_student_ffpp(module, evaluator: SwapEvaluator, protocol: FFppProtocol, out: Path, crop_size: int, template: str, teacher: bool = True) -> dict:
    """The same as ``evaluate_student`` with the FaceForensics++ protocol: each swapper's frames,
    manifest and report under ``out/<student|teacher>/``."""
    from mobilefaceswap.models.swapper import Swapper

    # The student (0.3 GMACs a frame) runs on the CPU beside the pipeline; the teacher where it is.
    identity = copy.deepcopy(module.helpers["identity"]).cpu().eval()
    swappers = {"student": Swapper(copy.deepcopy(module.student).cpu().eval(), identity, crop_size, template)}
    if teacher and module.loss_cfg.distillation:
        swappers["teacher"] = TeacherSwapper(module.helpers["teacher"], module.helpers["identity"], crop_size, template)
    results, skipped, described = {}, [], protocol.describe(0)
    for who, swapper in swappers.items():
        try:
            report = evaluate_ffpp(evaluator, protocol, out, who, swapper, progress=False)
        except DataError as err:  # e.g. an untrained teacher draws no detectable face
            results[who] = {"scored": 0, "note": str(err)}
            continue
        results[who] = {**report["results"], "scored": report["scored"]}
        skipped += [f"{who}: {line}" for line in report["skipped"]]
        described = report["protocol"]
    results["run"] = {"pairs": described["pairs"], "skipped": skipped, "steps": module.global_step, "protocol": described}
    return results
