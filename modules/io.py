"""Atomic writes: every file the repo writes goes through :func:`atomic_path`.

A file is written under a unique temporary name in its own folder and renamed over the target
only once complete, so a crash, a kill or Ctrl-C never leaves half a file under the real name,
and two processes writing the same file never share a temporary name. The helpers below cover
text, JSON, bytes, matplotlib figures and ``torch.save`` objects; streaming writers (CSV rows,
GIF encoders) take the temporary path from :func:`atomic_path` themselves. The one exception is
TensorBoard's event files (modules/train/tensorboard.py): an append-only log that its own writer
extends during the run, whose reader skips a last record cut short by a crash.

Files get the mode ``open()`` would give them (0666 minus the umask: 0644 under the usual 022), not
mkstemp's 0600, so a teammate sharing a run or dataset folder can read them. A full disk, a read-only
or missing folder is a :class:`~modules.errors.UserInputError` naming the file.
"""
import errno
import json
import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path

from .errors import UserInputError

# torch.save's messages when its zip writer cannot write (it raises RuntimeError, not OSError).
TORCH_WRITE_FAILURES = ("unexpected pos", "file write failed", "failed writing")
DISK_FULL = (errno.ENOSPC, errno.EDQUOT)


def current_umask():
    """The process's umask (read without changing it where /proc says it; else set and restored)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def temp_name_pattern(name="*"):
    """Glob of :func:`atomic_path`'s temporary names for files called ``name`` (a stem; every file by default)."""
    return f".{name}.*.tmp*"


def remove_stale_temp_files(folder, names=("*",)):
    """Delete the temporary files that killed writes of ``names`` (stems) left in ``folder``; call it only
    where no other process is writing them (a locked run folder, an output folder being prepared)."""
    for name in names:
        for path in Path(folder).glob(temp_name_pattern(name)):
            if path.is_file():
                path.unlink(missing_ok=True)


def _make_temp(path):
    if path.is_dir():  # os.replace would fail after the work, with the temporary file's name
        raise UserInputError(f"cannot write {path}: it is a folder; give a file name")
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=f".tmp{path.suffix}")
    except FileNotFoundError:
        raise UserInputError(f"cannot write {path}: the folder {path.parent} does not exist") from None
    except OSError as err:
        raise UserInputError(f"cannot write {path} ({err.strerror or err}): pass a writable folder") from None
    os.close(fd)
    return Path(tmp)


def _write_failure(path, err):
    """A UserInputError for a write that failed for lack of space, or None for any other error."""
    torch_failure = isinstance(err, RuntimeError) and any(text in str(err) for text in TORCH_WRITE_FAILURES)
    if not (isinstance(err, OSError) and err.errno in DISK_FULL) and not torch_failure:
        return None
    free = shutil.disk_usage(path.parent).free
    return UserInputError(f"cannot write {path}: the disk is full ({free / 1e6:.1f} MB free in {path.parent}); "
                          f"free some space and run the command again")


def check_output(path, flag, inputs=()):
    """Refuse, before any work, the output ``path`` (given as ``flag``) if it is a folder or one of the
    command's ``inputs`` (also under another name: a link, a hard link, ``./x``): writing it would
    destroy what the command reads, e.g. ``score.py sub.csv --write_answer sub.csv``."""
    path = Path(path)
    if path.is_dir():
        raise UserInputError(f"{flag} {path} is a folder: give a file name")
    for source in inputs:
        if source and path.exists() and Path(source).exists() and os.path.samefile(path, source):
            raise UserInputError(f"{flag} {path} is the input {source}: writing it would destroy it; "
                                 f"give another path")


@contextmanager
def atomic_path(path):
    """Yield a temporary path next to ``path``; rename it to ``path`` if the block succeeds.

    On any exception (KeyboardInterrupt included) the temporary file is removed and the exception
    propagates (a full disk as a UserInputError); ``path`` keeps its previous content. The temporary
    name keeps ``path``'s suffix, so writers that pick a format by extension (PIL, imageio,
    matplotlib) still work. The file gets 0666 minus the umask.
    """
    path = Path(path)
    tmp = _make_temp(path)
    try:
        yield tmp
        os.chmod(tmp, 0o666 & ~current_umask())
        os.replace(tmp, path)
    except BaseException as err:
        failure = _write_failure(path, err) if isinstance(err, Exception) else None
        tmp.unlink(missing_ok=True)
        if failure is not None:
            raise failure from None
        raise


def write_text(path, text):
    with atomic_path(path) as tmp:
        tmp.write_text(text)
    return Path(path)


def write_bytes(path, data):
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def copy_file(source, path):
    """Copy ``source`` to ``path`` atomically (a GIF encoded once and kept under a second name)."""
    with atomic_path(path) as tmp:
        shutil.copyfile(source, tmp)
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
