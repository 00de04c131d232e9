"""SIGTERM and SIGHUP are handled as Ctrl-C is: a resumable checkpoint, no lock left, exit 143 / 129 with one line."""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import TINY_WIDTH_FLAGS
from modules.checkpoint import load_checkpoint
from modules.errors import exit_code_of, exit_on_user_error
from modules.signals import Interrupted, saving_despite_signals, stop_signals_raise
from modules.train.runfolder import LOCK_NAME

REPO = Path(__file__).resolve().parents[1]


def wait_for_a_signal(seconds=10.0):
    """Sleep until a signal handler raises (Python runs handlers in the main thread, between bytecodes:
    a signal the kernel hands to another thread, e.g. a torch worker's, arrives a moment later)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        time.sleep(0.01)


@pytest.fixture
def sigint_not_ignored():
    """The suite run as a background job of a script (``cmd &``) starts with SIGINT ignored, and under
    ``nohup`` with SIGHUP ignored, which stop_signals_raise rightly keeps ignored: give this test Python's
    own SIGINT handler and the default SIGHUP."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler), signal.signal(signal.SIGHUP, signal.SIG_DFL)
    yield
    signal.signal(signal.SIGINT, previous[0])
    signal.signal(signal.SIGHUP, previous[1])


def default_stop_signals():
    """In a child before it runs: SIGHUP and SIGINT at their defaults, whatever the suite inherited."""
    signal.signal(signal.SIGHUP, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_sigterm_sighup_and_sigint_raise_interrupted_and_the_handlers_come_back(sigint_not_ignored):
    before = signal.getsignal(signal.SIGTERM)
    for signum, code in ((signal.SIGTERM, 143), (signal.SIGHUP, 129), (signal.SIGINT, 130)):
        with pytest.raises(Interrupted) as err, stop_signals_raise():
            os.kill(os.getpid(), signum)
            wait_for_a_signal()
        assert err.value.signum == signum and isinstance(err.value, KeyboardInterrupt)
        assert exit_code_of(err.value) == code
    assert signal.getsignal(signal.SIGTERM) is before
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    assert exit_code_of(KeyboardInterrupt()) == 130


def test_an_ignored_sigint_stays_ignored():
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        with stop_signals_raise():
            assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, previous)


def test_a_cli_stopped_by_sigterm_exits_143_with_one_line(capsys):
    @exit_on_user_error
    def main():
        os.kill(os.getpid(), signal.SIGTERM)
        signal.pause() if hasattr(signal, "pause") else None

    with pytest.raises(SystemExit) as exit_info:
        main()
    assert exit_info.value.code == 143
    assert capsys.readouterr().err == "stopped by SIGTERM\n"


def trainer_command(dataset, run):
    return ["Trainer.py", "--DR", str(dataset), "--save_root", str(run), *TINY_WIDTH_FLAGS, "--device", "cpu",
            "--num_workers", "0", "--train_vi_len", "4", "--val_vi_len", "20", "--batch_size", "2",
            "--num_epoch", "1000", "--per_save", "1000"]


def stop_in_epoch_2(command, signum=signal.SIGTERM):
    """Run ``command`` (python arguments), send ``signum`` in its second epoch; (returncode, stdout, stderr)."""
    process = subprocess.Popen([sys.executable, *command], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, env={**os.environ, "OMP_NUM_THREADS": "1"}, preexec_fn=default_stop_signals)
    for line in process.stdout:
        if line.startswith("epoch 1/1000: loss"):  # the end of the first epoch
            break
    time.sleep(0.5)  # into epoch 2 (a signal inside epoch 1's last print would land in epoch 1)
    process.send_signal(signum)
    out, err = process.communicate(timeout=120)
    return process.returncode, out, err


def test_sigterm_during_training_saves_a_resumable_checkpoint_and_removes_the_lock(tiny_dataset, tmp_path):
    run = tmp_path / "run"
    code, out, err = stop_in_epoch_2(trainer_command(tiny_dataset, run))
    assert code == 143, err
    assert err.strip().splitlines()[-1] == "stopped by SIGTERM" and "Traceback" not in err
    assert "saved" in out and "interrupted.pt" in out
    assert load_checkpoint(run / "checkpoints" / "interrupted.pt")["epoch"] >= 1, out
    assert not (run / LOCK_NAME).exists()


def test_a_signal_while_saving_waits_for_the_save_and_says_so(capfd):
    with stop_signals_raise(), saving_despite_signals("run/interrupted.pt"):
        os.kill(os.getpid(), signal.SIGTERM)
        wait_for_a_signal(0.2)  # Interrupted would be raised here
    assert capfd.readouterr().err == "SIGTERM: still saving run/interrupted.pt, a moment\n"


# Trainer.py whose save of interrupted.pt receives a second SIGTERM, as from a process-group kill.
SECOND_SIGTERM_IN_THE_SAVE = """
import os, runpy, signal, sys, time
import modules.train.loop as loop
real_save = loop.save_checkpoint
def save(path, state):
    if path.name == "interrupted.pt":
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(0.2)
    real_save(path, state)
loop.save_checkpoint = save
sys.argv = sys.argv[1:]
runpy.run_path("Trainer.py", run_name="__main__")
"""


def test_a_second_sigterm_during_the_save_of_interrupted_pt_does_not_lose_it(tiny_dataset, tmp_path):
    run = tmp_path / "run"
    code, out, err = stop_in_epoch_2(["-c", SECOND_SIGTERM_IN_THE_SAVE, *trainer_command(tiny_dataset, run)])
    assert code == 143, err
    assert f"SIGTERM: still saving {run / 'checkpoints' / 'interrupted.pt'}, a moment" in err
    assert "Traceback" not in err and "saved" in out
    assert load_checkpoint(run / "checkpoints" / "interrupted.pt")["epoch"] >= 1, out


def test_sighup_during_training_saves_a_resumable_checkpoint(tiny_dataset, tmp_path):
    run = tmp_path / "run"
    code, out, err = stop_in_epoch_2(trainer_command(tiny_dataset, run), signal.SIGHUP)
    assert code == 129, err
    assert err.strip().splitlines()[-1] == "stopped by SIGHUP"
    assert load_checkpoint(run / "checkpoints" / "interrupted.pt")["epoch"] >= 1, out
