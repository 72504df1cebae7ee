"""Export of a baked student (one identity injected) for devices, in every runtime's format.

Outputs are (swapped image, fusion mask), both in [0, 1]; every file is checked against
PyTorch before it is kept: fp32 formats by their largest difference on random targets, int8
ones by their PSNR on aligned faces that their calibration never saw. A format that misses its
check is left out, with the reason; the others are written all the same.
"""

from pathlib import Path

import numpy as np
import torch
from torch import nn

from mobilefaceswap.inference.calibration import MIN_PSNR_DB, CalibrationFaces, psnr
from mobilefaceswap.inference.formats import EXPORTED, Runtime
from mobilefaceswap.inference.runtimes import build_runner, load_runner
from mobilefaceswap.progress import Progress


class ExportError(RuntimeError):
    """An exported model does not reproduce the PyTorch one."""


@torch.no_grad()
def max_difference(reference: nn.Module, candidate, size: int, seed: int = 0) -> float:
    target = torch.rand(2, 3, size, size, generator=torch.Generator().manual_seed(seed))
    return max(float((a - b.float()).abs().max()) for a, b in zip(reference(target), candidate(target)))


@torch.no_grad()
def held_out_psnr(reference: nn.Module, candidate, faces: np.ndarray) -> float:
    """PSNR in dB of the candidate's swapped faces against PyTorch's."""
    target = torch.from_numpy(faces)
    return psnr(reference(target)[0].numpy(), candidate(target)[0].numpy())


def export_baked(
    baked: nn.Module,
    size: int,
    out_dir: str | Path,
    name: str,
    faces: CalibrationFaces,
    runtimes: list[Runtime] = EXPORTED,
    threads: int = 2,
    quiet: bool = True,
) -> dict:
    """Write ``name<suffix>`` into ``out_dir`` (created) for each runtime; ``faces`` calibrate the
    int8 ones. Checked on the CPU in fp32, as the files are written (on a GPU, fp16 would blur the
    check). A runtime whose file misses its check is under ``left_out`` with by how much, its files
    removed. Unless ``quiet``, a line on stderr as each format starts."""
    progress = Progress(len(runtimes), quiet)
    baked = baked.eval().to("cpu", torch.float32)
    Path(out_dir).mkdir(parents=True, exist_ok=True)  # OpenVINO's temporary folder goes inside it
    report = {"input": [1, 3, size, size], "outputs": ["swapped", "mask"], "files": {}, "left_out": {}}
    for runtime in runtimes:
        progress.step(f"{runtime.name}: {name}{runtime.suffix}")
        path = build_runner(runtime, baked, size, threads, calibration=faces.calibration).save(
            Path(out_dir) / f"{name}{runtime.suffix}"
        )
        try:
            check = parity(runtime, baked, load_runner(runtime, path, threads), size, faces)
        except ExportError as err:
            for file in runtime.files(name):  # never leave a file that failed its check
                Path(out_dir, file).unlink(missing_ok=True)
            report["left_out"][runtime.name] = str(err)
            continue
        report["files"][runtime.name] = {"path": str(path), **check}
    return report


def parity(runtime: Runtime, baked: nn.Module, runner, size: int, faces: CalibrationFaces) -> dict:
    """The check of an exported file as it loads back, or ExportError saying by how much it missed
    (a NaN misses too)."""
    if runtime.int8:
        quality = held_out_psnr(baked, runner, faces.held_out)
        if not quality >= MIN_PSNR_DB:
            raise ExportError(
                f"{quality:.1f} dB PSNR against PyTorch on held-out faces, "
                f"{MIN_PSNR_DB - quality:.1f} dB under the {MIN_PSNR_DB:g} dB needed"
            )
        return {"psnr_db": round(quality, 2)}
    error = max_difference(baked, runner, size)
    if not error <= runtime.tolerance:
        raise ExportError(
            f"differs from PyTorch by {error:.2e}, {error / runtime.tolerance:.1f} times the {runtime.tolerance:g} allowed"
        )
    return {"max_abs_diff": error}
