"""What a training run tells the user at its start (what it trains, where it writes) and at its end
(the best checkpoint, its PSNR and the commands that use it, with paths that work from here)."""
import math
import os
import shlex
import sys
from pathlib import Path

from ..checkpoint import load_checkpoint
from ..runtime import describe_hardware
from .runlog import read_metrics
from .setup import clips_in_epoch, describe_num_workers, steps_per_epoch

REPO = Path(__file__).resolve().parents[2]


def interpreter():
    """How the user ran Python: ``.venv/bin/python`` for the README's commands (a path under the
    current folder), ``python`` otherwise."""
    exe = os.path.abspath(sys.executable)
    rel = os.path.relpath(exe)
    return rel if not rel.startswith("..") else "python"


def tool(name):
    """A console script of the same environment: ``.venv/bin/tensorboard`` beside ``.venv/bin/python``."""
    python = interpreter()
    return os.path.join(os.path.dirname(python), name) if python != "python" else name


def script(name):
    """A repo script (Tester.py) as a path from the current folder."""
    rel = os.path.relpath(REPO / name)
    return rel if not rel.startswith("..") else str(REPO / name)


def start_message(cfg, run, device, n_clips, first_epoch, steps_note=None):
    """What the run trains (its steps: ``steps_note``, from --train_steps), on what and where it writes,
    and (once) the data-loading choice."""
    if first_epoch >= cfg.num_epoch:
        return f"nothing to train: the checkpoint is at epoch {first_epoch} of --num_epoch {cfg.num_epoch}"
    used = clips_in_epoch(n_clips, cfg, first_epoch)
    of = f" (of {n_clips}: --partial/--fast_train)" if used != n_clips else ""
    steps = steps_per_epoch(n_clips, cfg, first_epoch)
    lines = [f"training on {device}: {used} clips of {cfg.train_vi_len} frames per epoch{of} ({steps} steps of "
             f"batch {cfg.batch_size}), epochs {first_epoch + 1}..{cfg.num_epoch}; writing to {run.root}"
             + (f" (TensorBoard: {tool('tensorboard')} --logdir {run.root})" if getattr(cfg, "tensorboard", False)
                else "")]
    lines += [steps_note] if steps_note else []
    lines.append(describe_hardware(device, cfg.amp))
    workers = describe_num_workers(cfg)
    return "\n".join(lines + ([workers] if workers else []))


def next_steps(run, cfg):
    """The lines printed at the end: the best checkpoint, its val PSNR and epoch (as best.pt records
    them), then Tester.py and val_PSNR.py on it (with the run's --DR). None when there is no best.pt."""
    best = run.checkpoint("best")
    if not best.is_file():
        return None
    stored = load_checkpoint(best)  # its own numbers: metrics.csv may hold rows of epochs it never saw
    data = ["--DR", str(cfg.DR)] if cfg.DR else []
    python = interpreter()
    tester = shlex.join([python, script("Tester.py"), "--ckpt_path", str(best), *data, "--make_gif"])
    val_psnr = shlex.join([python, script("val_PSNR.py"), "--ckpt_path", str(best), *data])
    psnr = stored.get("best_psnr", math.nan)
    return "\n".join([f"best checkpoint: {best} (val PSNR {psnr:.2f} dB, epoch {stored['epoch']})",
                      "next:",
                      f"  {tester}    # submission.csv + GIFs",
                      f"  {val_psnr}    # per-frame PSNR plot"])
