"""How close the student is to its teacher on held-out faces, and whether it follows the source."""

import torch

from mobilefaceswap.models.identity import IdentityFeatures
from mobilefaceswap.models.student import MobileFaceSwap

MIN_HELD_OUT_FACES = 3  # each target needs two other faces as sources, to correlate what the source changes


def pearson(a: torch.Tensor, b: torch.Tensor) -> float:
    a, b = a.flatten().double(), b.flatten().double()
    a, b = a - a.mean(), b - b.mean()
    denominator = (a.norm() * b.norm()).item()
    return (a @ b).item() / denominator if denominator > 0 else 0.0


def deviation_from_source_mean(images: torch.Tensor, sources_per_target: int) -> torch.Tensor:
    """(T * K, 3, S, S), K sources per target in a row -> each output minus its target's mean output:
    what the source alone changes."""
    grouped = images.view(-1, sources_per_target, *images.shape[1:])
    return (grouped - grouped.mean(dim=1, keepdim=True)).view_as(images)


@torch.no_grad()
def distillation_gap(
    student: MobileFaceSwap,
    teacher,
    faces: torch.Tensor,
    features: IdentityFeatures,
    sources: tuple[torch.Tensor, IdentityFeatures] | None = None,
    batch_size: int = 16,
) -> dict[str, float]:
    """Student against teacher on (source, target) pairs whose targets are held-out ``faces``.

    faces: (N, 3, S, S) in [0, 1] and ``features``, their identity features as the student's
    identity network gives them. Without ``sources``, every ordered pair of distinct held-out faces
    (N >= 3, so that each target has at least two sources); with ``sources`` (faces (K, 3, S, S),
    K >= 2, and their features), every one of them on every target: the training identities, say,
    to tell whether the student follows the sources it was taught apart from whether it
    generalises to new ones.
    Returns L1 and PSNR (dB, mean over pairs) of the student's output against the teacher's,
    ``source_correlation``: the Pearson correlation between what changing the source does to the
    student's output and what it does to the teacher's (0: the student ignores the source as the
    teacher uses it, 1: it follows exactly), and ``teacher_source_effect``: the teacher's own mean
    absolute change, so a correlation is read against an effect that exists.
    """
    n = len(faces)
    if sources is None:
        if n < MIN_HELD_OUT_FACES:
            raise ValueError(f"the distillation gap needs at least {MIN_HELD_OUT_FACES} held-out faces, got {n}")
        source_faces, source_features = faces, features
        pairs = [(s, t) for t in range(n) for s in range(n) if s != t]  # grouped by target, n - 1 sources each
    else:
        source_faces, source_features = sources
        if len(source_faces) < 2:
            raise ValueError(f"the distillation gap needs at least 2 sources per target, got {len(source_faces)}")
        pairs = [(s, t) for t in range(n) for s in range(len(source_faces))]
    sources_per_target = len(pairs) // n
    teacher_out, student_out = [], []
    for start in range(0, len(pairs), batch_size):
        src, tgt = (list(x) for x in zip(*pairs[start : start + batch_size]))
        source_identity = IdentityFeatures(z=source_features.z[src], map=source_features.map[src])
        teacher_out.append(teacher(source_faces[src], faces[tgt], source_identity).float().cpu())
        student_out.append(student(faces[tgt], source_identity.z, source_identity.map).image.float().cpu())
    teacher_images, student_images = torch.cat(teacher_out), torch.cat(student_out)
    mse = (student_images - teacher_images).pow(2).mean(dim=(1, 2, 3)).clamp_min(1e-10)
    teacher_effect = deviation_from_source_mean(teacher_images, sources_per_target)
    student_effect = deviation_from_source_mean(student_images, sources_per_target)
    return {
        "l1": (student_images - teacher_images).abs().mean().item(),
        "psnr": float(torch.mean(10 * torch.log10(1 / mse)).item()),
        "source_correlation": pearson(student_effect, teacher_effect),
        "teacher_source_effect": teacher_effect.abs().mean().item(),
        "student_source_effect": student_effect.abs().mean().item(),
        "pairs": len(pairs),
    }
