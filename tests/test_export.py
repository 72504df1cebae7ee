"""``mfs export`` into a new folder, and a format that misses its accuracy check left out (exit 3)."""

import json
import re

import pytest

from mobilefaceswap.cli import main
from mobilefaceswap.data.embedded import bundled_photos
from mobilefaceswap.inference import export
from mobilefaceswap.inference.swap import write_image


@pytest.fixture
def source(tmp_path):
    write_image(tmp_path / "astronaut.png", bundled_photos()["skimage/astronaut"])
    return tmp_path / "astronaut.png"


def run_export(*args) -> int:
    with pytest.raises(SystemExit) as exit_:
        main(["export", *map(str, args)])
        raise SystemExit(0)
    return exit_.value.code


def test_a_format_that_misses_its_check_is_left_out_and_the_others_written(
    source, tiny_swapper, face_cache, tmp_path, monkeypatch, capsys
):
    monkeypatch.setenv("MFS_CACHE_DIR", str(face_cache))
    monkeypatch.setattr(export, "MIN_PSNR_DB", 500.0)  # no int8 file comes that close to PyTorch
    out = tmp_path / "new" / "folder"  # does not exist yet: created, OpenVINO's temporary folder inside it
    code = run_export("--checkpoint", tiny_swapper, "--source", source, "--out", out, "--runtimes", "openvino,onnx-int8")
    captured = capsys.readouterr()
    assert code == 3, captured.err  # a partial result
    report = json.loads(captured.out)
    assert set(report["files"]) == {"openvino"} and set(report["left_out"]) == {"onnx-int8"}
    assert sorted(p.name for p in out.iterdir()) == ["astronaut.openvino.bin", "astronaut.openvino.xml"]
    line = re.search(r"^left out onnx-int8: ([\d.]+) dB PSNR .*, ([\d.]+) dB under the 500 dB needed$", captured.err, re.M)
    assert line, captured.err
    assert float(line[1]) + float(line[2]) == pytest.approx(500, abs=0.11)


def test_no_format_passing_its_check_is_one_error_and_no_file(source, tiny_swapper, face_cache, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("MFS_CACHE_DIR", str(face_cache))
    monkeypatch.setattr(export, "MIN_PSNR_DB", 500.0)
    out = tmp_path / "out"
    code = run_export("--checkpoint", tiny_swapper, "--source", source, "--out", out, "--runtimes", "onnx-int8")
    captured = capsys.readouterr()
    assert code == "mfs export: error: no format written: onnx-int8 missed the check against PyTorch"
    assert "left out onnx-int8: " in captured.err and captured.out == "" and list(out.iterdir()) == []


def test_an_output_below_a_file_is_one_line_before_any_work(source, tmp_path):
    (tmp_path / "file").write_text("")
    code = run_export("--checkpoint", tmp_path / "missing.pt", "--source", source, "--out", tmp_path / "file" / "sub")
    assert code.startswith("mfs export: error: --output: cannot create the folder") and "\n" not in code
