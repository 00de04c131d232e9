"""The comparison of an experiment's runs: overlaid plots and a Markdown table.

Everything here reads files only (``experiment.json``, each run's ``metrics.csv`` and
``best_eval.json``), so it can be redrawn alone: ``python experiments.py --plot_only``.
"""
import json
import math
import shlex
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from ..io import save_figure, write_text  # noqa: E402
from ..train.runlog import read_metrics  # noqa: E402
from .layout import EVAL_FILE, FAILED_FILE, Plan, run_dir  # noqa: E402

RESULTS_FILE = "results.md"
# (file suffix, panel title, y label, what to draw): "metric:<column>" reads metrics.csv per epoch,
# "per_frame" reads best_eval.json per frame.
PANELS = (
    ("train_loss", "train loss (recon + beta KL)", "loss", "metric:train_loss"),
    ("val_loss", "val loss (rollout MSE)", "MSE", "metric:val_loss"),
    ("val_psnr", "val PSNR per epoch", "dB", "metric:val_psnr"),
    ("val_moving_psnr", "val PSNR of the moving pixels per epoch", "dB", "metric:val_moving_psnr"),
    ("val_vacated_psnr", "val PSNR of the vacated region per epoch", "dB", "metric:val_vacated_psnr"),
    ("val_silhouette_iou", "val dancer-silhouette IoU per epoch", "IoU", "metric:val_silhouette_iou"),
    ("beta", "KL weight beta", "beta", "metric:beta"),
    ("tfr", "teacher forcing (line: ratio, dots: forced share)", "ratio", "metric:tfr"),
    ("psnr_per_frame", "per-frame PSNR, best checkpoint", "dB", "per_frame"),
)
_STYLES = ("-", "--", "-.", ":")
_MARKERS = ("o", "s", "^", "D", "v", "x")


def load_run(out, name):
    """{"rows": metrics rows, "eval": best_eval.json contents or None} of run ``name``."""
    folder = run_dir(out, name)
    eval_path = folder / EVAL_FILE
    return {"rows": read_metrics(folder / "metrics.csv"),
            "eval": json.loads(eval_path.read_text()) if eval_path.is_file() else None,
            "failed": (folder / FAILED_FILE).is_file()}


def _style(index):
    return dict(color=f"C{index % 10}", linestyle=_STYLES[index % len(_STYLES)],
                marker=_MARKERS[index % len(_MARKERS)])


def draw_panel(ax, panel, runs, colours):
    """Overlay one quantity of every run of ``runs`` ({name: run data}) on ``ax``."""
    _, title, ylabel, what = panel
    for name, run in runs.items():
        style = _style(colours[name])
        if what == "per_frame":
            if not run["eval"]:
                continue
            values = run["eval"]["psnr_per_frame"]
            ax.plot(range(1, len(values) + 1), values, label=name, color=style["color"],
                    linestyle=style["linestyle"], linewidth=1)
            ax.set_xlabel("frame index")
            continue
        column = what.split(":", 1)[1]
        rows = run["rows"]
        if not rows:
            continue
        epochs = [r["epoch"] + 1 for r in rows]
        ax.plot(epochs, [r.get(column, math.nan) for r in rows], label=name, markersize=3, **style)
        if column == "tfr":
            ax.plot(epochs, [r["teacher_forcing"] for r in rows], linestyle="none", marker=style["marker"],
                    markersize=6, markerfacecolor="none", color=style["color"])
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        if column == "train_loss" and all(r[column] > 0 for r in rows):  # beta * KL can dwarf recon
            ax.set_yscale("log")
    ax.set_title(title, fontsize=10)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)


def plot_comparison(name, runs, colours, out):
    """``<out>/<name>.png`` (all panels) and ``<out>/<name>_<panel>.png`` (one each). Returns the paths."""
    out = Path(out)
    paths = []
    fig, axes = plt.subplots(3, 3, figsize=(14, 9.5))
    for ax, panel in zip(axes.flat, PANELS):
        draw_panel(ax, panel, runs, colours)
    for ax in axes.flat[len(PANELS):]:
        ax.set_visible(False)
    handles, labels = axes.flat[2].get_legend_handles_labels()
    fig.legend(handles, labels, loc="upper center", ncol=min(len(labels), 6) or 1, frameon=False)
    fig.suptitle(name, y=0.995, fontsize=11, x=0.02, ha="left")
    fig.tight_layout(rect=(0, 0, 1, 0.96))
    paths.append(out / f"{name}.png")
    save_figure(fig, paths[-1], dpi=80)
    plt.close(fig)
    for panel in PANELS:
        fig, ax = plt.subplots(figsize=(6, 3.5))
        draw_panel(ax, panel, runs, colours)
        ax.legend(fontsize=8)
        fig.tight_layout()
        paths.append(out / f"{name}_{panel[0]}.png")
        save_figure(fig, paths[-1], dpi=90)
        plt.close(fig)
    return paths


