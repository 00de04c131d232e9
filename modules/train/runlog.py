"""A run folder and its per-epoch metrics file (CSV: one row per epoch, rewritten atomically)."""
import csv
from datetime import datetime
from pathlib import Path

from ..io import atomic_path

COLUMNS = ("epoch", "lr", "beta", "tfr", "teacher_forcing", "train_loss", "train_recon", "train_kl",
           "val_loss", "val_psnr", "val_moving_psnr", "val_ssim", "copy_psnr", "copy_moving_psnr", "seconds",
           # added later, so at the end: a metrics.csv without them still reads (NaN) and is resumed
           "val_vacated_psnr", "val_silhouette_iou", "copy_vacated_psnr", "copy_silhouette_iou")


class Run:
    """Where a run writes: metrics.csv, plots, GIFs and checkpoints under one folder."""

    def __init__(self, save_root, create=True):
        self.root = Path(save_root)
        self.ckpt_dir = self.root / "checkpoints"
        if create:
            self.ckpt_dir.mkdir(parents=True, exist_ok=True)
        self.metrics = self.root / "metrics.csv"

    def checkpoint(self, name):
        return self.ckpt_dir / f"{name}.pt"

    def save_epoch_checkpoints(self, state, *, best, periodic=None):
        """The one place that orders the checkpoint writes of an epoch: ``best.pt`` (when ``best``),
        then ``periodic`` (e.g. ``epoch_004``), then ``last.pt``. last.pt records the best PSNR, and a
        resumed run only writes best.pt again when it beats that score: written before it, best.pt
        exists whenever last.pt says it does, whatever moment a kill comes."""
        from ..checkpoint import save_checkpoint  # here: experiments.py --plot_only reads runlog without torch

        names = (["best"] if best else []) + ([periodic] if periodic else []) + ["last"]
        for name in names:
            save_checkpoint(self.checkpoint(name), state)


def default_save_root():
    return Path("runs") / datetime.now().strftime("%Y%m%d-%H%M%S")


def read_metrics(path):
    """Rows of a metrics CSV as dicts of floats (``epoch`` as int; a column an older run did not
    write is NaN); [] if the file is absent."""
    path = Path(path)
    if not path.is_file():
        return []
    with path.open(newline="") as f:
        return [{k: (int(v) if k == "epoch" else float(v or "nan")) for k, v in row.items()}
                for row in csv.DictReader(f, restval="")]


def write_metrics(path, rows):
    with atomic_path(path) as tmp, tmp.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS, restval="")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: row.get(k, "") for k in COLUMNS})


def append_metrics(path, row):
    """Add ``row``, replacing any earlier row of the same or a later epoch (left by a resumed run)."""
    rows = [r for r in read_metrics(path) if r["epoch"] < row["epoch"]]
    write_metrics(path, rows + [row])
