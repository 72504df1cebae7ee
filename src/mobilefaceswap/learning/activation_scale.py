"""Per-stage activation scale of the student: the measure that shows it stays well conditioned."""

import torch
from torch import nn

from mobilefaceswap.models.student import BakedMobileFaceSwap, MobileFaceSwap


def _stages(baked: BakedMobileFaceSwap) -> dict[str, nn.Module]:
    """Name -> module whose *output* is measured: each IDN stage's convolutions, the head's and
    the fusion module's convolutions that feed a BatchNorm."""
    stages = {f"encoder.{i}": stage for i, stage in enumerate(baked.encoder)}
    stages.update({f"decoder.{i}": stage for i, stage in enumerate(baked.decoder)})
    stages.update({f"head.{i}": m for i, m in enumerate(baked.head) if isinstance(m, nn.Conv2d)})
    if baked.fusion is not None:
        for i, block in enumerate(baked.fusion.layers):
            if isinstance(block, nn.Sequential):
                stages[f"fusion.{i}"] = block[2]  # the pointwise conv before the block's BatchNorm
    return stages


@torch.no_grad()
def activation_scales(
    student: MobileFaceSwap, target: torch.Tensor, z_id: torch.Tensor, id_map: torch.Tensor
) -> dict[str, float]:
    """Standard deviation of every stage's output, averaged over the batch of (target, identity).

    Kernels are injected for the whole batch in the student's current mode (batch statistics in
    training), then each sample runs through its own baked network, whose stages are modules.
    target: (B, 3, S, S) in [0, 1]; z_id: (B, 512); id_map: (B, 512, 7, 7).
    """
    kernels = student.iin(z_id, id_map)
    totals: dict[str, float] = {}
    for i in range(len(target)):
        baked = BakedMobileFaceSwap.from_kernels(student, kernels.select(i))
        seen: dict[str, float] = {}
        handles = [
            module.register_forward_hook(
                lambda _m, _in, out, name=name, seen=seen: seen.__setitem__(name, out.float().std().item())
            )
            for name, module in _stages(baked).items()
        ]
        baked(target[i : i + 1])
        for handle in handles:
            handle.remove()
        for name, value in seen.items():
            totals[name] = totals.get(name, 0.0) + value / len(target)
    return totals
