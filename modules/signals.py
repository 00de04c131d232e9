"""SIGINT, SIGTERM and SIGHUP handled alike: each raises :class:`Interrupted` (a KeyboardInterrupt) in the main thread.

Slurm, ``docker stop``, ``timeout``, ``kill`` and torchrun stop a process with SIGTERM, and a closed
terminal or SSH session (without ``nohup``) sends SIGHUP; the default action of both kills it on the
spot: no checkpoint of the running epoch, no clean-up of temporary files or of the run folder's lock.
Turned into an exception, they take the path Ctrl-C takes: the training loop saves ``interrupted.pt``,
every ``with`` block unwinds (a half-written file is removed), and the CLI exits 128 + the signal
number (130 for SIGINT, 143 for SIGTERM, 129 for SIGHUP) with one line.
"""
import os
import signal
import sys
import threading
from contextlib import contextmanager

HANDLED = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name))


class Interrupted(KeyboardInterrupt):
    """A stop signal arrived; ``signum`` says which (KeyboardInterrupt: every ``except`` of Ctrl-C sees it)."""

    def __init__(self, signum=signal.SIGINT):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum

    @property
    def name(self):
        return signal.Signals(self.signum).name


def _raise_interrupted(signum, frame):
    raise Interrupted(signum)


def signal_of(interrupt):
    """The signal number behind a KeyboardInterrupt (a plain one is Ctrl-C's SIGINT)."""
    return getattr(interrupt, "signum", signal.SIGINT)


@contextmanager
def _handlers(handler):
    """Within the block every stop signal goes to ``handler``, except one that is ignored (SIG_IGN:
    e.g. SIGINT in a background job of a non-interactive shell, SIGHUP under nohup), which stays
    ignored; the previous handlers come back after it. Outside the main thread nothing changes
    (Python allows handlers only there)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {signum: signal.getsignal(signum) for signum in HANDLED}
    for signum, old in previous.items():
        if old is not signal.SIG_IGN:
            signal.signal(signum, handler)
    try:
        yield
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old if old is not None else signal.SIG_DFL)


def stop_signals_raise():
    """Within the block, SIGINT, SIGTERM and SIGHUP raise :class:`Interrupted`."""
    return _handlers(_raise_interrupted)


def saving_despite_signals(path):
    """Within the block a stop signal does not interrupt: the save of ``path`` (the checkpoint of an
    interrupted run) finishes, and a line says so. A second SIGTERM is common (a process-group kill
    plus torchrun forwarding it, an impatient user), and it used to abort the save without a word."""
    def note(signum, frame):
        # os.write, not print: the handler may run in the middle of a buffered write to stderr
        os.write(sys.stderr.fileno(), f"{signal.Signals(signum).name}: still saving {path}, a moment\n".encode())
    return _handlers(note)
