"""The Table 2 sweep: members that fail are recorded, finished ones are skipped, the table is aggregated."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from mobilefaceswap.cli import main
from mobilefaceswap.table2 import collect, markdown, write_tables

MFS = Path(sys.executable).parent


def _write_eval(run_dir: Path, student_id: float, teacher_id: float = 95.0) -> None:
    run = {
        "profile": "smoke",
        "data": "embedded",
        "teacher": "simswap",
        "identity": "irse",
        "quality": "none",
        "steps": 3,
        "pairs": 8,
    }
    scores = {"id_retrieval": student_id, "pose_error": 2.0, "fid": None, "scored": 8}
    run_dir.mkdir(parents=True)
    (run_dir / "eval.json").write_text(
        json.dumps({"student": scores, "teacher": {**scores, "id_retrieval": teacher_id}, "run": run})
    )


def test_aggregation_reports_done_failed_and_missing_rows(tmp_path):
    _write_eval(tmp_path / "full/seed_42", 90.0)
    (tmp_path / "adain/seed_42").mkdir(parents=True)
    (tmp_path / "adain/seed_42/failed.json").write_text(json.dumps({"error": "RuntimeError: boom"}))
    records = {r["ablation"]: r for r in collect(tmp_path)}
    assert len(records) == 12
    assert records["full"]["status"] == "done" and records["full"]["id"] == 90.0 and records["full"]["paper_id"] == 95.98
    assert records["full"]["seeds"] == 1 and records["full"]["id_std"] is None
    assert records["teacher"]["id"] == 95.0  # scored in the full model's run
    assert records["adain"]["status"] == "failed: RuntimeError: boom" and records["adain"]["seeds"] == 0
    assert records["no_kd"]["status"] == "not run"
    md, table = write_tables(list(records.values()), tmp_path / "out")
    text = md.read_text()
    assert "| Ours | `full` | 90.00 / 95.98 | 2.00 / 1.32 | - / 6.79 | 1 | done |" in text
    assert "profile `smoke`" in text and "(row inferred)" in markdown(list(records.values()))
    header = "row,ablation,mapping,status,seeds,id,id_std,paper_id,pose,pose_std,paper_pose,fid,fid_std,paper_fid"
    assert table.read_text().splitlines()[0] == header


def test_several_seeds_give_mean_and_standard_deviation(tmp_path):
    for seed, student_id in ((0, 80.0), (1, 90.0), (2, 100.0)):
        _write_eval(tmp_path / f"full/seed_{seed}", student_id, teacher_id=95.0)
    (tmp_path / "no_kd/seed_0").mkdir(parents=True)
    (tmp_path / "no_kd/seed_0/failed.json").write_text(json.dumps({"error": "RuntimeError: boom"}))
    _write_eval(tmp_path / "no_kd/seed_1", 70.0)
    records = {r["ablation"]: r for r in collect(tmp_path)}
    full = records["full"]
    assert full["seeds"] == 3 and full["id"] == pytest.approx(90.0) and full["id_std"] == pytest.approx(10.0)
    assert full["pose_std"] == pytest.approx(0.0) and full["fid"] is None
    assert records["teacher"]["seeds"] == 3 and records["teacher"]["id_std"] == pytest.approx(0.0)
    assert records["no_kd"]["seeds"] == 1 and records["no_kd"]["status"] == "done 1 of 2 seeds; seed_0 failed: RuntimeError: boom"
    assert "| Ours | `full` | 90.00 ± 10.00 / 95.98 | 2.00 ± 0.00 / 1.32 | - / 6.79 | 3 | done |" in markdown(
        list(records.values())
    )


@pytest.mark.slow
def test_sweep_goes_on_after_a_failure_and_skips_finished_members(tmp_path, face_cache):
    env = dict(os.environ, WANDB_MODE="offline", PYTHONUNBUFFERED="1")
    args = [
        str(MFS / "mfs-train"),
        "-m",
        "experiment=table2",
        "profile=smoke",
        "ablation=no_kd",
        "trainer.max_steps=1",
        "logger=csv",
        f"paths.cache_dir={face_cache}",
        "callbacks.image_grid.every_n_steps=0",
        "hydra.sweep.subdir=${hydra.job.num}",
    ]
    results = tmp_path / "experiments/results/table2/smoke"
    # Member 1 fails (an invalid switch); member 0 still trains and is scored.
    first = subprocess.run(
        [*args, "model.net.pointwise=modulated,nonsense"], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert first.returncode == 0, first.stderr[-2000:]
    assert "pointwise='nonsense'" in json.loads((results / "1/failed.json").read_text())["error"]
    evaluation = json.loads((results / "0/eval.json").read_text())
    assert evaluation["student"]["scored"] > 0 and evaluation["run"]["ablation"] == "no_kd" and "teacher" not in evaluation
    # Rerun: the finished member is skipped, the failed one runs again and succeeds.
    second = subprocess.run(
        [*args, "model.net.pointwise=modulated,static"], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert second.returncode == 0, second.stderr[-2000:]
    assert (second.stdout + second.stderr).count("already finished, skipped") == 1
    assert not (results / "1/failed.json").exists() and (results / "1/finished.json").exists()


@pytest.mark.slow
def test_table2_command_needs_results(tmp_path):
    result = subprocess.run([str(MFS / "mfs"), "table2", "--results", str(tmp_path / "none")], capture_output=True, text=True)
    assert result.returncode != 0 and "no sweep results" in result.stderr


def test_an_emptier_sweep_does_not_replace_a_scored_table_without_force(tmp_path):
    _write_eval(tmp_path / "sweep/full/seed_42", 90.0)
    out, empty = tmp_path / "results", tmp_path / "empty"
    empty.mkdir()
    main(["table2", "--results", str(tmp_path / "sweep"), "--output", str(out)])
    before = {name: (out / name).read_bytes() for name in ("table2.md", "table2.csv")}
    with pytest.raises(SystemExit) as exit_:
        main(["table2", "--results", str(empty), "--output", str(out)])
    assert exit_.value.code == (
        f"mfs table2: error: {out / 'table2.csv'} has 2 scored rows and {empty} gives 0: "
        "it is left as it is (--force replaces it; another --output keeps both)"
    )
    assert {name: (out / name).read_bytes() for name in before} == before
    main(["table2", "--results", str(empty), "--output", str(out), "--force"])
    assert "not run" in (out / "table2.md").read_text() and (out / "table2.csv").read_bytes() != before["table2.csv"]


def test_without_q_the_quality_row_is_the_full_run(tmp_path, compose_train):
    from mobilefaceswap.train import same_run_as

    assert same_run_as(compose_train("ablation=no_quality_reweight"))["same_as"] == "full"  # quality=none
    assert same_run_as(compose_train("ablation=no_quality_reweight", "quality=resnet18")) is None
    assert same_run_as(compose_train("ablation=full")) is None
    scores = {"id_retrieval": 90.0, "pose_error": 2.0, "fid": None, "scored": 8}
    (tmp_path / "full" / "seed_42").mkdir(parents=True)
    (tmp_path / "full" / "seed_42" / "eval.json").write_text(json.dumps({"student": scores, "run": {}}))
    (tmp_path / "no_quality_reweight" / "seed_42").mkdir(parents=True)
    (tmp_path / "no_quality_reweight" / "seed_42" / "same_as.json").write_text(json.dumps({"same_as": "full", "reason": "no Q"}))
    row = {r["ablation"]: r for r in collect(tmp_path)}["no_quality_reweight"]
    assert row["id"] == 90.0 and row["seeds"] == 1 and row["status"] == "same run as `full`: no Q"
