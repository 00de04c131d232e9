"""SIGTERM is handled as Ctrl-C is: a resumable checkpoint, no lock left, exit 143 with one line."""
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
from modules.signals import Interrupted, stop_signals_raise
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
    """The suite run as a background job of a script (``cmd &``) starts with SIGINT ignored, which
    stop_signals_raise rightly keeps ignored: give this test Python's own SIGINT handler."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


def test_sigterm_and_sigint_raise_interrupted_and_the_handlers_come_back(sigint_not_ignored):
    before = signal.getsignal(signal.SIGTERM)
    for signum, code in ((signal.SIGTERM, 143), (signal.SIGINT, 130)):
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


def test_sigterm_during_training_saves_a_resumable_checkpoint_and_removes_the_lock(tiny_dataset, tmp_path):
    run = tmp_path / "run"
    command = [sys.executable, "Trainer.py", "--DR", str(tiny_dataset), "--save_root", str(run), *TINY_WIDTH_FLAGS,
               "--device", "cpu", "--num_workers", "0", "--train_vi_len", "4", "--val_vi_len", "20",
               "--batch_size", "2", "--num_epoch", "1000", "--per_save", "1000"]
    process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env={**os.environ, "OMP_NUM_THREADS": "1"})
    for line in process.stdout:
        if line.startswith("epoch 1/1000: loss"):  # the end of the first epoch
            break
    time.sleep(0.5)  # into epoch 2 (a signal inside epoch 1's last print would land in epoch 1)
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=120)
    assert process.returncode == 143, err
    assert err.strip().splitlines()[-1] == "stopped by SIGTERM" and "Traceback" not in err
    assert "saved" in out and "interrupted.pt" in out
    assert load_checkpoint(run / "checkpoints" / "interrupted.pt")["epoch"] >= 1, out
    assert not (run / LOCK_NAME).exists()
