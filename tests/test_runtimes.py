"""Every runtime of the baked network: export, parity after loading back, int8 accuracy on held-out
faces, ``mfs swap --runtime``, ``--device`` and a missing runtime package. Parity and behaviour
only: speed is ``mfs bench``'s."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from mobilefaceswap.cli import main
from mobilefaceswap.data.alignment import align_face
from mobilefaceswap.data.detection import DlibFaceDetector
from mobilefaceswap.data.embedded import bundled_photos
from mobilefaceswap.data.media import read_image
from mobilefaceswap.inference.calibration import MIN_PSNR_DB, calibration_faces, psnr
from mobilefaceswap.inference.device import resolve_device
from mobilefaceswap.inference.export import export_baked
from mobilefaceswap.inference.formats import EXPORTED
from mobilefaceswap.inference.pipeline import FaceSwapPipeline
from mobilefaceswap.inference.runtimes import load_runner
from mobilefaceswap.inference.swap import write_image
from mobilefaceswap.models import MobileFaceSwap
from mobilefaceswap.models.swapper import load_swapper

SMALL = 64  # the real architecture at a small input: every operator, a fraction of the work


@pytest.fixture(scope="module")
def aligned(tmp_path_factory) -> dict[str, Path]:
    """An aligned source and target crop at 224 from the bundled photos."""
    folder, photos, detector = tmp_path_factory.mktemp("aligned"), bundled_photos(), DlibFaceDetector()
    paths = {}
    for name, key in (("source", "skimage/astronaut"), ("target", "insightface/t1.jpg")):
        image = photos[key]
        paths[name] = folder / f"{name}.png"
        write_image(paths[name], align_face(image, detector(image)[0].landmarks5, 224)[0])
    return paths


def aligned_swap_args(aligned: dict[str, Path], checkpoint: Path, output: Path, *extra: str) -> list[str]:
    """``mfs swap`` of the aligned source into the aligned target."""
    return ["swap", "--source", str(aligned["source"]), "--target", str(aligned["target"]), "--output", str(output),
            "--checkpoint", str(checkpoint), "--aligned", "--quiet", *extra]  # fmt: skip


@pytest.mark.slow
def test_every_exported_format_loads_back_and_matches_pytorch(tmp_path, face_cache):
    torch.manual_seed(0)
    baked = MobileFaceSwap().eval().bake(F.normalize(torch.randn(1, 512), dim=1), torch.randn(1, 512, 7, 7))
    faces = calibration_faces(SMALL, "arcface", face_cache)
    report = export_baked(baked, SMALL, tmp_path, "face", faces)
    assert set(report["files"]) == {runtime.name for runtime in EXPORTED}
    target = torch.rand(3, 3, SMALL, SMALL)  # a batch, though the phone format runs one face at a time
    with torch.no_grad():
        expected = [t.numpy() for t in baked(target)]
        expected_faces = baked(torch.from_numpy(faces.held_out))[0].numpy()
    for runtime in EXPORTED:
        entry = report["files"][runtime.name]
        assert Path(entry["path"]) == tmp_path / f"face{runtime.suffix}"
        runner = load_runner(runtime, entry["path"])
        swapped, mask = runner.run(target.numpy())
        assert swapped.shape == (3, 3, SMALL, SMALL) and mask.shape == (3, 1, SMALL, SMALL)
        if runtime.int8:  # calibrated on the other faces, measured on the held-out ones
            assert entry["psnr_db"] >= MIN_PSNR_DB
            assert psnr(expected_faces, runner.run(faces.held_out)[0]) >= MIN_PSNR_DB, runtime.name
        else:
            assert entry["max_abs_diff"] <= runtime.tolerance
            assert max(np.abs(expected[0] - swapped).max(), np.abs(expected[1] - mask).max()) <= runtime.tolerance, runtime.name
    assert (tmp_path / "face.openvino.bin").is_file() and (tmp_path / "face.openvino.int8.bin").is_file()
    assert not list(tmp_path.glob(".*"))  # no temporary file left behind


@pytest.mark.slow
@pytest.mark.parametrize("runtime", ["onnx-int8", "openvino-int8"])  # int8: calibrated as swap calibrates
def test_swap_pipeline_runs_each_runtime_like_pytorch(runtime, aligned, tiny_swapper, face_cache, monkeypatch):
    monkeypatch.setenv("MFS_CACHE_DIR", str(face_cache))  # int8: calibrated on the bundled faces, aligned once
    source, target = read_image(aligned["source"]), read_image(aligned["target"])
    outputs = {}
    for name in ("torch", runtime):
        pipeline = FaceSwapPipeline(load_swapper(tiny_swapper), runtime=name)
        pipeline.set_aligned_source(source)
        outputs[name] = pipeline.swap_aligned(target)
    assert psnr(outputs["torch"][0] / 255, outputs[runtime][0] / 255) >= MIN_PSNR_DB
    assert np.abs(outputs["torch"][1] - outputs[runtime][1]).max() < 0.05  # the fusion mask too


@pytest.mark.slow
def test_swap_with_an_exported_runtime_and_cuda_without_a_gpu(aligned, tiny_swapper, tmp_path):
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU: --device cuda does not fall back")
    mfs = str(Path(sys.executable).parent / "mfs")
    args = aligned_swap_args(aligned, tiny_swapper, tmp_path / "out.png", "--runtime", "openvino", "--device", "cuda")
    result = subprocess.run([mfs, *args], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert [line for line in result.stderr.splitlines() if "--device cuda" in line] == [
        "mfs: --device cuda: no CUDA GPU is available here; running on the CPU"
    ]
    assert json.loads(result.stdout)["faces_swapped"] == 1 and (tmp_path / "out.png").is_file()


def test_device_choices(capsys):
    assert resolve_device("cpu").type == "cpu"
    if not torch.cuda.is_available():
        assert resolve_device("auto").type == "cpu" and capsys.readouterr().err == ""  # auto: no GPU is no news
    with pytest.raises(ValueError, match="use one of auto, cpu, cuda"):
        resolve_device("tpu")


def test_missing_runtime_package_is_one_line_naming_the_extra(aligned, tiny_swapper, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "openvino", None)  # as if it were not installed
    with pytest.raises(SystemExit) as exit_:
        main(aligned_swap_args(aligned, tiny_swapper, tmp_path / "o.png", "--runtime", "openvino"))
    message = str(exit_.value.code)
    assert message.startswith("mfs swap: error: openvino is not installed: pip install 'mobilefaceswap[deploy]'")
    assert "\n" not in message and not (tmp_path / "o.png").exists()


def test_export_refuses_an_unknown_runtime_in_one_line(capsys):
    with pytest.raises(SystemExit):
        main(["export", "--checkpoint", "x.pt", "--source", "y.png", "--out", "z", "--runtimes", "onnx,tflite"])
    assert "tflite: choose from " + ",".join(r.name for r in EXPORTED) in capsys.readouterr().err
