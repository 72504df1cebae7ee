"""The quality regressor Q: its training set from teacher checkpoints, and training it."""

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from hydra.utils import instantiate

from mobilefaceswap.data.quality_set import build_quality_set
from mobilefaceswap.models.quality import QualityRegressor

BIN = Path(sys.executable).parent


@pytest.mark.slow
def test_build_quality_set_from_teacher_checkpoints(tmp_path, face_cache, compose_train):
    tiny_teacher = ("teacher.net.base_channels=8", "teacher.net.n_blocks=2")  # checkpoints given: smoke keeps their architecture
    cfg = compose_train("profile=smoke", *tiny_teacher)
    folder = tmp_path / "checkpoints"
    folder.mkdir()
    for iteration in (1000, 3000):  # SimSwap's naming: <iteration>_net_G.pth
        torch.manual_seed(iteration)
        torch.save(instantiate(cfg.teacher.net).state_dict(), folder / f"{iteration}_net_G.pth")
    (folder / "latest_net_G.pth").write_bytes(b"")  # no iteration in its name: not a milestone
    command = [
        str(BIN / "mfs"),
        "build-quality-set",
        "--checkpoints",
        str(folder),
        "--out",
        str(tmp_path / "set"),
        "--pairs",
        "3",
        "--total-iterations",
        "4000",
        "--quiet",
        "profile=smoke",
        *tiny_teacher,
        f"paths.cache_dir={face_cache}",
    ]
    result = subprocess.run(command, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    with open(tmp_path / "set/labels.csv") as f:
        rows = list(csv.DictReader(f))
    assert [(r["iteration"], r["fraction"]) for r in rows] == [("1000", "0.25"), ("3000", "0.75")]
    early, late = (np.load(tmp_path / "set" / r["file"]) for r in rows)
    assert early.shape == (3, 224, 224, 3) and early.dtype == np.uint8 and not np.array_equal(early, late)
    stamp = (tmp_path / "set" / rows[0]["file"]).stat().st_mtime_ns
    assert subprocess.run(command, capture_output=True, text=True).returncode == 0
    assert (tmp_path / "set" / rows[0]["file"]).stat().st_mtime_ns == stamp  # done checkpoints are kept


@pytest.mark.slow
def test_q_learns_that_later_checkpoints_are_better(tmp_path, face_cache):
    """A teacher whose outputs get less noisy as it trains: Q must rank held-out checkpoints."""
    with np.load(face_cache / "embedded_faces_arcface_224.npz") as data:
        faces = np.concatenate([data["faces"], data["faces"][:, :, ::-1]])  # 16 images
    checkpoints = [(i * 1000, Path(f"{i * 1000}_net_G.pth")) for i in range(1, 11)]

    def generate(path: Path) -> np.ndarray:
        fraction = int(path.name.split("_")[0]) / 10000
        noise = np.random.default_rng(int(fraction * 100)).normal(0, 80 * (1 - fraction) + 5, faces.shape)
        return np.clip(faces + noise, 0, 255).astype(np.uint8)

    build_quality_set(checkpoints, generate, tmp_path / "set", progress=False)
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    result = subprocess.run(
        [
            str(BIN / "mfs-train-quality"),
            f"data.root={tmp_path / 'set'}",
            "data.input_size=48",
            "data.batch_size=16",
            "data.num_workers=0",
            "trainer.max_steps=70",
            "model.optimizer.lr=1e-3",
            f"hydra.run.dir={tmp_path / 'run'}",
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    scores = json.loads((tmp_path / "run/quality_eval.json").read_text())
    assert scores["val_images"] == 3 * 16 and scores["spearman"] > 0.5, scores
    curve = json.loads((tmp_path / "run/quality_curve.json").read_text())["history"]
    assert len(curve) >= 5 and [h["step"] for h in curve] == sorted({h["step"] for h in curve})
    assert curve[-1]["val/spearman"] == pytest.approx(scores["spearman"]) and curve[-1]["step"] == scores["steps"]
    assert (tmp_path / "run/quality_curve.png").is_file()
    regressor = QualityRegressor()
    regressor.load_state_dict(torch.load(tmp_path / "run/quality.pt", weights_only=True))  # what quality.pretrained reads


@pytest.mark.slow
def test_checkpoints_need_iterations(tmp_path):
    (tmp_path / "latest_net_G.pth").write_bytes(b"")
    result = subprocess.run(
        [str(BIN / "mfs"), "build-quality-set", "--checkpoints", str(tmp_path), "--out", str(tmp_path / "o")],
        capture_output=True,
        text=True,
    )
    assert result.returncode != 0 and "at least two teacher checkpoints" in result.stderr


@pytest.mark.slow
def test_trained_q_plugs_into_the_reweighting(tmp_path, compose_train, face_cache):
    from mobilefaceswap.data import EmbeddedFacesDataModule
    from mobilefaceswap.training.fitting import build

    torch.manual_seed(0)
    saved = QualityRegressor().state_dict()
    torch.save(saved, tmp_path / "quality.pt")
    module = build(compose_train("profile=smoke", "quality=resnet18", f"quality.pretrained={tmp_path / 'quality.pt'}").model)
    assert all(torch.equal(v, saved[k]) for k, v in module.frozen["quality"].state_dict().items())
    data = EmbeddedFacesDataModule(cache_dir=str(face_cache), size=224, batch_size=4, augment=False)
    data.setup("fit")
    batch = next(iter(data.train_dataloader()))
    with torch.no_grad():
        targets = module.distillation_targets(batch)
        quality = module.frozen["quality"](targets.reference_image)
    module.loss_cfg.reweight_identity = False  # alpha is then Q alone
    assert torch.allclose(module.distillation_targets(batch).alpha, quality)


@pytest.mark.slow
def test_q_training_stopped_by_ctrl_c_is_one_line_and_exit_130(tmp_path, face_cache):
    with np.load(face_cache / "embedded_faces_arcface_224.npz") as data:
        faces = data["faces"]
    checkpoints = [(i * 1000, Path(f"{i * 1000}_net_G.pth")) for i in range(1, 11)]
    build_quality_set(checkpoints, lambda path: faces, tmp_path / "set", progress=False)
    run = tmp_path / "run"
    process = subprocess.Popen(
        [str(BIN / "mfs-train-quality"), f"data.root={tmp_path / 'set'}", "data.input_size=48", "data.batch_size=4",
         "data.num_workers=0", "trainer.max_steps=100000", f"hydra.run.dir={run}"],
        cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    deadline = time.monotonic() + 120
    while not (run / ".hydra/config.yaml").exists() and time.monotonic() < deadline:  # the run has started
        time.sleep(0.5)
    time.sleep(5)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr[-3000:]
    assert stderr.strip().splitlines()[-1].startswith("mfs-train-quality: interrupted (Ctrl-C): stopped before quality.pt")
    assert "Traceback" not in stderr and not (run / "quality.pt").exists()
