"""The real ``mfs-train`` entry point, end to end, with tiny limits."""

import csv
import json
import re

import numpy as np
import pytest
import torch
from omegaconf import open_dict
from PIL import Image

from mobilefaceswap.models.swapper import load_swapper

from helpers import last_checkpoint, run_mfs_train

pytestmark = pytest.mark.slow


def test_smoke_profile_trains_checkpoints_draws_grids_and_times_itself(tmp_path, face_cache):
    run_dir = tmp_path / "run"
    result = run_mfs_train(
        "profile=smoke", "trainer.max_steps=3", "logger=wandb", f"hydra.run.dir={run_dir}",
        "+callbacks.throughput._target_=mobilefaceswap.callbacks.TrainingThroughput",  # as scripts/gpu-check.sh adds it
        f"+callbacks.throughput.path={tmp_path / 'train.json'}", "+callbacks.throughput.warmup_steps=1",
        cwd=tmp_path, cache=face_cache,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads((tmp_path / "train.json").read_text())
    assert report["steps"] == 3 and report["timed_steps"] == 2 and report["steps_per_second"] > 0
    assert report["device"] == "cpu" and report["memory"]["peak_rss_gib_main_process"] > 0.1
    assert report["losses_finite"] and {"train/g", "train/d"} <= set(report["losses"])
    ckpt = last_checkpoint(run_dir)
    assert ckpt["global_step"] == 3
    assert not any(k.startswith("frozen.") for k in ckpt["state_dict"])  # the frozen networks are rebuilt from config
    assert any(k.startswith("student.iin.") for k in ckpt["state_dict"])
    assert len(ckpt["optimizer_states"]) == 2
    grids = sorted((run_dir / "images").glob("*.png"))
    assert [p.name for p in grids] == ["step_0000002.png", "step_0000003.png"]
    # wandb stores each grid as the PNG on disk, not a float image cast to 8 bits (all black)
    stored = [np.asarray(Image.open(p)) for p in run_dir.glob("wandb/offline-run-*/files/media/images/preview_*.png")]
    on_disk = [np.asarray(Image.open(p)) for p in grids]
    assert len(stored) == 2 and all(image.dtype == np.uint8 and image.max() > 1 for image in stored)
    assert all(any(image.shape == grid.shape and np.array_equal(image, grid) for image in stored) for grid in on_disk)
    swapper = load_swapper(run_dir / "swapper.pt")  # ready for mfs swap / mfs export
    for k, v in swapper.student.state_dict().items():
        assert torch.equal(v, ckpt["state_dict"][f"student.{k}"]), k


def test_killed_run_resumes_step_count_and_optimiser_from_another_directory(tmp_path, face_cache):
    every_step = "trainer.log_every_n_steps=1"  # so that the logged steps show where the second run began
    first = run_mfs_train("trainer.max_steps=2", every_step, "hydra.run.dir=runs/train/first", cwd=tmp_path, cache=face_cache)
    assert first.returncode == 0, first.stderr[-3000:]
    resumed = run_mfs_train(
        "trainer.max_steps=4", every_step, "ckpt_path=last", "hydra.run.dir=runs/train/second", cwd=tmp_path, cache=face_cache
    )
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "resuming from" in resumed.stderr + resumed.stdout
    ckpt = last_checkpoint(tmp_path / "runs/train/second")
    assert ckpt["global_step"] == 4
    adam_steps = {float(s["step"]) for s in ckpt["optimizer_states"][0]["state"].values()}
    assert adam_steps == {4.0}  # the generator's Adam state carried over from the first run
    with open(tmp_path / "runs/train/second/csv/version_0/metrics.csv") as f:
        rows = list(csv.DictReader(f))
    steps = [int(row["step"]) for row in rows if row.get("train/g")]
    assert steps and min(steps) >= 2  # logging continued after step 2, it did not restart
    assert [row["step"] for row in rows if row.get("swap/scored")] == ["4"]  # SwapMetricsLogger at the end
    # A rerun in the same directory resumes by itself: test_resume.py continues a finished run so.


def test_missing_weights_file_is_one_clear_error(tmp_path, face_cache):
    result = run_mfs_train("teacher.pretrained=/nowhere/latest_net_G.pth", "hydra.run.dir=run", cwd=tmp_path, cache=face_cache)
    assert result.returncode != 0
    assert "teacher.pretrained: weights file not found: /nowhere/latest_net_G.pth" in result.stderr
    assert "latest_net_G.pth (a Generator_Adain_Upsample state dict)" in result.stderr
    assert "Traceback" not in result.stderr


def test_mismatched_weights_file_is_one_clear_error(tmp_path, face_cache):
    wrong = tmp_path / "wrong.pth"
    torch.save({"conv.weight": torch.zeros(1)}, wrong)
    result = run_mfs_train(f"identity.pretrained={wrong}", "hydra.run.dir=run", cwd=tmp_path, cache=face_cache)
    assert result.returncode != 0
    assert f"identity.pretrained: {wrong} does not match IRSEResNet" in result.stderr
    assert "Traceback" not in result.stderr


def test_corrupt_checkpoint_is_one_clear_error(tmp_path, face_cache):
    corrupt = tmp_path / "broken.ckpt"
    corrupt.write_bytes(b"not a checkpoint")
    result = run_mfs_train(f"ckpt_path={corrupt}", "hydra.run.dir=run", cwd=tmp_path, cache=face_cache)
    assert result.returncode != 0
    assert f"ckpt_path: cannot resume from {corrupt}" in result.stderr
    assert "Traceback" not in result.stderr
    assert corrupt.read_bytes() == b"not a checkpoint"


def test_config_value_of_the_wrong_type_is_one_line_naming_the_key(tmp_path, face_cache):
    result = run_mfs_train("trainer.max_steps=abc", "hydra.run.dir=run", cwd=tmp_path, cache=face_cache)
    assert result.returncode != 0
    assert (
        result.stderr.strip()
        == "error: trainer.max_steps: input should be a valid integer, unable to parse string as an integer (value: 'abc')"
    )


@pytest.mark.parametrize(
    "override, message",
    [
        ("loss.lambda_id=abc", "loss.lambda_id: input should be a valid number"),  # a dataclass passed on as a dict
        ("+loss.lambda_foo=1", "loss.lambda_foo: not a setting"),
        ("loss.adversarial=foo", "loss.adversarial='foo': use hinge, lsgan or nonsaturating"),  # the dataclass's own check
        ("data.batch_size=2.5", "data.batch_size: input should be a valid integer"),  # declared by the parent's __init__
        ("model.optimizer.betas=[a,0.99]", "model.optimizer.betas"),  # a _partial_ node: the optimiser's own annotations
        ("+model.optimizer.momentum=0.9", "model.optimizer.momentum: not a setting"),  # Adam takes no momentum
        ("model.optim.injection_lr_scaling=bogus", "model.optim.injection_lr_scaling='bogus': use fan_in or none"),
    ],
)
def test_config_types_are_checked_against_their_consumers(compose_train, override, message):
    from mobilefaceswap.config import ConfigTypeError, check_value_types

    cfg = compose_train(override)
    with open_dict(cfg):
        del cfg.hydra  # what the job sees
    with pytest.raises(ConfigTypeError, match=re.escape(message)):
        check_value_types(cfg)


def test_nonfinite_loss_stops_with_one_line_after_checkpointing_the_last_finite_state(tmp_path, face_cache):
    result = run_mfs_train(
        "loss.lambda_rec=nan",
        "model.optim.max_nonfinite_steps=2",
        "trainer.max_steps=4",
        "~callbacks.swap_metrics",
        "hydra.run.dir=run",
        cwd=tmp_path,
        cache=face_cache,
    )
    assert result.returncode != 0
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert errors == [
        f"error: the generator loss was not finite at step 0 for 2 consecutive steps (loss.lambda_rec=nan); "
        f"the last finite state is checkpointed: {tmp_path / 'run' / 'checkpoints' / 'last.ckpt'}"
    ]
    assert "Traceback" not in result.stderr
    ckpt = last_checkpoint(tmp_path / "run")
    assert ckpt["global_step"] == 0 and any(k.startswith("student.") for k in ckpt["state_dict"])


def test_paper_profile_lists_every_missing_file_before_any_work(tmp_path, face_cache):
    weights, data = tmp_path / "weights", tmp_path / "data"
    paper = ["profile=paper", "trainer=cpu", f"paths.weights_dir={weights}", f"paths.data_dir={data}"]
    expected = {
        "teacher.pretrained": f"{weights}/simswap/latest_net_G.pth",
        "identity.pretrained": f"{weights}/arcface/irse_3_4_23_3.pth",
        "perceptual.pretrained": f"{weights}/vgg/vgg19-dcbb9e9d.pth",
        "face_parser.pretrained": f"{weights}/parsing/79999_iter.pth",
        "quality.pretrained": f"{weights}/quality/quality.pt",
        "data.cache": f"{data}/vggface2_arcface_224",
        "eval.cosface": f"{weights}/cosface/glint360k_cosface_r100.pth",
        "eval.hopenet": f"{weights}/hopenet/hopenet_robust_alpha1.pkl",
        "paths.inception": f"{weights}/inception/weights-inception-2015-12-05-6726825d.pth",
    }
    # One run, and the Table 2 sweep of make reproduce-table2 PROFILE=paper: stopped once, before any member.
    sweep = ["hydra.mode=MULTIRUN", "experiment=table2", "eval=ffpp", "ablation=full,adain"]  # evaluate=true: FF++ too
    for args, keys in ((["hydra.run.dir=run"], set(expected)), (sweep, {*expected, "eval.root"})):
        result = run_mfs_train(*paper, *args, cwd=tmp_path, cache=face_cache)
        assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr[-3000:]
        message = result.stderr[result.stderr.index(f"error: {len(keys)} file(s) this run needs are missing:") :].splitlines()
        listed = {line.split(":")[0].strip(): line for line in message[1:-1]}
        assert set(listed) == keys, message
        for key, path in expected.items():
            assert path in listed[key] and ("docs/weights.md" in listed[key] or "docs/data.md" in listed[key]), listed[key]
        assert "mfs prepare-data" in listed["data.cache"] and "hopenet_robust_alpha1.pkl" in listed["eval.hopenet"]
        assert message[-1] == "(eval.fallback=dlib runs without the paper's scorers: dlib's, and no FID)"
        assert not list(tmp_path.rglob("*.ckpt")) and not list(tmp_path.rglob("*.json"))
    # eval.fallback=dlib: the run may go on without the scorers; the networks and data are still needed.
    result = run_mfs_train(*paper, "hydra.run.dir=run", "eval.fallback=dlib", cwd=tmp_path, cache=face_cache)
    assert "error: 6 file(s) this run needs are missing:" in result.stderr and "eval.cosface" not in result.stderr
    result = run_mfs_train(*paper, "hydra.run.dir=run", "eval.fallback=none", cwd=tmp_path, cache=face_cache)
    assert "error: eval.fallback=none: use null (the paper's scorers are required) or dlib" in result.stderr
