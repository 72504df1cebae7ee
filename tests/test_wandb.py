"""What reaches wandb (offline runs read back from disk, no server): each Table 2 member's scored
row in its own run (the image grids: test_train_entry.py's smoke run)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from helpers import wandb_records


@pytest.mark.slow
def test_each_table2_member_reports_its_row_to_its_own_wandb_run(tmp_path, face_cache):
    result = subprocess.run(
        [str(Path(sys.executable).parent / "mfs-train"), "-m", "experiment=table2", "profile=smoke", "ablation=full,no_kd",
         "trainer.max_steps=1", "logger=csv_wandb", f"paths.cache_dir={face_cache}", "callbacks.image_grid.every_n_steps=0"],
        cwd=tmp_path, env=dict(os.environ, WANDB_MODE="offline", WANDB_SILENT="true"), capture_output=True, text=True,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    results = tmp_path / "experiments/results/table2/smoke"
    for ablation in ("full", "no_kd"):
        member = results / ablation / "seed_42"
        evaluation = json.loads((member / "eval.json").read_text())
        (run,) = member.glob("wandb/offline-run-*")  # its own run: the sweep's members do not share one
        stored = wandb_records(run)
        curve = "table2/learning_curve/"  # an image: wandb keeps its fields as keys under its name
        summary = {k: v for k, v in stored["summary"].items() if k.startswith("table2/") and not k.startswith(curve)}
        expected = {f"table2/{k}": v for k, v in evaluation["student"].items() if isinstance(v, int | float)}
        if ablation == "full":  # the teacher is scored in the full model's runs
            expected |= {f"table2/teacher/{k}": v for k, v in evaluation["teacher"].items() if isinstance(v, int | float)}
        assert {"table2/id_retrieval", "table2/pose_error", "table2/scored"} <= set(summary)
        assert summary == pytest.approx(expected)
        table2 = stored["config"]["table2"]
        assert table2["protocol"] == evaluation["run"]["protocol"] and table2["ablation"] == ablation
        assert table2["backends"]["student"] == evaluation["student"]["backends"]
        has_curve = (member / "learning_curve.png").is_file()  # no_kd has no teacher to draw it against
        assert stored["history"].get(curve + "_type") == (["images/separated"] if has_curve else None)
        assert has_curve == (ablation == "full")
        assert (member / "csv/version_0/metrics.csv").is_file()  # CSV as well


def test_table2_writes_its_picture_and_logs_table_and_picture_to_the_sweeps_group(tmp_path):
    sweep = tmp_path / "sweep"
    for seed, score in ((0, 80.0), (1, 90.0)):
        run = sweep / f"full/seed_{seed}"
        run.mkdir(parents=True)
        scores = {"id_retrieval": score, "pose_error": 2.0 + seed, "fid": None, "scored": 8}
        evaluation = {"student": scores, "teacher": scores, "run": {"profile": "smoke", "protocol": {"name": "validation"}}}
        (run / "eval.json").write_text(json.dumps(evaluation))
    out = tmp_path / "results"
    env = dict(os.environ, WANDB_MODE="offline", WANDB_SILENT="true")
    result = subprocess.run([str(Path(sys.executable).parent / "mfs"), "table2", "--results", str(sweep), "--output", str(out),
                             "--wandb"], capture_output=True, text=True, env=env)  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    picture = np.asarray(Image.open(out / "table2.png").convert("RGB"))
    assert picture.shape[1] >= 1000 and picture.std() > 10  # three panels, drawn
    (run,) = out.glob("wandb/offline-run-*")
    assert f"wandb run: {run}" in result.stderr
    stored = wandb_records(run)
    assert stored["run"] == {"name": "table2", "group": str(sweep), "job_type": "table2"}  # the members' group
    history = stored["history"]
    assert history["table2/table/_type"] == ["table-file"] and history["table2/figure/_type"] == ["image-file"]
    (stored_table,) = run.glob("files/media/table/table2/table_*.table.json")
    table = json.loads(stored_table.read_text())
    assert table["columns"][:2] == ["row", "ablation"] and len(table["data"]) == 12  # every printed row
    full = next(row for row in table["data"] if row[1] == "full")
    assert float(full[table["columns"].index("id")]) == pytest.approx(85.0)
