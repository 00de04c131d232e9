"""The one guard of a run folder: a training run claims its --save_root before it writes anything.

Claiming a folder:
  * creates it (an error names it when it is a file or cannot be written);
  * takes an exclusive lock (``.run.lock``, an flock through filelock; the file names the pid and
    host for the message), so two runs never write into one folder at once. The OS releases an flock
    when its process ends however it ends (kill -9, a container restart), so a lock is never stale;
  * refuses a folder that already holds a run (metrics.csv or checkpoints) unless this run resumes
    from one of that folder's checkpoints or ``--overwrite`` was given (then the old run's outputs
    are removed first, so no stale epoch_*.pt remains beside the new ones);
  * refuses to rewind a run in its own folder: a checkpoint from before the end of the run
    (epoch_001.pt of a 3-epoch run) would replace last.pt and the later metrics; without --save_root
    such a resume goes on in a new sibling folder instead (:func:`resume_folder`, docs/run_folder.md);
  * removes the temporary files that killed writes left in it and in ``checkpoints/`` (``.<name>.*.tmp*``);
  * on failure, removes the folder again if it created it and nothing was written to it.
"""
import os
import re
import shutil
import socket
from contextlib import contextmanager
from pathlib import Path

from filelock import FileLock, Timeout

from ..errors import UserInputError
from ..io import remove_stale_temp_files
from .runlog import repair_metrics

LOCK_NAME = ".run.lock"
CHECKPOINT_DIR = "checkpoints"
PERIODIC = re.compile(r"epoch_(\d+)\.pt")  # --per_save's checkpoints, named by the epochs they hold
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
        _release_lock(lock)
        if created:
            _remove_if_empty(root)
        raise
    _release_lock(lock)


def _make_folder(root):
    if root.exists() and not root.is_dir():
        raise UserInputError(f"--save_root {root} is a file, not a folder: pass a folder for the run")
    for folder in (root, *root.parents):  # mkdir would say "File exists" of a link to a missing folder
        if folder.is_symlink() and not folder.exists():
            raise UserInputError(f"--save_root {root}: {folder} is a symbolic link to {folder.readlink()}, which "
                                 f"does not exist: create that folder or pass another --save_root")
    try:
        (root / CHECKPOINT_DIR).mkdir(parents=True, exist_ok=True)
        probe = root / f".write_test.{os.getpid()}"
        probe.touch()
        probe.unlink()
    except OSError as err:
        raise UserInputError(f"cannot write to --save_root {root} ({err.strerror or err}): "
                             f"pass a writable folder") from None


def _acquire_lock(root):
    """Hold ``root/.run.lock`` (an flock through filelock: the OS releases it when the process dies, so a
    lock is never stale). Returns the held FileLock; a lock held by a running process is a UserInputError."""
    path = root / LOCK_NAME
    if path.is_dir():
        raise UserInputError(f"the lock {path} is a folder, not a file: remove it (rmdir {path}) if no training "
                             f"run is using {root}")
    lock = FileLock(path)
    try:
        lock.acquire(timeout=0)
    except Timeout:
        raise UserInputError(f"{root} is in use by another training run ({_lock_owner(path)} holds {path}); "
                             f"wait for it or pass another --save_root") from None
    except OSError as err:
        raise UserInputError(f"cannot lock {path} ({err.strerror or err}): pass another --save_root") from None
    path.write_text(f"{os.getpid()} {socket.gethostname()}\n")  # for the message of a refused run
    return lock


def _release_lock(lock):
    """Remove the lock file (while still holding it, so no other run locks the old file), then release it."""
    Path(lock.lock_file).unlink(missing_ok=True)
    lock.release()


def _lock_owner(path):
    """Who holds the lock, as its file says ("process 123 on host"), for a message."""
    try:
        pid, host = path.read_text().split()
        return f"process {int(pid)} on {host}"
    except (OSError, ValueError):
        return "a running process"


