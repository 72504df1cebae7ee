"""The runtimes a baked network runs in, and the file ``mfs export`` writes for each.

Plain data, imported by the command line to list them (the runners are in ``runtimes.py``).
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class Runtime:
    name: str
    engine: str  # what runs it: torch, torchscript, onnx, openvino, executorch
    suffix: str = ""  # of the exported file (none: not exported)
    int8: bool = False  # statically quantised, calibrated on aligned faces
    cuda: bool = False  # runs on a GPU (otherwise on the CPU only)
    tolerance: float = 1e-4  # fp32: largest difference allowed to PyTorch; int8 is held to a PSNR instead

    def files(self, stem: str) -> list[str]:
        """The names ``mfs export`` writes for ``stem`` (OpenVINO's weights go beside its .xml)."""
        weights = [stem + self.suffix.removesuffix(".xml") + ".bin"] if self.engine == "openvino" else []
        return [stem + self.suffix, *weights]


RUNTIMES = {
    runtime.name: runtime
    for runtime in (
        Runtime("torch", "torch", cuda=True),
        Runtime("torchscript", "torchscript", ".torchscript.pt", cuda=True),
        Runtime("onnx", "onnx", ".onnx", cuda=True),
        Runtime("onnx-int8", "onnx", ".int8.onnx", int8=True),
        Runtime("openvino", "openvino", ".openvino.xml"),
        Runtime("openvino-int8", "openvino", ".openvino.int8.xml", int8=True),
        Runtime("executorch", "executorch", ".xnnpack.pte", tolerance=1e-3),
        Runtime("executorch-int8", "executorch", ".xnnpack.int8.pte", int8=True),
    )
}
EXPORTED = [runtime for runtime in RUNTIMES.values() if runtime.suffix]
# mfs bench measures every runtime, and bf16 compute on the CPU (AVX-512 BF16 where present)
BENCH_VARIANTS = [*RUNTIMES, "torch-bf16", "openvino-bf16"]
