"""Parameter and multiply-accumulate counts of the baked student, beside the paper's values.

The paper's "FLOPs" are multiply-accumulates (its SimSwap figure, 48.2G, is the generator's
48.12 GMACs); torch's FLOP counter counts 2 FLOPs per MAC, so its totals are halved.
"""

from collections.abc import Callable

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from mobilefaceswap.models import BakedMobileFaceSwap, MobileFaceSwap
from mobilefaceswap.models.identity import IRSEResNet
from mobilefaceswap.models.teachers import FaceShifterGenerator, SimSwapGenerator

# (params, MACs) from the paper, Table 1 and section 4.
PAPER = {
    224: {"idn": (0.413e6, 0.328e9), "fusion": (0.083e6, 0.005e9), "total": (0.495e6, 0.333e9)},
    256: {"total": (0.50e6, 0.44e9)},
}


def count_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def baked_student(seed: int = 0) -> BakedMobileFaceSwap:
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
    model = baked_student()
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


def _generator_inputs(size: int) -> Callable[[], tuple]:
    return lambda: (torch.rand(1, 3, size, size), torch.rand(1, 512))


# name -> (network, its inputs, the paper's params and MACs where Table 1 gives them)
NETWORKS: dict[str, tuple[Callable[[], nn.Module], Callable[[], tuple], tuple]] = {
    "identity network IR-SE [3,4,23,3] @112": (IRSEResNet, lambda: (torch.rand(1, 3, 112, 112),), (52.2e6, 7.52e9)),
    "SimSwap generator @224": (SimSwapGenerator, _generator_inputs(224), (45.6e6, 48.2e9)),
    "SimSwap generator @512": (lambda: SimSwapGenerator(crop_size=512), _generator_inputs(512), (None, None)),
    "FaceShifter AEI-Net @256": (FaceShifterGenerator, _generator_inputs(256), (350e6, 91.1e9)),
}


def network_stats() -> list[dict]:
    """The identity network, the injection side and the teachers, built on the meta device (no compute)."""
    rows = []
    with torch.device("meta"):
        for name, (build, inputs, (paper_params, paper_macs)) in NETWORKS.items():
            net = build().eval()
            counter = FlopCounterMode(display=False)
            with counter, torch.no_grad():
                net(*inputs())
            rows.append(dict(name=name, params=count_params(net), macs=counter.get_total_flops() // 2,
                             paper_params=paper_params, paper_macs=paper_macs))
        student = MobileFaceSwap()
    injection = count_params(student.iin) + count_params(student.idn) + count_params(student.fusion)
    rows.append(
        dict(name="injection side: IIN + head + fusion", params=injection, macs=None, paper_params=20.7e6, paper_macs=None)
    )
    total = injection + rows[0]["params"]
    rows.append(
        dict(
            name="image setting: identity network + injection side", params=total, macs=None, paper_params=72.8e6, paper_macs=None
        )
    )
    return rows


def format_networks(rows: list[dict]) -> str:
    def num(value, scale, unit):
        return "-" if value is None else f"{value / scale:.2f}{unit}"

    lines = [f"{'network':50} {'params':>9} {'paper':>8} {'MACs':>8} {'paper':>7}"]
    for r in rows:
        lines.append(
            f"{r['name']:50} {num(r['params'], 1e6, 'M'):>9} {num(r['paper_params'], 1e6, 'M'):>8} "
            f"{num(r['macs'], 1e9, 'G'):>8} {num(r['paper_macs'], 1e9, 'G'):>7}"
        )
    return "\n".join(lines)


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