def _check_previous_run(root, ckpt_path, overwrite):
    """Refuse to start a new run over an existing one; with ``overwrite``, clear it. A resumed run
    checks its folder's metrics.csv before it trains (see modules.train.runlog.repair_metrics)."""
    previous = [name for name in ("metrics.csv",) if (root / name).is_file()]
    previous += [f"{CHECKPOINT_DIR}/{p.name}" for p in sorted((root / CHECKPOINT_DIR).glob("*.pt"))]
    if not previous:
        return
    if ckpt_path and Path(ckpt_path).resolve().parent == (root / CHECKPOINT_DIR).resolve():
        repair_metrics(root / "metrics.csv")
        _refuse_rewind(root, ckpt_path)
        return
    if overwrite:
        for name in RUN_OUTPUTS:
            path = root / name
            shutil.rmtree(path) if path.is_dir() else path.unlink(missing_ok=True)
        (root / CHECKPOINT_DIR).mkdir()
        print(f"--overwrite: removed the previous run's outputs in {root}")
        return
    shown = ", ".join(previous[:4]) + (" ..." if len(previous) > 4 else "")
    raise UserInputError(f"--save_root {root} already holds a run ({shown}): {_how_to_go_on(root, ckpt_path)}, "
                         f"pass a new --save_root, or add --overwrite to replace it")


def _how_to_go_on(root, ckpt_path):
    """The advice for a run refused by a folder that holds one: the checkpoint to resume from, if any."""
    resume = next((root / CHECKPOINT_DIR / f"{name}.pt" for name in ("last", "interrupted")
                   if (root / CHECKPOINT_DIR / f"{name}.pt").is_file()), None)
    if resume is None:
        return "it has no checkpoint to resume from (it stopped before its first epoch ended)"
    if ckpt_path is None:
        return f"resume it with --ckpt_path {resume}"
    return f"--ckpt_path {ckpt_path} is not one of its checkpoints; resume from {resume}"


# -- a checkpoint from the middle of a run --------------------------------------------------------------
def rewind_of(root, ckpt_path):
    """(the checkpoint's epoch, the last epoch the run in ``root`` saved) when ``ckpt_path`` is from before
    the end of that run (e.g. epoch_001.pt of a 3-epoch run, or best.pt of an earlier epoch); else None.

    The end is what the checkpoints say (last.pt, interrupted.pt, the epoch_NNN.pt names), not metrics.csv,
    which is written first and is ahead of last.pt after a kill between the two: resuming last.pt then is
    no rewind."""
    from ..checkpoint import load_checkpoint  # here: torch only when resuming

    folder = root / CHECKPOINT_DIR
    reached = [int(m.group(1)) for m in (PERIODIC.fullmatch(p.name) for p in folder.glob("epoch_*.pt")) if m]
    reached += [int(load_checkpoint(folder / name)["epoch"]) for name in ("last.pt", "interrupted.pt")
                if (folder / name).is_file()]
    epoch = int(load_checkpoint(ckpt_path)["epoch"])
    return (epoch, max(reached)) if reached and epoch < max(reached) else None


def _refuse_rewind(root, ckpt_path):
    rewind = rewind_of(root, ckpt_path)
    if rewind:
        raise UserInputError(f"--ckpt_path {ckpt_path} is epoch {rewind[0]} of the run in {root}, which reached "
                             f"epoch {rewind[1]}: going on in {root} would replace its last.pt and metrics of the "
                             f"later epochs. Leave out --save_root to go on from it in a new folder "
                             f"({fork_folder(root, rewind[0])}), or pass another --save_root")


def fork_folder(root, epoch):
    """A new sibling folder for a run rewound to ``epoch``: ``runs/x_from_epoch_001`` (``_2``... if taken)."""
    base = root.with_name(f"{root.name}_from_epoch_{epoch:03d}")
    fork, n = base, 1
    while fork.exists():
        n += 1
        fork = base.with_name(f"{base.name}_{n}")
    return fork


def resume_folder(ckpt_path, root):
    """Where a run resumed from ``ckpt_path`` without --save_root goes on: ``root`` (the checkpoint's
    run folder), or a new sibling when the checkpoint is from before the end of that run."""
    rewind = rewind_of(root, ckpt_path) if (root / CHECKPOINT_DIR).is_dir() else None
    if rewind is None:
        return root
    fork = fork_folder(root, rewind[0])
    print(f"note: {ckpt_path} is epoch {rewind[0]} of the run in {root}, which reached epoch {rewind[1]}: going on "
          f"in a new folder, {fork} ({root} keeps its later epochs)", flush=True)
    return fork


def _remove_if_empty(root):
    """Remove a folder this run created if it holds nothing but empty folders."""
    if all(p.is_dir() for p in root.rglob("*")):
        shutil.rmtree(root, ignore_errors=True)
