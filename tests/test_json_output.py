"""stdout of every ``mfs`` command that reports in JSON is that JSON alone; whatever else is printed
(our progress, NNCF's bars, native libraries' prints) goes to stderr."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from mobilefaceswap.data.embedded import bundled_photos
from mobilefaceswap.inference.swap import write_image

MFS = str(Path(sys.executable).parent / "mfs")
TINY_BENCH = ["--seconds", "0", "--frames", "6", "--memory-seconds", "0.4", "1.2"]


def test_report_only_on_stdout_moves_python_and_native_output_to_stderr():
    script = """
import ctypes, json, os, sys
from mobilefaceswap.cli.arguments import report_only_on_stdout
with report_only_on_stdout():
    print("python progress")
    os.write(1, b"native write\\n")
    ctypes.CDLL(None).printf(b"buffered C printf\\n")
print(json.dumps({"ok": True}))
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert json.loads(result.stdout) == {"ok": True}
    assert all(line in result.stderr for line in ("python progress", "native write", "buffered C printf"))


@pytest.fixture(scope="module")
def inputs(tmp_path_factory, tiny_swapper, face_cache, ffpp) -> dict:
    folder = tmp_path_factory.mktemp("json_inputs")
    write_image(folder / "astronaut.png", bundled_photos()["skimage/astronaut"])
    swapped = folder / "swapped.png"
    manifest = folder / "manifest.csv"
    face = folder / "astronaut.png"  # scored as its own swap: a random swapper's output has no face to find
    manifest.write_text(f"source,target,swapped\n{face},{face},{face}\n")
    return dict(folder=folder, swapper=tiny_swapper, cache=face_cache, ffpp=ffpp, swapped=swapped, manifest=manifest)


def commands(i: dict) -> dict[str, list[str]]:
    """Each command that reports in JSON, on the tiniest inputs; in order (verify and eval-swaps read swap's output)."""
    source, checkpoint = str(i["folder"] / "astronaut.png"), str(i["swapper"])
    return {
        "stats": ["stats", "--json"],
        "swap": ["swap", "--source", source, "--target", source, "--output", str(i["swapped"]), "--checkpoint", checkpoint],
        "verify": ["verify", str(i["swapped"]), "--json"],
        "eval-swaps": ["eval-swaps", "--manifest", str(i["manifest"]), "--json"],
        "eval-ffpp": ["eval-ffpp", "--root", str(i["ffpp"]), "--out", str(i["folder"] / "ffpp"), "--method", "FaceSwap",
                      "--frames", "1", "--limit", "1", "--json"],
        # NNCF's progress bars (rich, on Python's stdout) came ahead of these two reports
        "export": ["export", "--checkpoint", checkpoint, "--source", source, "--out", str(i["folder"] / "export"),
                   "--runtimes", "openvino-int8"],
        "bench": ["bench", "--json", *TINY_BENCH, "--variants", "openvino-int8"],
    }  # fmt: skip


@pytest.mark.slow
def test_every_json_command_prints_one_json_document(inputs):
    env = dict(os.environ, MFS_CACHE_DIR=str(inputs["cache"]))
    for name, args in commands(inputs).items():
        result = subprocess.run([MFS, *args], capture_output=True, text=True, env=env)
        assert result.returncode == 0, (name, result.stderr[-2000:])
        assert isinstance(json.loads(result.stdout), dict | list), name
        if name == "bench":  # each measurement announced as it starts, on stderr
            assert re.search(r"^1 of 8: building .*\n(.*\n)*^8 of 8: smoothing", result.stderr, re.M), result.stderr
