"""The learning curve over seeds: read back, summarised, checked against the criteria, plotted."""

import json

import pytest

from mobilefaceswap.learning.over_seeds import aggregate_seeds, read_seeds, summarise


def _point(step, l1, seen_effect, seen_corr, heldout_corr, scale):
    return {"step": step, "l1": l1, "psnr": 30.0, "source_correlation": heldout_corr, "student_source_effect": 0.01,
            "teacher_source_effect": 0.02, "seen_source_correlation": seen_corr, "seen_student_source_effect": seen_effect,
            "seen_teacher_source_effect": 0.1, "pairs": 6, "activation_scale": {"encoder.0": 1.0, "decoder.3": scale}}


def _write_seed(root, seed, final_effect, final_corr, heldout_corr, scale):
    history = [_point(0, 0.25, 0.001, 0.0, 0.0, scale), _point(100, 0.03, final_effect, final_corr, heldout_corr, 3.0)]
    (root / f"seed_{seed}").mkdir(parents=True)
    (root / f"seed_{seed}" / "learning_curve.json").write_text(json.dumps({"history": history}))


def test_every_criterion_is_read_from_the_seeds(tmp_path):
    for seed in range(3):
        _write_seed(tmp_path, seed, final_effect=0.08, final_corr=0.9, heldout_corr=0.6, scale=10.0)
    summary = summarise(read_seeds(tmp_path))
    assert summary["spread"]["effect_ratio"]["mean"] == pytest.approx(0.8)
    assert summary["spread"]["seen_correlation"]["std"] == pytest.approx(0.0)
    assert all(summary["checks"].values()) and summary["steps"] == 100


@pytest.mark.parametrize(
    "bad_seed, failed",
    [
        ({"final_effect": 0.01}, "source effect"),  # 0.1 of the teacher's
        ({"final_corr": 0.3}, "training sources"),
        ({"scale": 300.0}, "activation scale"),  # at step 0 only: the whole run counts
    ],
)
def test_one_bad_seed_fails_its_criterion(tmp_path, bad_seed, failed):
    good = {"final_effect": 0.08, "final_corr": 0.9, "heldout_corr": 0.6, "scale": 10.0}
    for seed in range(4):
        _write_seed(tmp_path, seed, **good)
    _write_seed(tmp_path, 7, **{**good, **bad_seed})
    checks = summarise(read_seeds(tmp_path))["checks"]
    assert [name for name, met in checks.items() if not met] == [n for n in checks if failed in n]


def test_the_heldout_criterion_is_on_the_mean(tmp_path):
    for seed, corr in enumerate([0.9, 0.2, 0.3]):  # mean 0.47
        _write_seed(tmp_path, seed, final_effect=0.08, final_corr=0.9, heldout_corr=corr, scale=10.0)
    checks = summarise(read_seeds(tmp_path))["checks"]
    assert [n for n, met in checks.items() if not met] == [n for n in checks if "held-out" in n]


def test_aggregate_writes_table_csv_and_plot(tmp_path):
    for seed in (0, 1):
        _write_seed(tmp_path / "sweep", seed, final_effect=0.08, final_corr=0.9, heldout_corr=0.6, scale=10.0)
    aggregate_seeds(tmp_path / "sweep", tmp_path / "out")
    table = (tmp_path / "out" / "learning_curves.md").read_text()
    assert "| 0 |" in table and "| 1 |" in table and "mean ± std" in table
    assert (tmp_path / "out" / "learning_curves.csv").read_text().splitlines()[0].startswith("seed,l1_start")
    assert (tmp_path / "out" / "learning_curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_no_seed_folder_is_one_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="no seed_"):
        read_seeds(tmp_path)


def test_mfs_learning_curves_prints_the_table_and_json(tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    for seed in (0, 1):
        _write_seed(tmp_path / "sweep", seed, final_effect=0.08, final_corr=0.9, heldout_corr=0.6, scale=10.0)
    mfs = str(Path(sys.executable).parent / "mfs")
    shown = subprocess.run([mfs, "learning-curves", "--results", str(tmp_path / "sweep")], capture_output=True, text=True)
    assert shown.returncode == 0 and "mean ± std" in shown.stdout
    assert (tmp_path / "sweep" / "learning_curves.png").is_file()
    as_json = subprocess.run([mfs, "learning-curves", "--results", str(tmp_path / "sweep"), "--output", str(tmp_path / "o"),
                              "--json"], capture_output=True, text=True)
    assert json.loads(as_json.stdout)["checks"] and (tmp_path / "o" / "learning_curves.md").is_file()
    missing = subprocess.run([mfs, "learning-curves", "--results", str(tmp_path / "none")], capture_output=True, text=True)
    assert missing.returncode == 1 and missing.stderr.startswith("mfs learning-curves: error: no seed_")


def test_source_coverage_counts_the_held_out_deviation_inside_the_pools_directions():
    import importlib.util

    import numpy as np

    from helpers import REPO

    spec = importlib.util.spec_from_file_location("source_coverage", REPO / "scripts/source_coverage.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    rng = np.random.default_rng(0)
    pool = np.zeros((50, 6))
    pool[:, :2] = rng.normal(size=(50, 2))  # the pool varies in directions 0 and 1 only
    held_out = np.array([[1.0, 2, 0, 0, 0, 0], [0, 0, 3, 0, 0, 0], [1, 0, 1, 0, 0, 0]])
    k, inside = module.coverage(pool, held_out, centre=np.zeros(6))
    assert k == 2 and inside == [1.0, 0.0, 0.5]
