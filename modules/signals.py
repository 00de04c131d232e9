"""SIGINT and SIGTERM handled alike: both raise :class:`Interrupted` (a KeyboardInterrupt) in the main thread.

Slurm, ``docker stop``, ``timeout``, ``kill`` and torchrun stop a process with SIGTERM, whose default
action kills it on the spot: no checkpoint of the running epoch, no clean-up of temporary files or of
the run folder's lock. Turned into an exception, SIGTERM takes the path Ctrl-C takes: the training
loop saves ``interrupted.pt``, every ``with`` block unwinds (a half-written file is removed), and the
CLI exits 128 + the signal number (130 for SIGINT, 143 for SIGTERM) with one line.
"""
import signal
import threading
from contextlib import contextmanager

HANDLED = (signal.SIGINT, signal.SIGTERM)


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
def stop_signals_raise():
    """Within the block, SIGINT and SIGTERM raise :class:`Interrupted`; the previous handlers come back
    after it. A signal that is ignored (SIG_IGN: e.g. SIGINT in a background job of a non-interactive
    shell) stays ignored; outside the main thread nothing changes (Python allows handlers only there)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {signum: signal.getsignal(signum) for signum in HANDLED}
    for signum, handler in previous.items():
        if handler is not signal.SIG_IGN:
            signal.signal(signum, _raise_interrupted)
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler if handler is not None else signal.SIG_DFL)
