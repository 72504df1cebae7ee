"""Paper-scale launching: GPU trainers by default, SLURM through submitit, DDP inside a multirun,
seeds in their own folders, tracking settings, and one-line errors for what cannot run here."""

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from omegaconf import OmegaConf

from helpers import REPO

MFS = Path(sys.executable).parent
ENV = dict(os.environ, WANDB_MODE="offline", WANDB_SILENT="true", PYTHONUNBUFFERED="1")


@pytest.mark.parametrize(
    "overrides", [["profile=paper"], ["experiment=distill_simswap_gpu"], ["experiment=table2", "profile=paper"]]
)
def test_paper_runs_train_on_gpus(compose_train, overrides):
    trainer = compose_train(*overrides).trainer
    assert trainer.accelerator == "gpu" and trainer.devices == 1 and trainer.precision == 32 and trainer.num_nodes == 1


def test_ddp_precision_and_nodes_are_plain_keys(compose_train):
    trainer = compose_train(
        "profile=paper", "trainer=ddp", "trainer.devices=8", "trainer.num_nodes=2", "trainer.precision=bf16-mixed"
    ).trainer
    assert (trainer.accelerator, trainer.devices, trainer.num_nodes, trainer.precision) == ("gpu", 8, 2, "bf16-mixed")
    assert trainer.strategy == "ddp_find_unused_parameters_true"


def test_slurm_launcher_follows_the_trainer(compose_train):
    cfg = compose_train("hydra/launcher=slurm", "trainer=ddp", "trainer.devices=8", "trainer.num_nodes=2")
    launcher = OmegaConf.to_container(cfg.hydra.launcher, resolve=True)
    assert launcher["_target_"].endswith("SlurmLauncher")
    assert (launcher["gpus_per_node"], launcher["tasks_per_node"], launcher["nodes"]) == (8, 8, 2)
    assert launcher["timeout_min"] >= 24 * 60 and launcher["cpus_per_task"] and launcher["mem_per_gpu"]
    assert launcher["max_num_timeout"] > 0  # time-outs and preemptions requeue, and resume from last.ckpt


def test_wandb_run_names_tags_and_sweep_group(compose_train):
    cfg = compose_train("logger=wandb", "ablation=adain", "seed=3", "teacher=faceshifter")
    wandb = OmegaConf.to_container(cfg.logger.wandb, resolve=True)
    assert wandb["name"] == "train-adain-seed3" and wandb["group"] is None  # a single run has no group
    assert wandb["tags"] == ["profile=smoke", "teacher=faceshifter", "ablation=adain", "seed=3"]
    swept = compose_train("logger=wandb", "hydra.mode=MULTIRUN", "hydra.sweep.dir=experiments/results/table2/smoke")
    assert swept.logger.wandb.group == "experiments/results/table2/smoke"


def test_tensorboard_logger_config(compose_train, tmp_path):
    from hydra.utils import instantiate

    logger = instantiate(compose_train("logger=tensorboard").logger.tensorboard)
    logger.log_metrics({"swap/id_retrieval": 50.0}, step=1)
    logger.finalize("success")
    assert list((tmp_path / "run/tensorboard").rglob("events.out.tfevents.*"))


@pytest.mark.slow
def test_gpu_asked_for_without_one_is_one_line_before_any_work(tmp_path):
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    for args in (["profile=paper"], ["-m", "experiment=table2", "profile=paper", "ablation=full,adain"]):
        result = subprocess.run(
            [str(MFS / "mfs-train"), *args], cwd=tmp_path, env=ENV, capture_output=True, text=True, timeout=300
        )
        assert result.returncode != 0
        assert (
            result.stderr.strip()
            .splitlines()[-1]
            .startswith("error: trainer.accelerator=gpu with trainer.devices=1: 0 CUDA GPU(s)")
        )
        assert "Traceback" not in result.stderr
        assert not list(tmp_path.rglob("*.json")) and not list(tmp_path.rglob("*.ckpt"))


