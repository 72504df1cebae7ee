"""Exact resume: a run killed with SIGKILL between checkpoints and resumed, or a finished run
continued with more steps, ends with the weights of the uninterrupted run."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from helpers import last_checkpoint, run_mfs_train

pytestmark = pytest.mark.slow

# Four small steps, checkpoints at 2 and 4, no validation, grids or swap metrics.
STEPS = (
    "trainer.max_steps=4",
    "data.batch_size=2",
    "trainer.val_check_interval=100",
    "~callbacks.image_grid",
    "~callbacks.swap_metrics",
)


def _checkpoint_step(path: Path) -> int:
    try:
        return torch.load(path, map_location="cpu", weights_only=True)["global_step"]
    except Exception:
        return -1


def _kill_after_first_checkpoint(run_dir: Path, cwd: Path, cache: Path) -> None:
    env = dict(os.environ, WANDB_MODE="offline", WANDB_DIR=str(cwd), WANDB_SILENT="true")
    command = [
        str(Path(sys.executable).parent / "mfs-train"),
        f"paths.cache_dir={cache}",
        "logger=csv",
        "callbacks.checkpoint.every_n_train_steps=2",
        f"hydra.run.dir={run_dir}",
        *STEPS,
    ]
    process = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while _checkpoint_step(run_dir / "checkpoints" / "last.ckpt") < 2:
            assert process.poll() is None, "the run ended before its first checkpoint"
            time.sleep(0.05)
        os.kill(process.pid, signal.SIGKILL)  # between the checkpoints of steps 2 and 4 (or while writing the latter)
    finally:
        process.kill()
        process.wait()


def test_killed_and_resumed_run_reproduces_the_uninterrupted_run(tmp_path, face_cache):
    whole = run_mfs_train(*STEPS, f"hydra.run.dir={tmp_path / 'whole'}", cwd=tmp_path, cache=face_cache)
    assert whole.returncode == 0, whole.stderr[-3000:]
    _kill_after_first_checkpoint(tmp_path / "killed", tmp_path, face_cache)
    assert _checkpoint_step(tmp_path / "killed" / "checkpoints" / "last.ckpt") == 2
    resumed = run_mfs_train(*STEPS, f"hydra.run.dir={tmp_path / 'killed'}", cwd=tmp_path, cache=face_cache)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    log = resumed.stdout + resumed.stderr
    assert "resuming from" in log and "not resumable" not in log
    assert_same_training_state(last_checkpoint(tmp_path / "whole"), last_checkpoint(tmp_path / "killed"), step=4)


def assert_same_training_state(expected: dict, got: dict, step: int) -> None:
    """Bit for bit: the weights and both optimisers' states."""
    assert got["global_step"] == expected["global_step"] == step
    for key, value in expected["state_dict"].items():
        assert torch.equal(value, got["state_dict"][key]), key
    for opt_expected, opt_got in zip(expected["optimizer_states"], got["optimizer_states"]):
        for index, state in opt_expected["state"].items():
            assert all(torch.equal(v, opt_got["state"][index][k]) for k, v in state.items())


def test_finished_run_continued_with_more_steps_reproduces_the_straight_run(tmp_path, face_cache):
    """A finished run's last.ckpt is its state inside the loop at its last step (3, between the
    saves of steps 2 and 4): continued to step 6 in its folder, it ends as the run made straight to 6."""
    steps = [s for s in STEPS if not s.startswith("trainer.max_steps=")]
    whole = run_mfs_train(*steps, "trainer.max_steps=6", f"hydra.run.dir={tmp_path / 'whole'}", cwd=tmp_path, cache=face_cache)
    assert whole.returncode == 0, whole.stderr[-3000:]
    for max_steps in (3, 6):
        run = run_mfs_train(*steps, f"trainer.max_steps={max_steps}", f"hydra.run.dir={tmp_path / 'continued'}",
                            cwd=tmp_path, cache=face_cache)
        assert run.returncode == 0, run.stderr[-3000:]
        assert _checkpoint_step(tmp_path / "continued" / "checkpoints" / "last.ckpt") == max_steps
    assert "resuming from" in run.stdout + run.stderr
    assert_same_training_state(last_checkpoint(tmp_path / "whole"), last_checkpoint(tmp_path / "continued"), step=6)
