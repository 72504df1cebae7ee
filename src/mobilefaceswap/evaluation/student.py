"""Scoring a StudentGAN's student, and the teacher it learns from, during and after training:
on the validation pairs, or with the FaceForensics++ protocol."""

import copy
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from mobilefaceswap.data.errors import DataError
from mobilefaceswap.data.pairs import FacePairDataset
from mobilefaceswap.evaluation.evaluator import SwapEvaluator
from mobilefaceswap.evaluation.faceforensics import FFppProtocol, evaluate_ffpp
from mobilefaceswap.inference.pipeline import FaceSwapPipeline
from mobilefaceswap.models.identity import IdentityEncoder, IdentityFeatures
from mobilefaceswap.models.swapper import Swapper
from mobilefaceswap.training.student_gan import StudentGAN


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
def evaluate_student(
    module: StudentGAN, pairs: FacePairDataset, evaluator: SwapEvaluator, teacher: bool = True, limit: int | None = None
) -> dict:
    """Score a StudentGAN's student, and (``teacher``) the teacher it learnt from, on fixed pairs."""
    was_training = module.training
    module.eval()
    scores = {"student": evaluator.new_metrics()}
    if teacher and module.teacher is not None:
        scores["teacher"] = evaluator.new_metrics()
    count = len(pairs) if limit is None else min(limit, len(pairs))
    skipped = []
    for i in range(count):
        item = pairs[i]
        source_index, _ = pairs.pair_indices(i)
        outputs = module.swapped_images({k: v[None].to(module.device) for k, v in item.items()})
        for who, metrics in scores.items():
            try:
                evaluator.score(
                    metrics,
                    tensor_image(item["source"]),
                    tensor_image(item["target"]),
                    tensor_image(outputs[who][0]),
                    int(pairs.identities[source_index]),
                )
            except DataError as err:
                skipped.append(f"{who} pair {i}: {err}")
    module.train(was_training)
    results = {}
    for who, metrics in scores.items():
        try:
            results[who] = {**evaluator.results(metrics), "scored": metrics["scored"]}
        except DataError:  # e.g. an untrained teacher draws no detectable face
            results[who] = {"scored": 0, "note": "no face was found in any of its outputs"}
    results["run"] = {
        "pairs": count,
        "skipped": skipped,
        "steps": module.global_step,
        "protocol": {"name": "validation", "pairs": count},
    }
    return results


@torch.no_grad()
def evaluate_student_ffpp(
    module: StudentGAN,
    evaluator: SwapEvaluator,
    protocol: FFppProtocol,
    out: Path,
    crop_size: int,
    template: str,
    teacher: bool = True,
) -> dict:
    """The same as ``evaluate_student`` with the FaceForensics++ protocol: each swapper's frames,
    manifest and report under ``out/<student|teacher>/``."""
    # The student (0.3 GMACs a frame) runs on the CPU beside the pipeline; the teacher where it is.
    identity = copy.deepcopy(module.identity_encoder).cpu().eval()
    swappers = {"student": Swapper(copy.deepcopy(module.student).cpu().eval(), identity, crop_size, template)}
    if teacher and module.teacher is not None:
        swappers["teacher"] = TeacherSwapper(module.teacher, module.identity_encoder, crop_size, template)
    results, skipped, described = {}, [], protocol.describe(0)
    for who, swapper in swappers.items():
        try:
            report = evaluate_ffpp(evaluator, protocol, out, who, FaceSwapPipeline(swapper), progress=False)
        except DataError as err:  # e.g. an untrained teacher draws no detectable face
            results[who] = {"scored": 0, "note": str(err)}
            continue
        results[who] = {**report["results"], "scored": report["scored"]}
        skipped += [f"{who}: {line}" for line in report["skipped"]]
        described = report["protocol"]
    results["run"] = {"pairs": described["pairs"], "skipped": skipped, "steps": module.global_step, "protocol": described}
    return results
