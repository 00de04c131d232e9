"""Training curves drawn from a run's metrics file (nothing is recomputed)."""
import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from ..io import save_figure  # noqa: E402
from .runlog import read_metrics  # noqa: E402

CURVES = {
    "loss": (("train_loss", "train loss"), ("val_loss", "val loss (rollout MSE)")),
    "psnr": (("val_psnr", "val PSNR (dB)"), ("val_moving_psnr", "val PSNR, moving pixels (dB)"),
             ("copy_psnr", "copying frame 0"), ("copy_moving_psnr", "copying frame 0, moving pixels")),
    "beta": (("beta", "KL weight beta"),),
    "tfr": (("tfr", "teacher-forcing ratio"), ("teacher_forcing", "teacher-forced share of steps")),
}


def plot_curve(rows, series, path, title):
    """One figure: each (column, label) of ``series`` against the epoch."""
    fig, ax = plt.subplots(figsize=(6, 3.5))
    for column, label in series:
        kept = [r for r in rows if r.get(column, math.nan) == r.get(column, math.nan)]  # not NaN / not written
        if not kept:  # a column an older run did not write, or no validated epoch yet
            continue
        if column.startswith("copy_"):  # a baseline: a grey line
            style = dict(linestyle=":" if column == "copy_psnr" else "--", color="grey")
        else:
            style = dict(marker="o", markersize=3)
        ax.plot([r["epoch"] for r in kept], [r[column] for r in kept], label=label, **style)
    ax.set_xlabel("epoch")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    if ax.lines:  # none before the first validated epoch (--val_every)
        ax.legend()
    fig.tight_layout()
    save_figure(fig, path, dpi=100)
    plt.close(fig)


def plot_training_curves(metrics_csv, out_dir):
    """Draw loss.png, psnr.png, beta.png, tfr.png from ``metrics_csv`` into ``out_dir``."""
    rows = read_metrics(metrics_csv)
    if not rows:
        return []
    out_dir = Path(out_dir)
    paths = []
    for name, series in CURVES.items():
        path = out_dir / f"{name}.png"
        plot_curve(rows, series, path, name)
        paths.append(path)
    return paths
