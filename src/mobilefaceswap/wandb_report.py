"""Table 2 in wandb: each member's scored row (its ``eval.json``) in the member's own run."""

import json
from pathlib import Path

from lightning.pytorch.loggers import WandbLogger

# Stable summary prefixes, so that a dashboard or a script finds every row's scores by name.
PREFIXES = {"student": "table2", "teacher": "table2/teacher"}
RUN_KEYS = ("profile", "ablation", "data", "teacher", "identity", "quality", "eval", "steps", "pairs")


def summary_entries(evaluation: dict) -> dict[str, float]:
    """eval.json's numbers as summary keys: ``table2/id_retrieval``, ``table2/pose_error``,
    ``table2/fid``, ..., the teacher's under ``table2/teacher/``. A missing score (FID without
    Inception weights) is left out rather than written as null."""
    entries = {}
    for who, prefix in PREFIXES.items():
        for metric, value in evaluation.get(who, {}).items():
            if isinstance(value, int | float) and not isinstance(value, bool):
                entries[f"{prefix}/{metric}"] = value
    return entries


def run_config(evaluation: dict) -> dict:
    """What the scores mean: the protocol, the scoring backends, and what the run used, under ``table2``."""
    run = evaluation.get("run", {})
    backends = {who: evaluation[who]["backends"] for who in PREFIXES if "backends" in evaluation.get(who, {})}
    return {"table2": {"protocol": run.get("protocol"), "backends": backends, **{k: run[k] for k in RUN_KEYS if k in run}}}


def report_row(loggers: list, run_dir: Path) -> None:
    """The row ``run_dir/eval.json`` holds, sent to each wandb logger's run: scores in the summary,
    protocol and backends in the config, ``learning_curve.png`` as the image ``table2/learning_curve``."""
    runs = [logger for logger in loggers if isinstance(logger, WandbLogger)]
    if not runs:
        return
    evaluation = json.loads((run_dir / "eval.json").read_text())
    curve = run_dir / "learning_curve.png"
    for logger in runs:
        logger.experiment.summary.update(summary_entries(evaluation))
        logger.experiment.config.update(run_config(evaluation), allow_val_change=True)
        if curve.is_file():
            logger.log_image("table2/learning_curve", [str(curve)])
