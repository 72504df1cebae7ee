"""The learning curve over seeds: every seed's ``learning_curve.json`` read back, the figures that
say whether the student carries the source identity, their mean and spread, and one plot.

A sweep ``mfs-train -m experiment=learning_curve seed=0,1,2,3,4`` writes one folder per seed
(``seed_<seed>/learning_curve.json``); :func:`aggregate_seeds` turns them into
``learning_curves.md``, ``.csv`` and ``.png``.
"""

import csv
import io
import json
import statistics
from pathlib import Path

from mobilefaceswap.files import write_text_atomic
from mobilefaceswap.learning.plot import save_figure

# What a face swapper must do on every seed, at the end of training (ours: the criteria).
MIN_EFFECT_RATIO = 0.5  # student's source effect / teacher's, training sources on held-out targets
MIN_SEEN_CORRELATION = 0.7  # per seed, training sources
MIN_MEAN_HELDOUT_CORRELATION = 0.5  # mean over seeds, held-out sources
MAX_ACTIVATION_SCALE = 50.0  # every stage, every point of the curve, step 0 included

# Column -> (heading, how it reads one seed's history).
FINAL_FIGURES = {
    "l1_start": ("held-out L1, step 0", lambda h: h[0]["l1"]),
    "l1_end": ("held-out L1, end", lambda h: h[-1]["l1"]),
    "effect_ratio": ("source effect / teacher's (training sources)", lambda h: effect_ratio(h[-1])),
    "seen_correlation": ("correlation, training sources", lambda h: h[-1]["seen_source_correlation"]),
    "heldout_correlation": ("correlation, held-out sources", lambda h: h[-1]["source_correlation"]),
    "max_activation_scale": ("largest activation scale (whole run)", lambda h: max(largest_scale(p) for p in h)),
}


def effect_ratio(point: dict) -> float:
    """What the source changes in the student's output over what it changes in the teacher's."""
    return point["seen_student_source_effect"] / max(point["seen_teacher_source_effect"], 1e-12)


def largest_scale(point: dict) -> float:
    return max(point["activation_scale"].values())


def read_seeds(results_dir: str | Path) -> dict[int, list[dict]]:
    """Seed -> its curve's points, from ``results_dir/seed_<seed>/learning_curve.json``."""
    runs = {}
    for path in sorted(Path(results_dir).glob("seed_*/learning_curve.json")):
        runs[int(path.parent.name.removeprefix("seed_"))] = json.loads(path.read_text())["history"]
    if not runs:
        raise FileNotFoundError(f"no seed_*/learning_curve.json under {results_dir}")
    return dict(sorted(runs.items()))


def summarise(runs: dict[int, list[dict]]) -> dict:
    """Each seed's final figures, their mean and standard deviation, and the criteria checked."""
    per_seed = {seed: {key: read(history) for key, (_, read) in FINAL_FIGURES.items()} for seed, history in runs.items()}
    spread = {}
    for key in FINAL_FIGURES:
        values = [figures[key] for figures in per_seed.values()]
        spread[key] = {"mean": statistics.fmean(values), "std": statistics.stdev(values) if len(values) > 1 else 0.0}
    checks = {
        f"every seed: source effect >= {MIN_EFFECT_RATIO} x the teacher's": all(
            f["effect_ratio"] >= MIN_EFFECT_RATIO for f in per_seed.values()
        ),
        f"every seed: correlation with training sources >= {MIN_SEEN_CORRELATION}": all(
            f["seen_correlation"] >= MIN_SEEN_CORRELATION for f in per_seed.values()
        ),
        f"mean over seeds: correlation with held-out sources >= {MIN_MEAN_HELDOUT_CORRELATION}": (
            spread["heldout_correlation"]["mean"] >= MIN_MEAN_HELDOUT_CORRELATION
        ),
        f"every seed, every point: activation scale <= {MAX_ACTIVATION_SCALE:g}": all(
            f["max_activation_scale"] <= MAX_ACTIVATION_SCALE for f in per_seed.values()
        ),
    }
    return {"seeds": per_seed, "spread": spread, "checks": checks, "steps": runs[next(iter(runs))][-1]["step"]}


def markdown(summary: dict) -> str:
    keys = list(FINAL_FIGURES)
    head = "| seed | " + " | ".join(FINAL_FIGURES[k][0] for k in keys) + " |"
    lines = [f"# The learning curve over {len(summary['seeds'])} seeds ({summary['steps']} steps)", "", head]
    lines.append("|" + "---|" * (len(keys) + 1))
    for seed, figures in summary["seeds"].items():
        lines.append(f"| {seed} | " + " | ".join(f"{figures[k]:.3g}" for k in keys) + " |")
    spread = summary["spread"]
    lines.append("| mean ± std | " + " | ".join(f"{spread[k]['mean']:.3g} ± {spread[k]['std']:.2g}" for k in keys) + " |")
    lines += ["", "| criterion | met |", "|---|---|"]
    lines += [f"| {name} | {'yes' if met else '**no**'} |" for name, met in summary["checks"].items()]
    return "\n".join(lines) + "\n"


def csv_text(summary: dict) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["seed", *FINAL_FIGURES])
    for seed, figures in summary["seeds"].items():
        writer.writerow([seed, *(f"{figures[k]:.6g}" for k in FINAL_FIGURES)])
    return out.getvalue()


# Panel title -> how one point of a curve is read.
CURVE_PANELS = {
    "held-out L1 to the teacher": lambda p: p["l1"],
    "source effect / teacher's (training sources)": effect_ratio,
    "correlation, training sources": lambda p: p["seen_source_correlation"],
    "correlation, held-out sources": lambda p: p["source_correlation"],
    "largest activation scale (log)": largest_scale,
}


def plot_seeds(path: str | Path, runs: dict[int, list[dict]]) -> Path:
    """One panel per curve: every seed thin, their mean bold with ± one standard deviation shaded."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    fig, axes = plt.subplots(1, len(CURVE_PANELS), figsize=(4.2 * len(CURVE_PANELS), 3.6))
    steps = [p["step"] for p in next(iter(runs.values()))]
    for ax, (title, read) in zip(axes, CURVE_PANELS.items()):
        curves = np.array([[read(p) for p in history[: len(steps)]] for history in runs.values()])
        for seed, curve in zip(runs, curves):
            ax.plot(steps, curve, linewidth=0.8, alpha=0.5, label=f"seed {seed}")
        mean, std = curves.mean(0), curves.std(0)
        ax.plot(steps, mean, color="black", linewidth=2, label="mean")
        ax.fill_between(steps, mean - std, mean + std, color="black", alpha=0.12)
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
        if title.endswith("(log)"):
            ax.set_yscale("log")
    axes[0].legend(fontsize=6)
    fig.suptitle(f"student vs teacher over {len(runs)} seeds", fontsize=10)
    return save_figure(fig, path)


def aggregate_seeds(results_dir: str | Path, out_dir: str | Path) -> dict:
    """``learning_curves.md``, ``.csv`` and ``.png`` in ``out_dir`` from a sweep's seed folders."""
    runs = read_seeds(results_dir)
    summary = summarise(runs)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    write_text_atomic(out_dir / "learning_curves.md", markdown(summary))
    write_text_atomic(out_dir / "learning_curves.csv", csv_text(summary))
    plot_seeds(out_dir / "learning_curves.png", runs)
    return summary
