"""Validation curves of several runs against optimizer steps, side by side (to choose a preset's length).

    python bench/val_curves.py runs/a runs/b --out curves.png

Each run folder's metrics.csv and checkpoint config give, per validated epoch, the optimizer steps so
far (epochs x steps per epoch, from the train set's clips and the batch) and the val PSNR,
vacated-region PSNR and silhouette IoU; one panel per metric, copying frame 0 dashed.
"""
import argparse
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dataloader import Dataset_Dance  # noqa: E402
from modules.checkpoint import load_checkpoint  # noqa: E402
from modules.data.datasets import dataset_root  # noqa: E402
from modules.train.runlog import read_metrics  # noqa: E402

PANELS = (("val_psnr", "copy_psnr", "val PSNR (dB)"), ("val_vacated_psnr", "copy_vacated_psnr", "vacated region (dB)"),
          ("val_silhouette_iou", "copy_silhouette_iou", "silhouette IoU"))


def steps_per_epoch(run):
    """Optimizer steps per epoch of ``run`` (one process, no --fast_train), from its checkpoint's config:
    the train set's clips over the batch, as the loader drops the last partial batch."""
    config = load_checkpoint(Path(run) / "checkpoints" / "last.pt")["config"]
    clips = Dataset_Dance(dataset_root(config["DR"]), "train", config["train_vi_len"], config["partial"])
    return len(clips) // config["batch_size"], f"batch {config['batch_size']}, clips of {config['train_vi_len']}"


def validated(run):
    """(steps, row) of every validated epoch of ``run``."""
    per_epoch, _ = steps_per_epoch(run)
    return [((row["epoch"] + 1) * per_epoch, row) for row in read_metrics(Path(run) / "metrics.csv")
            if row["val_psnr"] == row["val_psnr"]]  # NaN: not validated


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path)
    parser.add_argument("--out", type=Path, default=Path("val_curves.png"))
    args = parser.parse_args(argv)
    fig, axes = plt.subplots(1, len(PANELS), figsize=(4 * len(PANELS), 3.2))
    for run in args.runs:
        points = validated(run)
        steps = [s for s, _ in points]
        label = f"{run.name} ({steps_per_epoch(run)[1]})"
        for ax, (key, copy, title) in zip(axes, PANELS):
            line, = ax.plot(steps, [r[key] for _, r in points], marker=".", label=label)
            ax.plot(steps, [r[copy] for _, r in points], ls="--", color=line.get_color(), alpha=0.5)
            ax.set_title(title)
            ax.set_xlabel("optimizer steps")
        for steps_done, row in points[-1:]:
            print(f"{run.name}: {steps_done} steps: " + ", ".join(f"{k} {row[k]:.3f}" for k, _, _ in PANELS))
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(args.out, dpi=100)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
