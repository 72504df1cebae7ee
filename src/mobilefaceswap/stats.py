"""Parameter and multiply-accumulate counts of the baked student, beside the paper's values.

The paper's "FLOPs" are multiply-accumulates (DESIGN.md section 5); torch's FLOP counter
counts 2 FLOPs per MAC, so its totals are halved.
"""

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from mobilefaceswap.models import BakedMobileFaceSwap, MobileFaceSwap

# (params, MACs) from the paper, Table 1 and section 4.
PAPER = {
    224: {"idn": (0.413e6, 0.328e9), "fusion": (0.083e6, 0.005e9), "total": (0.495e6, 0.333e9)},
    256: {"total": (0.50e6, 0.44e9)},
}


def count_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def baked_student(size: int, seed: int = 0) -> BakedMobileFaceSwap:
    """A baked student for a random identity: sizes do not depend on the weights."""
    torch.manual_seed(seed)
    student = MobileFaceSwap().eval()
    z_id = nn.functional.normalize(torch.randn(1, 512), dim=1)
    return student.bake(z_id, torch.randn(1, 512, 7, 7))


def count_macs(model: nn.Module, size: int, part: str) -> tuple[int, int]:
    """MACs of one forward at size x size: (whole model, the direct child ``part``)."""
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        model(torch.rand(1, 3, size, size))
    part_flops = counter.get_flop_counts().get(f"{type(model).__name__}.{part}", {})
    return counter.get_total_flops() // 2, sum(part_flops.values()) // 2


def student_stats(size: int) -> dict:
    """Params and MACs of the baked IDN (encoder, decoder, head), the fusion module and both."""
    model = baked_student(size)
    total_macs, fusion_macs = count_macs(model, size, "fusion")
    total_params, fusion_params = count_params(model), count_params(model.fusion)
    ours = {
        "idn": (total_params - fusion_params, total_macs - fusion_macs),
        "fusion": (fusion_params, fusion_macs),
        "total": (total_params, total_macs),
    }
    rows = {}
    for part, (params, macs) in ours.items():
        row = {"params": params, "macs": macs}
        if part in PAPER.get(size, {}):
            paper_params, paper_macs = PAPER[size][part]
            row.update(
                paper_params=paper_params,
                paper_macs=paper_macs,
                params_vs_paper=params / paper_params - 1,
                macs_vs_paper=macs / paper_macs - 1,
            )
        rows[part] = row
    return {"input_size": size, "parts": rows}


def format_table(stats: dict) -> str:
    size = stats["input_size"]
    lines = [
        f"baked student at {size}x{size} (MACs; the paper's FLOPs are MACs)",
        f"{'part':8} {'params':>9} {'paper':>8} {'diff':>7} {'MACs':>8} {'paper':>7} {'diff':>7}",
    ]
    for part, row in stats["parts"].items():
        ours = f"{part:8} {row['params'] / 1e6:>8.3f}M"
        macs = f"{row['macs'] / 1e9:>7.3f}G"
        if "paper_params" in row:
            lines.append(
                f"{ours} {row['paper_params'] / 1e6:>7.3f}M {row['params_vs_paper']:>+7.1%} "
                f"{macs} {row['paper_macs'] / 1e9:>6.3f}G {row['macs_vs_paper']:>+7.1%}"
            )
        else:
            lines.append(f"{ours} {'-':>8} {'':>7} {macs} {'-':>7}")
    return "\n".join(lines)
