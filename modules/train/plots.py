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
             ("val_vacated_psnr", "val PSNR, vacated region (dB)"),
             ("copy_psnr", "copying frame 0"), ("copy_moving_psnr", "copying frame 0, moving pixels"),
             ("copy_vacated_psnr", "copying frame 0, vacated region")),
    "silhouette": (("val_silhouette_iou", "val dancer-silhouette IoU"),
                   ("copy_silhouette_iou", "copying frame 0")),
    "beta": (("beta", "KL weight beta"),),
    "tfr": (("tfr", "teacher-forcing ratio"), ("teacher_forcing", "teacher-forced share of steps")),
}
# The PNG files and the CURVES each draws, side by side (the IoU, in [0, 1], beside the PSNRs in dB).
FIGURES = {"loss": ("loss",), "psnr": ("psnr", "silhouette"), "beta": ("beta",), "tfr": ("tfr",)}
# Copy-frame-0 baselines: grey, one line style per metric.
COPY_STYLES = {"copy_psnr": ":", "copy_moving_psnr": "--", "copy_vacated_psnr": "-.", "copy_silhouette_iou": "--"}


def draw_curve(ax, rows, series, title):
    """Each (column, label) of ``series`` against the epoch on ``ax``, at the epochs that hold a value
    (older runs lack some columns; with --val_every, epochs between validations have no val figures)."""
    drawn = []
    for column, label in series:
        kept = [r for r in rows if r.get(column, math.nan) == r.get(column, math.nan)]  # not NaN
        if not kept:
            continue
        drawn.append(column)
        if column in COPY_STYLES:  # a baseline: a grey line
            style = dict(linestyle=COPY_STYLES[column], color="grey")
        else:
            style = dict(marker="o", markersize=3)
        ax.plot([r["epoch"] for r in kept], [r[column] for r in kept], label=label, **style)
    ax.set_xlabel("epoch")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    if drawn:
        ax.legend(fontsize=8)
    else:
        ax.text(0.5, 0.5, "not in metrics.csv yet", ha="center", va="center", transform=ax.transAxes)


def plot_curve(rows, names, path):
    """One figure, one panel per CURVES entry of ``names``."""
    fig, axes = plt.subplots(1, len(names), figsize=(6 * len(names), 3.5), squeeze=False)
    for ax, name in zip(axes[0], names):
        draw_curve(ax, rows, CURVES[name], name)
    fig.tight_layout()
    save_figure(fig, path, dpi=100)
    plt.close(fig)


def plot_training_curves(metrics_csv, out_dir):
    """Draw loss.png, psnr.png (with the silhouette IoU beside), beta.png, tfr.png from ``metrics_csv``
    into ``out_dir``."""
    rows = read_metrics(metrics_csv)
    if not rows:
        return []
    out_dir = Path(out_dir)
    paths = []
    for name, panels in FIGURES.items():
        path = out_dir / f"{name}.png"
        plot_curve(rows, panels, path)
        paths.append(path)
    return paths
