"""Learning curves as a PNG (matplotlib, no display needed)."""

from pathlib import Path

from mobilefaceswap.files import write_atomic


def plot_curves(path: str | Path, steps: list[int], panels: dict[str, dict[str, list[float]]], title: str = "") -> Path:
    """One panel per entry of ``panels`` (its title -> {line label -> values at ``steps``})."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 4), squeeze=False)
    for ax, (name, lines) in zip(axes[0], panels.items()):
        for label, values in lines.items():
            ax.plot(steps, values, marker="o", markersize=3, label=label)
        ax.set_title(name)
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
        if len(lines) > 1:
            ax.legend(fontsize=7)
        if name.endswith("(log)"):
            ax.set_yscale("log")
    if title:
        fig.suptitle(title, fontsize=9)
    return save_figure(fig, path)


def save_figure(fig, path: str | Path) -> Path:
    """Lay out ``fig``, write it as a PNG atomically, and close it."""
    import matplotlib.pyplot as plt

    fig.tight_layout()
    try:
        return write_atomic(path, lambda tmp: fig.savefig(tmp, dpi=100, format="png"))
    finally:
        plt.close(fig)
