"""``mfs dashboard``: the wandb workspace it builds, checked as objects and as the JSON it writes,
without a server; saving without credentials is one line."""

import os
import subprocess
import sys
from pathlib import Path

from wandb_workspaces.workspaces import Workspace, internal

from mobilefaceswap.dashboard import build_workspace

MFS = str(Path(sys.executable).parent / "mfs")
GROUP = "experiments/results/table2/smoke"


def panels_by_section(workspace) -> dict[str, list]:
    return {section.name: section.panels for section in workspace.sections}


def plotted(panel) -> list[str]:
    names = getattr(panel, "y", None) or getattr(panel, "metrics", None) or []
    return [getattr(metric, "name", metric) for metric in names]  # names as given, or Metric objects once loaded


def test_workspace_shows_table2_losses_curves_metrics_and_grids_of_one_sweep():
    workspace = build_workspace("team", "mobilefaceswap", GROUP)
    assert (workspace.entity, workspace.project, workspace.name) == ("team", "mobilefaceswap", f"Table 2: {GROUP}")
    sections = panels_by_section(workspace)
    assert list(sections) == ["Table 2", "Training losses", "Held-out curves", "Swap metrics", "Image grids"]
    table2 = sections["Table 2"]
    assert table2[0].table_name == "table2/table" and table2[1].media_keys == ["table2/figure"]
    bars = {plotted(p)[0] for p in table2[2:]}
    assert bars == {"table2/id_retrieval", "table2/pose_error", "table2/expression_error", "table2/fid"}
    assert all(p.groupby_aggfunc == "mean" and p.groupby_rangefunc == "stddev" for p in table2[2:])  # seeds pooled
    assert {"train/g", "train/d", "train/rec", "train/id"} <= {m for p in sections["Training losses"] for m in plotted(p)}
    assert "heldout/psnr" in {m for p in sections["Held-out curves"] for m in plotted(p)}
    assert "swap/id_retrieval" in {m for p in sections["Swap metrics"] for m in plotted(p)}
    assert [p.media_keys for p in sections["Image grids"]] == [["preview"], ["table2/learning_curve"]]
    runs = workspace.runset_settings
    assert runs.filters == f"Metric(\"Group\") == '{GROUP}'"  # the sweep's runs only
    assert [g.name for g in runs.groupby] == ["table2.ablation"]  # a group per row, its seeds pooled
    assert build_workspace("team", "p").runset_settings.filters == ""  # no group: every run


def test_dashboard_output_is_the_view_json_that_loads_back(tmp_path):
    result = subprocess.run([MFS, "dashboard", "--entity", "team", "--group", GROUP, "--output", str(tmp_path / "ws.json")],
                            capture_output=True, text=True)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"written: {tmp_path / 'ws.json'}"
    loaded = Workspace._from_model(internal.View.model_validate_json((tmp_path / "ws.json").read_text()))
    built = build_workspace("team", "mobilefaceswap", GROUP)
    assert {name: len(panels) for name, panels in panels_by_section(loaded).items()} == {
        name: len(panels) for name, panels in panels_by_section(built).items()
    }
    assert loaded.runset_settings.filters == built.runset_settings.filters


def test_saving_without_credentials_is_one_line(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("WANDB_")} | {"HOME": str(tmp_path)}
    result = subprocess.run([MFS, "dashboard", "--entity", "team", "--group", GROUP], capture_output=True, text=True, env=env)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("mfs dashboard: error: cannot save to wandb: No API key configured")