def summarize(run):
    """Table numbers of one run from its files: epochs, final and best val PSNR (and its 1-based
    epoch), Kaggle-style PSNR, SSIM, the moving- and vacated-region PSNRs and the silhouette IoU of the
    best checkpoint (None where an older best_eval.json lacks them), wall time (sum of ``seconds``)."""
    rows, ev = run["rows"], run["eval"] or {}
    if not rows:
        return None
    best = max(rows, key=lambda r: r["val_psnr"])
    return {"epochs": len(rows), "final_psnr": rows[-1]["val_psnr"], "best_psnr": best["val_psnr"],
            "best_epoch": best["epoch"] + 1, "kaggle_psnr": ev.get("kaggle_psnr"), "ssim": ev.get("ssim"),
            **{k: ev.get(k) for k in ("moving_psnr", "vacated_psnr", "silhouette_iou", "copy_psnr", "copy_moving_psnr",
                                      "copy_vacated_psnr", "copy_silhouette_iou")},
            "seconds": sum(r["seconds"] for r in rows)}


def _number(value, digits):
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{value:.{digits}f}"


def _duration(seconds):
    return f"{seconds:.0f} s" if seconds < 60 else f"{seconds / 60:.1f} min"


TABLE_HEADER = ("run", "final val PSNR (dB)", "best val PSNR (dB)", "best epoch", "moving-pixel PSNR (dB)",
                "vacated-region PSNR (dB)", "silhouette IoU", "Kaggle-style PSNR (dB)", "SSIM", "epochs",
                "wall time", "settings")


def results_table(plan, runs):
    """The Markdown table: one row per setting of ``plan``, in its order."""
    lines = ["| " + " | ".join(TABLE_HEADER) + " |", "|" + "|".join("---" for _ in TABLE_HEADER) + "|"]
    for name, flags in plan.settings.items():
        s = summarize(runs[name])
        flags_text = f"`{shlex.join(flags)}`" if flags else "(base only)"
        stopped = " (then non-finite loss)" if runs[name]["failed"] else ""
        if s is None:
            cells = [name, "diverged" if stopped else "not trained", "", "", "", "", "", "", "", "0" + stopped,
                     "", flags_text]
        else:
            cells = [name, _number(s["final_psnr"], 2), _number(s["best_psnr"], 2), str(s["best_epoch"]),
                     _number(s["moving_psnr"], 2), _number(s["vacated_psnr"], 2), _number(s["silhouette_iou"], 3),
                     _number(s["kaggle_psnr"], 2), _number(s["ssim"], 4),
                     f"{s['epochs']}{stopped}", _duration(s["seconds"]), flags_text]
        lines.append("| " + " | ".join(cells) + " |")
    copied = next((e for e in (runs[n]["eval"] for n in plan.settings) if e and "copy_psnr" in e), None)
    if copied:
        cells = ["copying frame 0", _number(copied["copy_psnr"], 2), "", "", _number(copied["copy_moving_psnr"], 2),
                 _number(copied.get("copy_vacated_psnr"), 2), _number(copied.get("copy_silhouette_iou"), 3),
                 "", "", "", "", "the baseline"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def results_markdown(plan, runs):
    data = next((plan.base[i + 1] for i, f in enumerate(plan.base[:-1]) if f == "--DR"), None)
    lines = ["# Experiment results", "",
             f"Base flags (every run): `{shlex.join(plan.base)}`; data: "
             + (f"`{data}`" if data else "the embedded synthetic dataset") + ".",
             "Val PSNR: mean per-frame PSNR of one prior-sampled rollout of the validation video (metrics.csv); "
             "Kaggle-style PSNR and SSIM: the best checkpoint's rollout, 8-bit, scored frames only; moving-pixel, "
             "vacated-region PSNR and silhouette IoU: the same rollout, frames 1..T-1 (best_eval.json; "
             "docs/quality.md); wall time: sum of the per-epoch seconds.", "",
             results_table(plan, runs), ""]
    for name, members in plan.comparisons.items():
        lines += [f"## {name}: {' vs '.join(members)}", "", f"![{name}]({name}.png)", ""]
    return "\n".join(lines)


def write_comparison(out):
    """Draw every comparison of ``<out>/experiment.json`` and write ``<out>/results.md``.
    Returns the written paths (results.md first)."""
    out = Path(out)
    plan = Plan.load(out)
    runs = {name: load_run(out, name) for name in plan.settings}
    colours = {name: i for i, name in enumerate(plan.settings)}
    path = out / RESULTS_FILE
    write_text(path, results_markdown(plan, runs))
    paths = [path]
    for name, members in plan.comparisons.items():
        paths += plot_comparison(name, {m: runs[m] for m in members}, colours, out)
    return paths
