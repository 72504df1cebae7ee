"""Training speed and memory of a run: steps per second after a warm-up, peak memory and the
last losses, written to a JSON file at the end of training (``scripts/gpu-check.sh``)."""

import math
import resource
import time
from pathlib import Path

import lightning as L
import torch

from mobilefaceswap.files import write_json_atomic


class TrainingThroughput(L.Callback):
    """Times the steps after the first ``warmup_steps`` (CUDA initialisation, cuDNN's autotuning
    and the data workers' start are left out) and writes ``path`` when training ends."""

    def __init__(self, path: str, warmup_steps: int = 20):
        self.path = Path(path)
        self.warmup_steps = warmup_steps
        self._start: tuple[float, int] | None = None

    @staticmethod
    def _now(pl_module: L.LightningModule) -> float:
        if pl_module.device.type == "cuda":
            torch.cuda.synchronize(pl_module.device)  # the steps' kernels finished, not just queued
        return time.perf_counter()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if self._start is None and trainer.global_step >= self.warmup_steps:
            self._start = (self._now(pl_module), trainer.global_step)

    def on_train_end(self, trainer, pl_module) -> None:
        if not trainer.is_global_zero:
            return
        end, steps = self._now(pl_module), trainer.global_step
        timed = steps - self._start[1] if self._start else 0
        losses = {k: float(v) for k, v in trainer.callback_metrics.items() if k.startswith("train/")}
        device = pl_module.device
        if device.type == "cuda":
            memory = {
                "peak_allocated_gib": torch.cuda.max_memory_allocated(device) / 2**30,
                "peak_reserved_gib": torch.cuda.max_memory_reserved(device) / 2**30,
                "device_name": torch.cuda.get_device_name(device),
            }
        else:  # Linux reports the peak resident set in KiB; data workers are other processes
            memory = {"peak_rss_gib_main_process": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20}
        write_json_atomic(
            self.path,
            {
                "steps": steps,
                "timed_steps": timed,
                "steps_per_second": timed / (end - self._start[0]) if timed else None,
                "device": str(device),
                "precision": str(trainer.precision),
                "memory": memory,
                "losses": losses,
                "losses_finite": bool(losses) and all(math.isfinite(v) for v in losses.values()),
            },
        )
