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


def read_metrics(path, problems=None):
    """Rows of a metrics CSV as dicts of floats (``epoch`` as int; a column an older run did not
    write is NaN); [] if the file is absent. A UTF-8 BOM (a spreadsheet's "CSV UTF-8") is read past;
    a row that is not a metrics row (no epoch, a value that is not a number) is left out and, when
    ``problems`` is a list, described in it ("line 4: ..."), so a hand-edited file costs no epoch."""
    path = Path(path)
    if not path.is_file():
        return []
    rows = []
    with path.open(newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f, restval="")
        for row in reader:
            try:
                rows.append(_parse_row(row))
            except (KeyError, TypeError, ValueError) as err:
                if problems is not None:
                    shown = ",".join(str(v) for v in row.values())[:60]
                    problems.append(f"line {reader.line_num}: {shown!r} is not a metrics row ({err})")
    return rows


def _parse_row(row):
    if row.get("epoch") in (None, ""):
        raise KeyError("no epoch")
    return {k: (int(v) if k == "epoch" else float(v or "nan")) for k, v in row.items() if k is not None}


def repair_metrics(path):
    """Rewrite ``path`` without the rows :func:`read_metrics` leaves out (and without a BOM), saying
    which; before a resumed run trains, so a damaged file never costs an epoch. Returns the rows."""
    problems = []
    rows = read_metrics(path, problems)
    has_bom = Path(path).is_file() and Path(path).read_bytes()[:3] == b"\xef\xbb\xbf"
    for problem in problems:
        print(f"note: {path} {problem}: left out")
    if problems or has_bom:
        write_metrics(path, rows)
    return rows


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
