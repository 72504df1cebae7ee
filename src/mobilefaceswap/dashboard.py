"""``mfs dashboard``: the wandb workspace of a Table 2 sweep, built as code with ``wandb-workspaces``."""

from pathlib import Path

from mobilefaceswap.callbacks.learning_curve import LOGGED_KEYS
from mobilefaceswap.callbacks.swap_metrics import SCALARS
from mobilefaceswap.files import write_text_atomic

LOSS_TERMS = ("rec", "per", "id", "mask", "adv", "alpha")  # train/<term> of the generator (training/objective.py)
TABLE2_METRICS = ("id_retrieval", "pose_error", "expression_error", "fid")  # summary table2/<metric> (wandb_report.py)


def require_workspaces():
    try:
        import wandb_workspaces.reports.v2 as wr
        import wandb_workspaces.workspaces as ws
    except ImportError as err:
        raise RuntimeError(f"wandb-workspaces is not installed: pip install 'mobilefaceswap[dashboard]' ({err})") from None
    return ws, wr


def build_workspace(entity: str, project: str, group: str | None = None):
    """The workspace: sections of training losses, held-out curves, swap metrics, image grids and
    Table 2 (its table, its picture, a bar chart per metric); runs of ``group`` only (every run
    without), grouped by ablation with the seeds pooled (mean, ± standard deviation)."""
    ws, wr = require_workspaces()
    pooled = {"groupby_aggfunc": "mean", "groupby_rangefunc": "stddev"}
    sections = {
        "Table 2": [
            wr.WeavePanelSummaryTable(table_name="table2/table"),
            wr.MediaBrowser(title="Table 2, ours beside the paper's", media_keys=["table2/figure"]),
            *(wr.BarPlot(title=f"table2/{m}", metrics=[f"table2/{m}"], **pooled) for m in TABLE2_METRICS),
        ],
        "Training losses": [
            wr.LinePlot(title="generator and discriminator", y=["train/g", "train/d"], **pooled),
            wr.LinePlot(title="generator terms", y=[f"train/{term}" for term in LOSS_TERMS], **pooled),
        ],
        "Held-out curves": [wr.LinePlot(title=f"heldout/{key}", y=[f"heldout/{key}"], **pooled) for key in LOGGED_KEYS],
        "Swap metrics": [wr.LinePlot(title=f"swap/{key}", y=[f"swap/{key}"], **pooled) for key in SCALARS],
        "Image grids": [
            wr.MediaBrowser(title="source / target / teacher / student / mask", media_keys=["preview"]),
            wr.MediaBrowser(title="learning curve", media_keys=["table2/learning_curve"]),
        ],
    }
    runs = ws.RunsetSettings(
        filters=[ws.Metric("Group") == group] if group else "",
        groupby=[ws.Config("table2.ablation")],
        order=[ws.Ordering(ws.Metric("Name"))],
    )
    return ws.Workspace(
        entity=entity,
        project=project,
        name=f"Table 2: {group}" if group else "Table 2",
        sections=[ws.Section(name=name, panels=panels, is_open=True) for name, panels in sections.items()],
        runset_settings=runs,
    )


def write_workspace(workspace, path: str | Path) -> Path:
    """The workspace as the view JSON wandb stores (``wandb_workspaces.workspaces.internal.View``)."""
    return write_text_atomic(path, workspace._to_model().model_dump_json(indent=2, by_alias=True) + "\n")


def save_workspace(workspace) -> str:
    """Saved to wandb (needs credentials: ``wandb login`` or ``WANDB_API_KEY``); its URL."""
    import wandb

    try:
        return workspace.save().url
    except wandb.errors.UsageError as err:  # no API key
        raise RuntimeError(f"cannot save to wandb: {err} (or write the workspace to a file with --output)") from None
