"""ArcFace networks shipped as ONNX (e.g. insightface's ``w600k_r50.onnx``) as torch modules.

onnx2torch rebuilds the graph as a differentiable ``torch.fx.GraphModule`` (usable for
L_id); we add the last 512x7x7 feature map, the input of the graph's flatten, as a second
output, so the module returns ``(embedding, feature_map)`` like ``IRSEResNet``.
"""

from pathlib import Path

import torch
from torch import fx, nn

from mobilefaceswap.models.pretrained import WeightsError

FLATTEN_OPS = ("Flatten", "Reshape")


def _is_flatten(node: fx.Node, graph_module: fx.GraphModule) -> bool:
    if node.op == "call_module":
        return any(op in type(graph_module.get_submodule(node.target)).__name__ for op in FLATTEN_OPS)
    return node.op in ("call_function", "call_method") and "flatten" in str(node.target)


def tap_feature_map(graph_module: fx.GraphModule) -> fx.GraphModule:
    """Make the graph return (original output, input of its first flatten)."""
    graph = graph_module.graph
    flatten = next((n for n in graph.nodes if _is_flatten(n, graph_module)), None)
    if flatten is None:
        raise ValueError("the ONNX graph has no Flatten/Reshape before its embedding layer")
    output = next(n for n in graph.nodes if n.op == "output")
    embedding = output.args[0]
    if isinstance(embedding, (tuple, list)):
        embedding = embedding[0]
    output.args = ((embedding, flatten.args[0]),)
    graph.lint()
    graph_module.recompile()
    return graph_module


def load_onnx_identity(path: str | Path, config_key: str = "identity.pretrained") -> nn.Module:
    """ONNX ArcFace file -> module ``x -> (embedding (B, 512), feature map (B, 512, 7, 7))``."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise WeightsError(
            f"{config_key}: ONNX model not found: {path} (expected an ArcFace ONNX file such as insightface's w600k_r50.onnx)"
        )
    return onnx_identity_from_bytes(path.read_bytes(), f"{config_key}: {path}")


def onnx_identity_from_bytes(data: bytes, what: str) -> nn.Module:
    """The same from the bytes of an ONNX file (as swapper files keep it); ``what`` names it in errors."""
    import onnx
    import onnx2torch

    try:
        graph_module = onnx2torch.convert(onnx.load_from_string(data))
    except Exception as err:
        raise WeightsError(f"{what}: cannot convert from ONNX ({type(err).__name__}: {str(err)[:200]})") from None
    try:
        module = tap_feature_map(graph_module).eval()
        check_identity_outputs(module)
    except ValueError as err:
        raise WeightsError(f"{what}: {err}") from None
    return module


def check_identity_outputs(module: nn.Module, input_size: int = 112) -> None:
    """Raise ValueError unless the network gives what the student reads: (B, 512) and (B, 512, 7, 7)."""
    with torch.no_grad():
        embedding, feature_map = module(torch.zeros(1, 3, input_size, input_size))
    if embedding.shape[1:] != (512,) or feature_map.shape[1:] != (512, 7, 7):
        raise ValueError(
            f"it gives {tuple(embedding.shape)} and {tuple(feature_map.shape)}; the student needs (1, 512) and (1, 512, 7, 7)"
        )
