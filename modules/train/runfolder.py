"""The one guard of a run folder: a training run claims its --save_root before it writes anything.

Claiming a folder:
  * creates it (an error names it when it is a file or cannot be written);
  * takes an exclusive lock (``.run.lock``, created with O_EXCL, holding the pid and host), so two
    runs never write into one folder at once; the lock of a process that is no longer running is
    taken over, with a message;
  * refuses a folder that already holds a run (metrics.csv or checkpoints) unless this run resumes
    from one of that folder's checkpoints or ``--overwrite`` was given (then the old run's outputs
    are removed first, so no stale epoch_*.pt remains beside the new ones);
  * removes the temporary files that killed writes left in it and in ``checkpoints/`` (``.<name>.*.tmp*``);
  * on failure, removes the folder again if it created it and nothing was written to it.
"""
import os
import shutil
import socket
from contextlib import contextmanager
from pathlib import Path

from ..errors import UserInputError
from ..io import remove_stale_temp_files

LOCK_NAME = ".run.lock"
CHECKPOINT_DIR = "checkpoints"
# What a finished or running training leaves; --overwrite removes these before the new run starts.
RUN_OUTPUTS = ("metrics.csv", CHECKPOINT_DIR, "gifs", "val_rollout.gif", "val_rollout_best.gif")


@contextmanager
def claimed_run_folder(root, *, ckpt_path=None, overwrite=False):
    """Hold ``root`` for one training run (see the module docstring); yields it as a Path."""
    root = Path(root)
    created = not root.exists()
    _make_folder(root)
    lock = _acquire_lock(root)
    try:
        for folder in (root, root / CHECKPOINT_DIR):
            remove_stale_temp_files(folder)
        _check_previous_run(root, ckpt_path, overwrite)
        yield root
    except BaseException:
        lock.unlink(missing_ok=True)
        if created:
            _remove_if_empty(root)
        raise
    lock.unlink(missing_ok=True)


def _make_folder(root):
    if root.exists() and not root.is_dir():
        raise UserInputError(f"--save_root {root} is a file, not a folder: pass a folder for the run")
    try:
        (root / CHECKPOINT_DIR).mkdir(parents=True, exist_ok=True)
        probe = root / f".write_test.{os.getpid()}"
        probe.touch()
        probe.unlink()
    except OSError as err:
        raise UserInputError(f"cannot write to --save_root {root} ({err.strerror or err}): "
                             f"pass a writable folder") from None


def _acquire_lock(root):
    """Create ``root/.run.lock`` exclusively; take over a stale one (its process is gone)."""
    lock = root / LOCK_NAME
    for _ in range(2):
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            owner = _lock_owner(lock)
            if owner is not None and _is_running(*owner):
                raise UserInputError(f"{root} is in use by another training run (process {owner[0]} on "
                                     f"{owner[1]}, lock file {lock}); wait for it or pass another "
                                     f"--save_root") from None
            print(f"note: taking over the stale lock {lock} (its process "
                  f"{owner[0] if owner else '?'} is no longer running)")
            lock.unlink(missing_ok=True)
            continue
        with os.fdopen(fd, "w") as f:
            f.write(f"{os.getpid()} {socket.gethostname()}\n")
        return lock
    raise UserInputError(f"could not take the lock {lock}: another run took it first; pass another --save_root")


def _lock_owner(lock):
    """(pid, host) written in a lock file, or None when it cannot be read."""
    try:
        pid, host = lock.read_text().split()
        return int(pid), host
    except (OSError, ValueError):
        return None


def _is_running(pid, host):
    """Whether process ``pid`` is alive; a lock from another host is assumed alive (it cannot be checked)."""
    if host != socket.gethostname():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by another user
        return True
    return True


def _check_previous_run(root, ckpt_path, overwrite):
    """Refuse to start a new run over an existing one; with ``overwrite``, clear it."""
    previous = [name for name in ("metrics.csv",) if (root / name).is_file()]
    previous += [f"{CHECKPOINT_DIR}/{p.name}" for p in sorted((root / CHECKPOINT_DIR).glob("*.pt"))]
    if not previous:
        return
    if ckpt_path and Path(ckpt_path).resolve().parent == (root / CHECKPOINT_DIR).resolve():
        return
    if overwrite:
        for name in RUN_OUTPUTS:
            path = root / name
            shutil.rmtree(path) if path.is_dir() else path.unlink(missing_ok=True)
        (root / CHECKPOINT_DIR).mkdir()
        print(f"--overwrite: removed the previous run's outputs in {root}")
        return
    shown = ", ".join(previous[:4]) + (" ..." if len(previous) > 4 else "")
    resume = root / CHECKPOINT_DIR / "last.pt"
    how = (f"resume it with --ckpt_path {resume}" if ckpt_path is None else
           f"--ckpt_path {ckpt_path} is not one of its checkpoints; resume from {resume}")
    raise UserInputError(f"--save_root {root} already holds a run ({shown}): {how}, pass a new --save_root, "
                         f"or add --overwrite to replace it")


def _remove_if_empty(root):
    """Remove a folder this run created if it holds nothing but empty folders."""
    if all(p.is_dir() for p in root.rglob("*")):
        shutil.rmtree(root, ignore_errors=True)
