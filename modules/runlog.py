"""The per-epoch metrics file (CSV): one row per epoch, rewritten atomically after each epoch."""
import csv
import os
from pathlib import Path

COLUMNS = ("epoch", "lr", "beta", "tfr", "teacher_forcing", "train_loss", "train_recon", "train_kl",
           "val_loss", "val_psnr", "seconds")


def read_metrics(path):
    """Rows of a metrics CSV as dicts of floats (``epoch`` as int); [] if the file is absent."""
    path = Path(path)
    if not path.is_file():
        return []
    with path.open(newline="") as f:
        return [{k: (int(v) if k == "epoch" else float(v)) for k, v in row.items()} for row in csv.DictReader(f)]


def write_metrics(path, rows):
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    with tmp.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS)
        writer.writeheader()
        for row in rows:
            writer.writerow({k: row[k] for k in COLUMNS})
    os.replace(tmp, path)


def append_metrics(path, row):
    """Add ``row``, replacing any earlier row of the same or a later epoch (left by a resumed run)."""
    rows = [r for r in read_metrics(path) if r["epoch"] < row["epoch"]]
    write_metrics(path, rows + [row])
