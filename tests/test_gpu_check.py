"""scripts/gpu-check.sh without a GPU (the training-throughput callback it reads: test_train_entry.py's
smoke run)."""

import os
import subprocess
import sys

import pytest
import torch

from helpers import REPO


def test_gpu_check_without_a_gpu_says_so_in_one_line_and_exits_0(tmp_path):
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    env = dict(os.environ, PYTHON=sys.executable, OUT=str(tmp_path / "out"))
    result = subprocess.run(["bash", REPO / "scripts/gpu-check.sh"], env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "gpu-check: no CUDA GPU on this machine (torch.cuda.is_available() is false): nothing measured\n"
    assert result.stderr == "" and not (tmp_path / "out").exists()
    env["PYTHON"] = "/nonexistent/python"
    result = subprocess.run(["bash", REPO / "scripts/gpu-check.sh"], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 1 and result.stderr.startswith("gpu-check: error: /nonexistent/python cannot import torch")
