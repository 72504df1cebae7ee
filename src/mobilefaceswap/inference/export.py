"""Export of a baked student (one identity injected) for devices: ONNX, TorchScript, int8 ONNX.

Outputs are (swapped image, fusion mask), both in [0, 1]; every file is checked against
PyTorch before it is kept.
"""

import io
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

from mobilefaceswap.files import write_atomic

PARITY_TOLERANCE = 1e-4  # max abs difference allowed for fp32 exports


class ExportError(RuntimeError):
    """An exported model does not reproduce the PyTorch one."""


def onnx_bytes(baked: nn.Module, size: int) -> bytes:
    """The baked network as an ONNX model with a dynamic batch: target -> (swapped, mask)."""
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript-based exporter announces its deprecation
        torch.onnx.export(
            baked.eval(),
            (torch.rand(1, 3, size, size),),
            buffer,
            dynamo=False,
            opset_version=17,
            input_names=["target"],
            output_names=["swapped", "mask"],
            dynamic_axes={"target": {0: "batch"}, "swapped": {0: "batch"}, "mask": {0: "batch"}},
        )
    return buffer.getvalue()


def onnx_session(model: bytes | str, threads: int = 2, spinning: bool = True):
    """``spinning=False`` when other threads need the cores (the video pipeline's decoder and
    encoder): idle ONNX Runtime threads then sleep instead of busy-waiting."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "1" if spinning else "0")
    return ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])


class OnnxBaked:
    """A baked network run by ONNX Runtime, called like the PyTorch module."""

    def __init__(self, model: bytes | str, threads: int = 2, spinning: bool = True):
        self.session = onnx_session(model, threads, spinning)

    @classmethod
    def from_module(cls, baked: nn.Module, size: int, threads: int = 2, spinning: bool = True) -> "OnnxBaked":
        return cls(onnx_bytes(baked, size), threads, spinning)

    def run(self, target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(B, 3, S, S) float32 in [0, 1] -> swapped (B, 3, S, S), mask (B, 1, S, S)."""
        swapped, mask = self.session.run(None, {"target": np.ascontiguousarray(target, dtype=np.float32)})
        return swapped, mask

    def __call__(self, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        swapped, mask = self.run(target.detach().cpu().numpy())
        return torch.from_numpy(swapped), torch.from_numpy(mask)


@torch.no_grad()
def max_difference(reference: nn.Module, candidate, size: int, seed: int = 0) -> float:
    target = torch.rand(2, 3, size, size, generator=torch.Generator().manual_seed(seed))
    return max(float((a - b.float()).abs().max()) for a, b in zip(reference(target), candidate(target)))


def export_baked(baked: nn.Module, size: int, out_dir: str | Path, name: str, quantize: bool = False) -> dict:
    """Write ``name.onnx`` and ``name.torchscript.pt`` (and ``name.int8.onnx``) into ``out_dir``."""
    out_dir = Path(out_dir)
    baked = baked.eval()
    report = {"input": [1, 3, size, size], "outputs": ["swapped", "mask"], "files": {}}

    model = onnx_bytes(baked, size)
    onnx_error = max_difference(baked, OnnxBaked(model), size)
    if onnx_error > PARITY_TOLERANCE:
        raise ExportError(f"ONNX export differs from PyTorch by {onnx_error:.2e} (> {PARITY_TOLERANCE:g})")
    onnx_path = write_atomic(out_dir / f"{name}.onnx", lambda tmp: Path(tmp).write_bytes(model))
    report["files"]["onnx"] = {"path": str(onnx_path), "max_abs_diff": onnx_error}

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        scripted = torch.jit.trace(baked, torch.rand(1, 3, size, size))
    script_error = max_difference(baked, scripted, size)
    if script_error > PARITY_TOLERANCE:
        raise ExportError(f"TorchScript export differs from PyTorch by {script_error:.2e} (> {PARITY_TOLERANCE:g})")
    script_path = write_atomic(out_dir / f"{name}.torchscript.pt", lambda tmp: torch.jit.save(scripted, tmp))
    report["files"]["torchscript"] = {"path": str(script_path), "max_abs_diff": script_error}

    if quantize:
        from onnxruntime.quantization import QuantType, quantize_dynamic

        int8_path = out_dir / f"{name}.int8.onnx"
        write_atomic(int8_path, lambda tmp: quantize_dynamic(str(onnx_path), tmp, weight_type=QuantType.QUInt8))
        report["files"]["int8_onnx"] = {
            "path": str(int8_path),
            "max_abs_diff": max_difference(baked, OnnxBaked(str(int8_path)), size),
        }
    return report
