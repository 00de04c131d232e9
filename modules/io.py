"""Atomic writes: every file the repo writes goes through :func:`atomic_path`.

A file is written under a unique temporary name in its own folder and renamed over the target
only once complete, so a crash, a kill or Ctrl-C never leaves half a file under the real name,
and two processes writing the same file never share a temporary name. The helpers below cover
text, JSON, bytes, matplotlib figures and ``torch.save`` objects; streaming writers (CSV rows,
GIF encoders) take the temporary path from :func:`atomic_path` themselves. The one exception is
TensorBoard's event files (modules/train/tensorboard.py): an append-only log that its own writer
extends during the run, whose reader skips a last record cut short by a crash.
"""
import json
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def atomic_path(path):
    """Yield a temporary path next to ``path``; rename it to ``path`` if the block succeeds.

    On any exception (KeyboardInterrupt included) the temporary file is removed and the exception
    propagates; ``path`` keeps its previous content. The temporary name keeps ``path``'s suffix,
    so writers that pick a format by extension (PIL, imageio, matplotlib) still work.
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=f".tmp{path.suffix}")
    os.close(fd)
    tmp = Path(tmp)
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_text(path, text):
    with atomic_path(path) as tmp:
        tmp.write_text(text)
    return Path(path)


def write_bytes(path, data):
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def write_json(path, data):
    return write_text(path, json.dumps(data, indent=1) + "\n")


def save_figure(fig, path, **savefig_kwargs):
    """``fig.savefig`` to ``path`` atomically (the format follows ``path``'s suffix)."""
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format=Path(path).suffix.lstrip(".") or None, **savefig_kwargs)
    return Path(path)


def save_torch(obj, path):
    """``torch.save(obj)`` to ``path`` atomically."""
    import torch
    with atomic_path(path) as tmp:
        torch.save(obj, tmp)
    return Path(path)
