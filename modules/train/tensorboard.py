"""Optional TensorBoard logging of a training run (``--tensorboard``; ``pip install tensorboard``).

Every epoch, into ``<save_root>/tensorboard``: each metrics.csv value as a scalar (tag ``group/column``,
grouped like the PNG curves), the validation rollout strip as an image and the per-frame PSNR figure of
that rollout. The step is metrics.csv's ``epoch``. A resumed run (or a new run in the same folder)
starts its writer with ``purge_step`` = its first epoch, so TensorBoard hides what an earlier run logged
from that epoch on, as metrics.csv replaces those rows: one curve, no duplicated steps. Only rank 0
writes (the loop calls this on the main process alone). The event files are tensorboard's own
append-only log, written by its writer rather than through modules.io: a crash loses at most the last
record, which the reader skips.
"""
import importlib.util

import numpy as np
import torch

from ..errors import UserInputError
from ..eval.media import GIF_SCALE
from ..eval.val_psnr import MODE_NAMES, per_frame_psnr_figure
from .plots import CURVES
from .runlog import COLUMNS

LOG_DIR = "tensorboard"
STRIP_FRAMES = 6  # rows of the rollout strip: frames spread over the validation video
MISSING = ("--tensorboard needs the optional package tensorboard, which is not installed: "
           "pip install tensorboard (or: pip install -r requirements-extras.txt)")


def check_available():
    """A clear error before training starts rather than an ImportError after the first epoch: not
    installed, or installed but failing to import (e.g. a protobuf version it does not support)."""
    if importlib.util.find_spec("tensorboard") is None:
        raise UserInputError(MISSING)
    try:
        from torch.utils.tensorboard import SummaryWriter  # noqa: F401
    except Exception as err:  # whatever a broken install raises (TypeError from protobuf, ImportError...)
        first = (str(err).strip().splitlines() or [type(err).__name__])[0][:200]
        raise UserInputError(f"--tensorboard: the installed tensorboard package fails to import "
                             f"({type(err).__name__}: {first}); repair it (pip install -U tensorboard protobuf) "
                             f"or drop --tensorboard") from None


def check_requested(cfg):
    """With --tensorboard, :func:`check_available` (every rank: they all stop with the same message)."""
    if getattr(cfg, "tensorboard", False):
        check_available()


def scalar_tag(column):
    """``psnr/val_psnr``: the PNG curve a column is drawn in, else ``train/`` or ``val/`` or ``run/``."""
    for name, series in CURVES.items():
        if column in (c for c, _ in series):
            return f"{name}/{column}"
    return f"{column.split('_')[0] if column.startswith(('train_', 'val_')) else 'run'}/{column}"


def rollout_strip(panel, rows=STRIP_FRAMES, scale=GIF_SCALE):
    """(T, 3, H, W') panel (ground truth | prediction | pose) -> (3, rows*H*scale, W'*scale): frames 1..T-1
    evenly spread, top to bottom, enlarged (nearest) like the GIFs."""
    picked = np.unique(np.linspace(min(1, len(panel) - 1), len(panel) - 1, rows).round().astype(int))
    strip = torch.cat(list(panel[picked].clamp(0, 1)), dim=1)
    return strip.repeat_interleave(scale, dim=1).repeat_interleave(scale, dim=2)


def psnr_summary(row):
    """The val_PSNR.py summary fields the per-frame figure shows, from a metrics.csv row."""
    return {"mode": "prior", "label": MODE_NAMES["prior"], "num_samples": 1, "avg_psnr": row["val_psnr"],
            "moving_psnr": row["val_moving_psnr"], "copy_psnr": row["copy_psnr"],
            "copy_moving_psnr": row["copy_moving_psnr"]}


class TensorBoardLog:
    """A SummaryWriter on ``log_dir`` that logs one epoch per call."""

    def __init__(self, log_dir, first_epoch):
        check_available()
        from torch.utils.tensorboard import SummaryWriter
        self.writer = SummaryWriter(str(log_dir), purge_step=first_epoch)

    def log_epoch(self, row, panel, psnr_per_frame):
        """``row``: the metrics.csv row; ``panel``: the rollout panel; ``psnr_per_frame``: (T-1,);
        both None for an epoch that was not validated (--val_every)."""
        step = row["epoch"]
        for column in COLUMNS:
            if column != "epoch" and column in row:
                self.writer.add_scalar(scalar_tag(column), float(row[column]), step)
        if panel is None:
            self.writer.flush()
            return
        self.writer.add_image("val/rollout", rollout_strip(panel), step)
        title = f"epoch {step + 1}: per-frame PSNR of the validation rollout"
        self.writer.add_figure("val/per_frame_psnr",
                               per_frame_psnr_figure({"psnr": np.asarray(psnr_per_frame)[None]}, psnr_summary(row),
                                                     title), step)  # add_figure closes the figure
        self.writer.flush()

    def close(self):
        self.writer.close()


class NoLog:
    """What the loop calls without --tensorboard (and on ranks other than 0)."""

    def log_epoch(self, row, panel, psnr_per_frame):
        pass

    def close(self):
        pass


def open_log(cfg, log_dir, first_epoch, main):
    """The run's logger: a TensorBoardLog on the main process with --tensorboard, NoLog otherwise."""
    if getattr(cfg, "tensorboard", False) and main:
        if log_dir.exists() and not log_dir.is_dir():
            raise UserInputError(f"{log_dir} is a file, where --tensorboard writes its logs: move it away or "
                                 f"drop --tensorboard")
        return TensorBoardLog(log_dir, first_epoch)
    return NoLog()
