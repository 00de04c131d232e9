"""The run-folder guard and the checkpoint write order: no run is overwritten, shared or left without best.pt."""
import os
import re
import socket
import subprocess
import sys

import pytest

import modules.train.loop as training
import modules.checkpoint as checkpoint
from modules.checkpoint import load_checkpoint
from modules.errors import UserInputError
from modules.train.runfolder import LOCK_NAME, claimed_run_folder
from modules.train.runlog import read_metrics
from test_trainer import config as trainer_config
from test_trainer import no_curves  # noqa: F401 (a fixture)


def config(dataset, save_root, *flags):
    """test_trainer's tiny run, on a third of the clips (2 batches an epoch): these tests are about files."""
    return trainer_config(dataset, save_root, "--partial", "0.34", *flags)


def test_a_second_run_into_a_run_folder_refuses_and_names_both_ways_on(tiny_dataset, tmp_path, no_curves):
    run = training.fit(config(tiny_dataset, tmp_path / "run", "--num_epoch", "2"))
    before = (run / "checkpoints" / "best.pt").read_bytes()
    with pytest.raises(UserInputError) as err:
        training.fit(config(tiny_dataset, run, "--num_epoch", "1"))
    message = str(err.value)
    assert f"--ckpt_path {run / 'checkpoints' / 'last.pt'}" in message
    assert "new --save_root" in message and "--overwrite" in message
    assert (run / "checkpoints" / "best.pt").read_bytes() == before
    assert len(read_metrics(run / "metrics.csv")) == 2
    assert not (run / LOCK_NAME).exists()

    # --overwrite replaces the run: no stale epoch_002.pt beside the new one-epoch run.
    training.fit(config(tiny_dataset, run, "--num_epoch", "1", "--overwrite"))
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["best.pt", "last.pt"]
    assert len(read_metrics(run / "metrics.csv")) == 1


def test_resuming_without_save_root_goes_on_in_the_checkpoints_run_folder(tiny_dataset, tmp_path, no_curves):
    run = training.fit(config(tiny_dataset, tmp_path / "run", "--num_epoch", "1"))
    cfg = config(tiny_dataset, run, "--num_epoch", "2", "--ckpt_path", str(run / "checkpoints" / "last.pt"))
    cfg.save_root = None
    assert training.fit(cfg) == run
    assert [r["epoch"] for r in read_metrics(run / "metrics.csv")] == [0, 1]


def test_a_locked_folder_is_refused_and_a_dead_process_lock_is_no_lock(tmp_path):
    folder = tmp_path / "run"
    with claimed_run_folder(folder):
        assert (folder / LOCK_NAME).read_text().split()[0] == str(os.getpid())
        with pytest.raises(UserInputError, match=f"{folder} is in use by another training run .process {os.getpid()}"):
            with claimed_run_folder(folder):
                pass
    assert not (folder / LOCK_NAME).exists()


HOLD = ("import filelock, sys, time; lock = filelock.FileLock(sys.argv[1]); lock.acquire(); "
        "print('held', flush=True); time.sleep(60)")


def test_another_process_holds_the_lock_until_it_is_killed(tmp_path):
    folder = tmp_path / "run"
    folder.mkdir()
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(folder / LOCK_NAME)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline() == "held\n"
        with pytest.raises(UserInputError, match="in use by another training run .a running process holds"):
            with claimed_run_folder(folder):
                pass
    finally:
        holder.kill()  # as kill -9, docker kill: no clean-up runs, the OS drops the flock
        holder.wait()
    with claimed_run_folder(folder):
        pass


@pytest.mark.parametrize("content", [
    lambda: f"{os.getpid()} {socket.gethostname()}\n",  # our own pid: a container restarted as pid 1 (G4)
    lambda: "123 otherhost\n",  # another host: a new container's hostname (G6)
    lambda: f"{os.getppid()} {socket.gethostname()}\n",  # a live, unrelated process: a reused pid (G2)
    lambda: "garbage",
])
def test_a_lock_file_left_by_a_killed_run_is_no_lock(tmp_path, content):
    folder = tmp_path / "run"
    folder.mkdir()
    (folder / LOCK_NAME).write_text(content())
    with claimed_run_folder(folder):
        pass
    assert not (folder / LOCK_NAME).exists()


def test_a_lock_that_is_a_folder_is_named(tmp_path):
    (tmp_path / "run" / LOCK_NAME).mkdir(parents=True)
    with pytest.raises(UserInputError, match="is a folder, not a file: remove it"):
        with claimed_run_folder(tmp_path / "run"):
            pass


def test_stale_temp_files_are_removed_and_a_failed_start_leaves_no_folder(tiny_dataset, tmp_path):
    folder = tmp_path / "run"
    (folder / "checkpoints").mkdir(parents=True)
    stale = folder / "checkpoints" / ".last.abc123.tmp.pt"
    stale.write_bytes(b"")
    with claimed_run_folder(folder):
        assert not stale.exists()

    with pytest.raises(UserInputError):  # the dataset check fails after the folder was claimed
        training.fit(config(tmp_path / "no_dataset", tmp_path / "new_run", "--num_epoch", "1"))
    assert not (tmp_path / "new_run").exists()


def test_a_save_root_that_is_a_file_is_one_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(UserInputError, match="is a file, not a folder"):
        with claimed_run_folder(blocker):
            pass
    with pytest.raises(UserInputError, match="cannot write to --save_root"):
        with claimed_run_folder(blocker / "run"):
            pass


