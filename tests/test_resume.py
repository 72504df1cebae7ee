"""Exact resume: a run killed with SIGKILL between checkpoints and resumed, a run stopped by
Ctrl-C or SIGTERM and resumed, or a finished run continued with more steps, ends with the weights
of the uninterrupted run."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from helpers import last_checkpoint, run_mfs_train

# One worker runs the module, so that its tests share the straight run.
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("straight_run")]

# Six small steps, checkpoints at 2, 4 and 6, no validation, grids or swap metrics.
STEPS = (
    "trainer.max_steps=6",
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


def _signal_after_checkpoint(run_dir: Path, cwd: Path, cache: Path, signum: int, step: int = 2) -> tuple[int, str]:
    """Run STEPS in ``run_dir``, send ``signum`` once its checkpoint of ``step`` is written, and
    give its exit status and stderr once it has ended (within a minute)."""
    env = dict(os.environ, WANDB_MODE="offline", WANDB_DIR=str(cwd), WANDB_SILENT="true")
    command = [
        str(Path(sys.executable).parent / "mfs-train"),
        f"paths.cache_dir={cache}",
        "logger=csv",
        "callbacks.checkpoint.every_n_train_steps=2",
        f"hydra.run.dir={run_dir}",
        *STEPS,
    ]
    with open(cwd / "stderr.txt", "w+") as stderr:  # a file: a full pipe would block the run
        process = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=stderr)
        try:
            while _checkpoint_step(run_dir / "checkpoints" / "last.ckpt") < step:
                assert process.poll() is None, "the run ended before the checkpoint"
                time.sleep(0.05)
            process.send_signal(signum)  # between the checkpoints of step and step + 2 (or while writing the latter)
            process.wait(timeout=60)
        finally:
            process.kill()
            process.wait()
        stderr.seek(0)
        return process.returncode, stderr.read()


@pytest.fixture(scope="module")
def straight_run(tmp_path_factory, face_cache) -> dict:
    """The last checkpoint of the run made straight to step 6, uninterrupted."""
    folder = tmp_path_factory.mktemp("straight")
    whole = run_mfs_train(*STEPS, f"hydra.run.dir={folder / 'whole'}", cwd=folder, cache=face_cache)
    assert whole.returncode == 0, whole.stderr[-3000:]
    return last_checkpoint(folder / "whole")


def test_killed_and_resumed_run_reproduces_the_uninterrupted_run(tmp_path, face_cache, straight_run):
    """Two processes, each with the same seed, make steps 1-2 and 3-6: equal bit for bit to one
    process making all six (so the same seed on the same machine also gives the same weights)."""
    _signal_after_checkpoint(tmp_path / "killed", tmp_path, face_cache, signal.SIGKILL)
    assert _checkpoint_step(tmp_path / "killed" / "checkpoints" / "last.ckpt") == 2
    resumed = run_mfs_train(*STEPS, f"hydra.run.dir={tmp_path / 'killed'}", cwd=tmp_path, cache=face_cache)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    log = resumed.stdout + resumed.stderr
    assert "resuming from" in log and "not resumable" not in log
    assert_same_training_state(straight_run, last_checkpoint(tmp_path / "killed"), step=6)


def assert_same_training_state(expected: dict, got: dict, step: int) -> None:
    """Bit for bit: the weights and both optimisers' states."""
    assert got["global_step"] == expected["global_step"] == step
    for key, value in expected["state_dict"].items():
        assert torch.equal(value, got["state_dict"][key]), key
    for opt_expected, opt_got in zip(expected["optimizer_states"], got["optimizer_states"]):
        for index, state in opt_expected["state"].items():
            assert all(torch.equal(v, opt_got["state"][index][k]) for k, v in state.items())


def test_finished_run_continued_with_more_steps_reproduces_the_straight_run(tmp_path, face_cache, straight_run):
    """A finished run's last.ckpt is its state inside the loop at its last step (3, between the
    saves of steps 2 and 4): continued to step 6 in its folder, it ends as the run made straight to 6,
    and its wandb run goes on under the same id."""
    steps = [s for s in STEPS if not s.startswith("trainer.max_steps=")]
    for max_steps in (3, 6):
        run = run_mfs_train(*steps, f"trainer.max_steps={max_steps}", "logger=wandb",
                            f"hydra.run.dir={tmp_path / 'continued'}", cwd=tmp_path, cache=face_cache)
        assert run.returncode == 0, run.stderr[-3000:]
        assert _checkpoint_step(tmp_path / "continued" / "checkpoints" / "last.ckpt") == max_steps
    assert "resuming from" in run.stdout + run.stderr
    continued = last_checkpoint(tmp_path / "continued")
    assert_same_training_state(straight_run, continued, step=6)
    runs = sorted((tmp_path / "continued/wandb").glob("offline-run-*"))
    assert len(runs) == 2 and all(run.name.endswith(f"-{continued['wandb_run_id']}") for run in runs)


def test_run_stopped_by_signals_and_resumed_reproduces_the_uninterrupted_run(tmp_path, face_cache, straight_run):
    """Ctrl-C after the step-2 checkpoint, then SIGTERM after step 4's in the resumed run: each
    stops after the step in hand (3, 5) with its last.ckpt, one line, exit 130 / 143 and no
    temporary; resumed again, the run ends at step 6 as the run made straight to 6."""
    run_dir = tmp_path / "stopped"
    ckpt = run_dir / "checkpoints" / "last.ckpt"
    for signum, code, how, after in ((signal.SIGINT, 130, "interrupted (Ctrl-C)", 2),
                                     (signal.SIGTERM, 143, "terminated (SIGTERM)", 4)):
        returncode, stderr = _signal_after_checkpoint(run_dir, tmp_path, face_cache, signum, after)
        assert returncode == code, stderr[-3000:]
        assert "Traceback" not in stderr
        assert stderr.strip().splitlines()[-1] == (
            f"mfs-train: {how}: stopped; {ckpt} holds the last whole step: "
            f"the same command with hydra.run.dir={run_dir} resumes from it"
        )
        assert _checkpoint_step(ckpt) in (after, after + 1)  # the step in hand (the saved one if it was still saving)
        assert [p.name for p in run_dir.rglob(".*")] == [".hydra"]  # Hydra's record of the config, no temporary
    resumed = run_mfs_train(*STEPS, f"hydra.run.dir={run_dir}", cwd=tmp_path, cache=face_cache)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert_same_training_state(straight_run, last_checkpoint(run_dir), step=6)
