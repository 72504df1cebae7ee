"""The baked network (one identity injected) in each runtime it is exported to and run with.

Every runner takes aligned targets (B, 3, S, S) float32 in [0, 1] as numpy and returns the
swapped faces and fusion masks as numpy, whatever runs underneath; it is built from the
PyTorch module (int8 variants calibrated on aligned faces) or loaded from an exported file.
"""

import copy
import importlib
import io
import sys
import tempfile
import warnings
from abc import ABC, abstractmethod
from pathlib import Path

import numpy as np
import torch
from torch import nn

from mobilefaceswap.files import write_atomic
from mobilefaceswap.inference.formats import Runtime

CPU = torch.device("cpu")


def require(module: str, extra: str = "deploy"):
    """Import ``module``, or one line naming the extra that installs it."""
    try:
        return importlib.import_module(module)
    except ImportError as err:
        raise RuntimeError(f"{module} is not installed: pip install 'mobilefaceswap[{extra}]' ({err})") from None


class BakedRunner(ABC):
    """Runs a baked network: ``run`` on numpy, or called like the PyTorch module on tensors."""

    @abstractmethod
    def run(self, target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(B, 3, S, S) float32 in [0, 1] -> swapped (B, 3, S, S), mask (B, 1, S, S)."""

    def __call__(self, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        swapped, mask = self.run(target.detach().cpu().numpy())
        return torch.from_numpy(swapped), torch.from_numpy(mask)


def example_input(baked: nn.Module, size: int) -> torch.Tensor:
    """One target on the network's device, to trace or export it with."""
    return torch.rand(1, 3, size, size, device=next(baked.parameters()).device)


class TorchBaked(BakedRunner):
    """PyTorch eager; on a GPU in fp16 (or in ``dtype``). In fp32 on the CPU the module is left
    where it is (a teacher evaluated during training keeps its GPU and moves its inputs itself)."""

    def __init__(self, module: nn.Module, device: torch.device = CPU, dtype: torch.dtype | None = None):
        self.device = device
        self.dtype = dtype or (torch.float16 if device.type == "cuda" else torch.float32)
        moved = device.type == "cuda" or self.dtype != torch.float32
        self.module = copy.deepcopy(module).eval().to(device, self.dtype) if moved else module.eval()

    @classmethod
    def from_module(
        cls, baked: nn.Module, size: int, threads: int = 2, device: torch.device = CPU, calibration=None
    ) -> "TorchBaked":
        return cls(baked, device)

    @torch.no_grad()
    def run(self, target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        swapped, mask = self.module(torch.from_numpy(np.ascontiguousarray(target, dtype=np.float32)).to(self.device, self.dtype))
        return swapped.float().cpu().numpy(), mask.float().cpu().numpy()


class TorchScriptBaked(TorchBaked):
    """The traced network (TorchScript); on a GPU in fp16."""

    @classmethod
    def from_module(
        cls, baked: nn.Module, size: int, threads: int = 2, device: torch.device = CPU, calibration=None
    ) -> "TorchScriptBaked":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # tracing warns about every shape-dependent Python value
            return cls(torch.jit.trace(baked.eval(), example_input(baked, size)), device)

    @classmethod
    def from_file(cls, path: str | Path, threads: int = 2, device: torch.device = CPU) -> "TorchScriptBaked":
        return cls(torch.jit.load(str(path), map_location="cpu"), device)

    def save(self, path: str | Path) -> Path:
        module = self.module.to(CPU, torch.float32)
        return write_atomic(path, lambda tmp: torch.jit.save(module, tmp))


def onnx_bytes(baked: nn.Module, size: int) -> bytes:
    """The baked network as an ONNX model with a dynamic batch: target -> (swapped, mask)."""
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript-based exporter announces its deprecation
        torch.onnx.export(
            baked.eval(),
            (example_input(baked, size),),
            buffer,
            dynamo=False,
            opset_version=17,
            input_names=["target"],
            output_names=["swapped", "mask"],
            dynamic_axes={"target": {0: "batch"}, "swapped": {0: "batch"}, "mask": {0: "batch"}},
        )
    return buffer.getvalue()


def onnx_session(model: bytes | str, threads: int = 2, device: torch.device = CPU, spinning: bool = True):
    """ONNX Runtime with every graph optimisation (fusions included); the CUDA provider on a GPU.
    ``spinning=False`` when other threads need the cores (the video pipeline's decoder and
    encoder): idle ONNX Runtime threads then sleep instead of busy-waiting."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.add_session_config_entry("session.intra_op.allow_spinning", "1" if spinning else "0")
    providers = ["CPUExecutionProvider"]
    if device.type == "cuda":
        if "CUDAExecutionProvider" in ort.get_available_providers():
            providers.insert(0, "CUDAExecutionProvider")
        else:
            print(
                "mfs: this onnxruntime has no CUDA provider (pip install onnxruntime-gpu); ONNX Runtime runs on the CPU",
                file=sys.stderr,
            )
    return ort.InferenceSession(model, options, providers=providers)


class CalibrationReader:
    """ONNX Runtime's calibration data reader over aligned faces, one at a time."""

    def __init__(self, faces: np.ndarray):
        self.faces = iter(faces)

    def get_next(self) -> dict | None:
        face = next(self.faces, None)
        return None if face is None else {"target": face[None]}


def onnx_int8_static(model: bytes, calibration: np.ndarray) -> bytes:
    """Static int8 quantisation (QDQ, per-channel int8 weights, uint8 activations whose
    ranges come from the calibration faces): ONNX Runtime fuses each QDQ group into an int8 kernel."""
    from onnxruntime.quantization import QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    with tempfile.TemporaryDirectory() as tmp:
        fp32, prepared, int8 = (Path(tmp) / name for name in ("fp32.onnx", "prepared.onnx", "int8.onnx"))
        fp32.write_bytes(model)
        quant_pre_process(str(fp32), str(prepared), skip_symbolic_shape=True)  # folds and infers shapes first
        quantize_static(
            str(prepared),
            str(int8),
            CalibrationReader(calibration),
            quant_format=QuantFormat.QDQ,
            per_channel=True,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
        )
        return int8.read_bytes()


class OnnxBaked(BakedRunner):
    """ONNX Runtime; the int8 variant is statically quantised on aligned faces."""

    def __init__(self, model: bytes | str, threads: int = 2, device: torch.device = CPU, spinning: bool = True):
        self.model = model
        self.session = onnx_session(model, threads, device, spinning)

    @classmethod
    def from_module(
        cls, baked: nn.Module, size: int, threads: int = 2, device: torch.device = CPU, calibration=None, spinning: bool = True
    ) -> "OnnxBaked":
        model = onnx_bytes(baked, size)
        return cls(model if calibration is None else onnx_int8_static(model, calibration), threads, device, spinning)

    @classmethod
    def from_file(cls, path: str | Path, threads: int = 2, device: torch.device = CPU) -> "OnnxBaked":
        return cls(Path(path).read_bytes(), threads, device)

    def run(self, target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        swapped, mask = self.session.run(None, {"target": np.ascontiguousarray(target, dtype=np.float32)})
        return swapped, mask

    def save(self, path: str | Path) -> Path:
        model = self.model if isinstance(self.model, bytes) else Path(self.model).read_bytes()
        return write_atomic(path, lambda tmp: Path(tmp).write_bytes(model))


class OpenVinoBaked(BakedRunner):
    """OpenVINO (IR .xml + .bin) on the CPU: fp32, bf16 inference precision, or int8 by NNCF."""

    def __init__(self, model, threads: int = 2, precision: str = "f32"):
        self.core = require("openvino").Core()
        self.model = model  # the dynamic-batch model, as exported
        self.config = {"INFERENCE_NUM_THREADS": threads, "PERFORMANCE_HINT": "LATENCY", "INFERENCE_PRECISION_HINT": precision}
        self.requests: dict[int, object] = {}
        self.request_for(1)  # compiled now, so that a bad model fails where it is loaded

    def request_for(self, batch: int):
        """An infer request compiled for exactly ``batch`` faces, made on first use: with every
        shape static, OpenVINO's CPU plugin ran the fp32 network 13% faster than with a dynamic
        batch (docs/benchmarks.md); the saved model keeps its dynamic batch."""
        if batch not in self.requests:
            model = self.model.clone()
            dims = [batch] + [d.get_length() for d in list(model.input(0).get_partial_shape())[1:]]
            model.reshape({model.input(0): dims})
            self.requests[batch] = self.core.compile_model(model, "CPU", self.config).create_infer_request()
        return self.requests[batch]

    @classmethod
    def from_module(
        cls, baked: nn.Module, size: int, threads: int = 2, device: torch.device = CPU, calibration=None, precision: str = "f32"
    ) -> "OpenVinoBaked":
        ov = require("openvino")
        model = ov.convert_model(io.BytesIO(onnx_bytes(baked, size)))
        if calibration is not None:
            nncf = require("nncf")
            dataset = nncf.Dataset([face[None] for face in calibration])
            model = nncf.quantize(model, dataset, subset_size=len(calibration), preset=nncf.QuantizationPreset.MIXED)
        return cls(model, threads, precision)

    @classmethod
    def from_file(cls, path: str | Path, threads: int = 2, device: torch.device = CPU) -> "OpenVinoBaked":
        return cls(require("openvino").Core().read_model(str(path)), threads)

    def run(self, target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        outputs = self.request_for(len(target)).infer({0: np.ascontiguousarray(target, dtype=np.float32)})
        return outputs[0].copy(), outputs[1].copy()  # the request reuses its buffers

    def save(self, path: str | Path) -> Path:
        """``path`` (.xml) and its weights beside it (.bin), each moved into place whole."""
        ov = require("openvino")
        path = Path(path)
        with tempfile.TemporaryDirectory(dir=path.parent, prefix=f".{path.stem}.") as tmp:
            ov.save_model(self.model, str(Path(tmp) / path.name), compress_to_fp16=False)  # fp32 weights, as checked
            Path(tmp, path.name).with_suffix(".bin").replace(path.with_suffix(".bin"))
            Path(tmp, path.name).replace(path)
        return path


def executorch_program(baked: nn.Module, size: int, calibration: np.ndarray | None = None) -> bytes:
    """A .pte program whose every operator is delegated to XNNPACK, as on a phone; with
    ``calibration``, int8 by PT2E static quantisation (per-channel symmetric weights)."""
    require("executorch")
    from executorch.backends.xnnpack.partition.xnnpack_partitioner import XnnpackPartitioner
    from executorch.exir import to_edge_transform_and_lower

    example = (example_input(baked, size),)
    program = torch.export.export(baked.eval(), example)
    if calibration is not None:
        from executorch.backends.xnnpack.quantizer.xnnpack_quantizer import (
            XNNPACKQuantizer,
            get_symmetric_quantization_config,
        )
        from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_pt2e

        quantizer = XNNPACKQuantizer().set_global(get_symmetric_quantization_config(is_per_channel=True))
        observed = prepare_pt2e(program.module(), quantizer)
        with torch.no_grad():
            for face in calibration:
                observed(torch.from_numpy(face[None]))
        program = torch.export.export(convert_pt2e(observed), example)
    return to_edge_transform_and_lower(program, partitioner=[XnnpackPartitioner()]).to_executorch().buffer


class ExecuTorchBaked(BakedRunner):
    """ExecuTorch's runtime with the XNNPACK delegate (batch 1, the phone's format)."""

    def __init__(self, program: bytes, threads: int = 2):
        require("executorch")
        from executorch.extension.pybindings.portable_lib import _unsafe_reset_threadpool
        from executorch.runtime import Runtime as ExecuTorchRuntime

        _unsafe_reset_threadpool(threads)  # XNNPACK's pool is process-wide
        self.program = program
        self.method = ExecuTorchRuntime.get().load_program(program).load_method("forward")

    @classmethod
    def from_module(
        cls, baked: nn.Module, size: int, threads: int = 2, device: torch.device = CPU, calibration: np.ndarray | None = None
    ) -> "ExecuTorchBaked":
        return cls(executorch_program(baked, size, calibration), threads)

    @classmethod
    def from_file(cls, path: str | Path, threads: int = 2, device: torch.device = CPU) -> "ExecuTorchBaked":
        return cls(Path(path).read_bytes(), threads)

    def run(self, target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        # the program reads its input's memory as contiguous and was exported for one face
        outputs = [self.method.execute([torch.from_numpy(np.ascontiguousarray(face[None], dtype=np.float32))]) for face in target]
        return np.concatenate([o[0].numpy() for o in outputs]), np.concatenate([o[1].numpy() for o in outputs])

    def save(self, path: str | Path) -> Path:
        return write_atomic(path, lambda tmp: Path(tmp).write_bytes(self.program))


RUNNERS: dict[str, type[BakedRunner]] = {
    "torch": TorchBaked,
    "torchscript": TorchScriptBaked,
    "onnx": OnnxBaked,
    "openvino": OpenVinoBaked,
    "executorch": ExecuTorchBaked,
}


def build_runner(
    runtime: Runtime,
    baked: nn.Module,
    size: int,
    threads: int = 2,
    device: torch.device = CPU,
    calibration: np.ndarray | None = None,
    spinning: bool = True,
) -> BakedRunner:
    """The runtime's runner of the PyTorch module; int8 runtimes need ``calibration`` faces.
    ``spinning=False``: ONNX Runtime's idle threads sleep (see :func:`onnx_session`)."""
    if runtime.int8 and calibration is None:
        raise ValueError(f"runtime {runtime.name} needs calibration faces")
    options = {"spinning": spinning} if runtime.engine == "onnx" else {}
    return RUNNERS[runtime.engine].from_module(
        baked, size, threads=threads, device=device, calibration=calibration if runtime.int8 else None, **options
    )


def load_runner(runtime: Runtime, path: str | Path, threads: int = 2, device: torch.device = CPU) -> BakedRunner:
    """The runtime's runner of the file ``mfs export`` wrote for it."""
    return RUNNERS[runtime.engine].from_file(path, threads=threads, device=device)