def test_best_is_written_before_last_and_a_resume_rewrites_a_lost_best(tiny_dataset, tmp_path, no_curves, monkeypatch):
    written = []
    real_save = checkpoint.save_checkpoint
    monkeypatch.setattr(checkpoint, "save_checkpoint", lambda path, state: (written.append(path.name),
                                                                         real_save(path, state)))
    run = training.fit(config(tiny_dataset, tmp_path / "run", "--num_epoch", "2", "--per_save", "1"))
    assert written[:3] == ["best.pt", "epoch_001.pt", "last.pt"]

    # best.pt lost (an older version's kill between last.pt and best.pt): the resumed run writes one.
    (run / "checkpoints" / "best.pt").unlink()
    assert load_checkpoint(run / "checkpoints" / "last.pt")["best_psnr"] > 0
    training.fit(config(tiny_dataset, run, "--num_epoch", "3", "--ckpt_path", str(run / "checkpoints" / "last.pt")))
    assert load_checkpoint(run / "checkpoints" / "best.pt")["epoch"] == 3


def test_a_rewind_is_refused_in_the_runs_folder_and_forks_without_save_root(tiny_dataset, tmp_path, no_curves,
                                                                           capsys):
    previous = os.umask(0o022)
    try:
        run = training.fit(config(tiny_dataset, tmp_path / "v1", "--num_epoch", "3", "--per_save", "1"))
    finally:
        os.umask(previous)
    files = [p for p in run.rglob("*") if p.is_file()]
    assert files and {oct(p.stat().st_mode & 0o777) for p in files} == {"0o644"}  # readable by teammates
    ckpts = run / "checkpoints"
    before = {name: (ckpts / name).read_bytes() for name in ("last.pt", "best.pt")}
    rewind = config(tiny_dataset, run, "--num_epoch", "2", "--ckpt_path", str(ckpts / "epoch_001.pt"))
    with pytest.raises(UserInputError, match="is epoch 1 of the run in .* which reached epoch 3: going on in"):
        training.fit(rewind)
    rewind.save_root = None  # no --save_root: the run goes on from epoch 1 in a new folder
    fork = training.fit(rewind)
    assert fork == tmp_path / "v1_from_epoch_001"
    assert {name: (ckpts / name).read_bytes() for name in ("last.pt", "best.pt")} == before
    assert [r["epoch"] for r in read_metrics(run / "metrics.csv")] == [0, 1, 2]
    assert [r["epoch"] for r in read_metrics(fork / "metrics.csv")] == [1]
    best = load_checkpoint(fork / "checkpoints" / "best.pt")
    out = capsys.readouterr().out
    assert "going on in a new folder" in out
    assert f"best checkpoint: {fork / 'checkpoints' / 'best.pt'} (val PSNR {best['best_psnr']:.2f} dB, epoch 2)" in out
    # resuming the fork's own last.pt, or the run's, is no rewind
    training.fit(config(tiny_dataset, run, "--num_epoch", "3", "--ckpt_path", str(ckpts / "last.pt")))


def test_a_damaged_metrics_csv_is_repaired_before_the_resumed_epoch(tiny_dataset, tmp_path, no_curves, capsys):
    run = training.fit(config(tiny_dataset, tmp_path / "run", "--num_epoch", "1"))
    metrics = run / "metrics.csv"
    metrics.write_bytes(b"\xef\xbb\xbf" + metrics.read_bytes() + b"garbage,row,not,numbers\n")  # a spreadsheet's save
    training.fit(config(tiny_dataset, run, "--num_epoch", "2", "--ckpt_path", str(run / "checkpoints" / "last.pt")))
    assert f"note: {metrics} line 3: 'garbage,row,not,numbers" in capsys.readouterr().out
    assert [r["epoch"] for r in read_metrics(metrics)] == [0, 1]
    assert load_checkpoint(run / "checkpoints" / "last.pt")["epoch"] == 2
    assert not metrics.read_bytes().startswith(b"\xef\xbb\xbf")


@pytest.mark.parametrize("text, kept, problem", [
    ("epoch,val_psnr\n0,12.5\n", [0], None),
    ("\ufeffepoch,val_psnr\n0,12.5\n", [0], None),
    ("epoch,val_psnr\n0,12.5\ngarbage,1\n", [0], "line 3: 'garbage,1' is not a metrics row"),
    ("epoch,val_psnr\n0,x\n1,13\n", [1], "line 2"),
    ("epoch,val_psnr\n,13\n", [], "line 2: ',13' is not a metrics row .'no epoch'"),
    ("val_psnr\n13\n", [], "line 2"),
    ("epoch,val_psnr\r\n0,12.5,extra\r\n", [0], None),
])
def test_the_metrics_reader_leaves_out_and_names_bad_rows(tmp_path, text, kept, problem):
    path = tmp_path / "metrics.csv"
    path.write_bytes(text.encode("utf-8"))
    problems = []
    assert [r["epoch"] for r in read_metrics(path, problems)] == kept
    assert (problems == []) if problem is None else re.search(problem, problems[0])


def test_a_folder_with_metrics_but_no_checkpoint_does_not_advise_a_missing_file(tmp_path):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "metrics.csv").write_text("epoch\n0\n")
    with pytest.raises(UserInputError, match="no checkpoint to resume from .* or add --overwrite") as err:
        with claimed_run_folder(tmp_path / "run"):
            pass
    assert "--ckpt_path" not in str(err.value)
