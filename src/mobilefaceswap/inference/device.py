"""``--device auto|cpu|cuda``: where the networks of a command run."""

import sys

from mobilefaceswap.inference.formats import RUNTIMES, Runtime

DEVICES = ("auto", "cpu", "cuda")


def resolve_device(requested: str = "auto"):
    """``auto`` takes the GPU when there is one; ``cuda`` without one falls back to the CPU,
    saying so in one line on stderr (the run goes on: the CPU gives the same results)."""
    import torch

    if requested not in DEVICES:
        raise ValueError(f"--device {requested}: use one of {', '.join(DEVICES)}")
    if requested != "cpu" and torch.cuda.is_available():
        return torch.device("cuda")
    if requested == "cuda":
        print("mfs: --device cuda: no CUDA GPU is available here; running on the CPU", file=sys.stderr)
    return torch.device("cpu")


def runtime_device(runtime: Runtime, requested: str):
    """The device ``--device`` gives this runtime: a CPU-only runtime takes the CPU under
    ``auto`` and, on a machine with a GPU, refuses ``cuda`` in one line."""
    import torch

    if runtime.cuda:
        return resolve_device(requested)
    if requested == "cuda" and torch.cuda.is_available():
        gpu = ", ".join(r.name for r in RUNTIMES.values() if r.cuda)
        raise ValueError(f"--runtime {runtime.name} runs on the CPU only; use --device cpu, or a runtime with CUDA ({gpu})")
    return resolve_device("cpu" if requested == "auto" else requested)