@pytest.mark.slow
def test_unknown_launcher_or_trainer_is_one_line(tmp_path):
    result = subprocess.run(
        [str(MFS / "mfs-train"), "-m", "hydra/launcher=slurn"], cwd=tmp_path, env=ENV, capture_output=True, text=True
    )
    assert result.returncode != 0
    assert (
        result.stderr.strip()
        == "error: hydra/launcher=slurn: unknown launcher (available: basic, local, slurm, submitit_local, submitit_slurm)"
    )
    result = subprocess.run(
        [str(MFS / "mfs-train"), "-m", "trainer=cpu,tpu"], cwd=tmp_path, env=ENV, capture_output=True, text=True
    )
    assert result.returncode != 0
    assert result.stderr.strip() == "error: trainer=tpu: unknown trainer (available: cpu, ddp, gpu)"
    assert not list(tmp_path.iterdir())  # nothing ran


def test_make_variables_choose_launcher_and_seeds():
    result = subprocess.run(
        ["make", "-n", "reproduce-table2", "LAUNCHER=slurm", "SEEDS=0,1,2", "PROFILE=paper"],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert (
        "mfs-train -m hydra/launcher=slurm experiment=table2 profile=paper eval=ffpp ablation=full," in result.stdout
        and " seed=0,1,2" in result.stdout
    )


@pytest.mark.slow
def test_ddp_inside_a_multirun(tmp_path, face_cache):
    """A 2-member multirun whose members each train with 2 DDP processes on CPU for 2 steps."""
    result = subprocess.run(
        [
            str(MFS / "mfs-train"),
            "-m",
            "trainer=ddp",
            "trainer.accelerator=cpu",
            "trainer.devices=2",
            "trainer.max_steps=2",
            "data.batch_size=2",
            "logger=csv",
            "seed=0,1",
            f"paths.cache_dir={face_cache}",
            "callbacks.image_grid.every_n_steps=0",
            "callbacks.swap_metrics.max_pairs=2",
            "hydra.sweep.dir=sweep",
        ],
        cwd=tmp_path,
        env=ENV,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    for member in ("0", "1"):
        run = tmp_path / "sweep" / member
        assert json.loads((run / "finished.json").read_text()) == {"global_step": 2}, member
        assert not (run / "failed.json").exists()
        ckpt = torch.load(run / "checkpoints/last.ckpt", map_location="cpu", weights_only=True)
        assert ckpt["global_step"] == 2
        with open(run / "csv/version_0/metrics.csv") as f:
            rows = list(csv.DictReader(f))
        # rank zero scored the swaps alone, without waiting on the other rank's metric states
        assert [row["step"] for row in rows if row.get("swap/scored")] == ["2"], member
    assert (result.stdout + result.stderr).count("DDP member run as its own process group") == 2
    assert "GLOBAL_RANK: 1" in result.stdout + result.stderr or "distributed_backend=gloo" in result.stdout + result.stderr


@pytest.mark.slow
def test_table2_seeds_as_submitit_jobs(tmp_path, face_cache):
    """The smoke Table 2 sweep through submitit's local executor: one job and one folder per seed."""
    result = subprocess.run(
        [
            str(MFS / "mfs-train"),
            "-m",
            "hydra/launcher=local",
            "experiment=table2",
            "profile=smoke",
            "ablation=full",
            "seed=0,1",
            "trainer.max_steps=1",
            "logger=csv",
            f"paths.cache_dir={face_cache}",
            "callbacks.image_grid.every_n_steps=0",
            "callbacks.swap_metrics.every_n_steps=1",
            "callbacks.swap_metrics.max_pairs=2",
            "data.val_pairs=4",
        ],
        cwd=tmp_path,
        env=ENV,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    results = tmp_path / "experiments/results/table2/smoke"
    assert list((results / ".submitit").iterdir())  # run as submitit jobs
    for seed in (0, 1):
        run = results / f"full/seed_{seed}"
        assert (run / "finished.json").is_file() and (run / "eval.json").is_file(), seed
        assert list((run / "checkpoints").glob("best_step_*.ckpt"))  # kept by swap/id_retrieval
    table = subprocess.run(
        [str(MFS / "mfs"), "table2", "--results", str(results), "--out", str(tmp_path / "out")],
        env=ENV,
        capture_output=True,
        text=True,
    )
    assert table.returncode == 0, table.stderr
    rows = {line.split(" | ")[1]: line for line in table.stdout.splitlines() if line.startswith("| ")}
    assert rows["`full`"].endswith("| 2 | done |") and " ± " in rows["`full`"]
