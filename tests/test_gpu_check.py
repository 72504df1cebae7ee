"""scripts/gpu-check.sh without a GPU, and the training-throughput callback it reads."""

import json
import os
import subprocess
import sys

import pytest
import torch

from helpers import REPO, run_mfs_train


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


@pytest.mark.slow
def test_training_throughput_is_written_at_the_end_of_a_run(tmp_path, face_cache):
    result = run_mfs_train(
        "trainer.max_steps=4",
        "hydra.run.dir=run",
        "+callbacks.throughput._target_=mobilefaceswap.callbacks.TrainingThroughput",
        f"+callbacks.throughput.path={tmp_path / 'train.json'}",
        "+callbacks.throughput.warmup_steps=1",
        cwd=tmp_path,
        cache=face_cache,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads((tmp_path / "train.json").read_text())
    assert report["steps"] == 4 and report["timed_steps"] == 3 and report["steps_per_second"] > 0
    assert report["device"] == "cpu" and report["memory"]["peak_rss_gib_main_process"] > 0.1
    assert report["losses_finite"] and {"train/g", "train/d"} <= set(report["losses"])
