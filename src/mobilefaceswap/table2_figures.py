"""Table 2 as a picture (``table2.png``: each metric, ours beside the paper's, the spread over
seeds) and in wandb (the table and the picture in one run of the sweep's group), for ``mfs table2``."""

import csv
import os
from pathlib import Path

from mobilefaceswap.learning.plot import save_figure
from mobilefaceswap.table2 import collect

METRICS = {
    "id": "identity retrieval % (higher is better)",
    "pose": "pose error (lower is better)",
    "fid": "FID (lower is better)",
}


def plot_table2(results_dir: str | Path, out_dir: str | Path) -> Path:
    """``out_dir/table2.png``: a panel per metric, a pair of bars per row (the paper's; ours, the
    mean over the seeds scored with ± one standard deviation); a row not scored has no bar of ours."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    records = collect(results_dir)
    rows = np.arange(len(records))
    fig, axes = plt.subplots(1, len(METRICS), figsize=(5 * len(METRICS), 1.5 + 0.4 * len(records)), sharey=True)
    for ax, (key, title) in zip(axes, METRICS.items()):
        ours = [np.nan if r[key] is None else r[key] for r in records]
        spread = [r[f"{key}_std"] or 0.0 for r in records]
        ax.barh(rows - 0.2, [r[f"paper_{key}"] for r in records], 0.4, color="0.7", label="paper")
        ax.barh(rows + 0.2, ours, 0.4, xerr=spread, capsize=2, color="C0", label="ours: mean ± std over seeds")
        ax.set_title(title, fontsize=10)
        ax.grid(axis="x", alpha=0.3)
    axes[0].set_yticks(rows, [f"{r['row']} ({r['seeds']} seeds)" for r in records], fontsize=8)
    axes[0].invert_yaxis()
    axes[0].legend(fontsize=7, loc="lower right")
    fig.suptitle(f"Table 2: {results_dir}", fontsize=9)
    return save_figure(fig, Path(out_dir) / "table2.png")


def log_to_wandb(table: Path, figure: Path, group: str, project: str) -> Path:
    """The table (its CSV, as a ``wandb.Table``) and the picture, logged to a run named ``table2``
    of ``group`` (the sweep folder, as its members' runs are grouped); offline unless
    ``WANDB_MODE`` says otherwise. Returns the run's folder (beside the table)."""
    import wandb

    with open(table, newline="") as f:
        header, *rows = list(csv.reader(f))
    mode = os.environ.get("WANDB_MODE", "offline")
    run = wandb.init(project=project, group=group, job_type="table2", name="table2", dir=table.parent, mode=mode)
    try:
        run.log({"table2/table": wandb.Table(columns=header, data=rows), "table2/figure": wandb.Image(str(figure))})
        return Path(run.dir).parent
    finally:
        run.finish()
