"""What a run prints when tqdm is silent (output not a terminal: a log file, CI, nohup).

tqdm's bars (``disable=None``) show only when stderr is a terminal; without them a first run would say
nothing for minutes (dataset generation, decoding, the first epoch). :func:`note` prints what is being
done and :class:`Progress` a line at intervals, both only when no bar shows the same thing.
"""
import sys
import time

PROGRESS_INTERVAL_S = 30.0


def bars_shown():
    """True when tqdm shows its bars (stderr is a terminal)."""
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):  # replaced or closed stream
        return False


def note(message):
    """Print ``message`` (flushed) unless a tqdm bar already says it."""
    if not bars_shown():
        print(message, flush=True)


class Progress:
    """``<desc>: batch i/n, loss x, 31 s`` every PROGRESS_INTERVAL_S seconds; silent beside a bar."""

    def __init__(self, desc, total=None, enabled=True):
        self.desc, self.total = desc, total
        self.enabled = enabled and not bars_shown()
        self.interval = PROGRESS_INTERVAL_S
        self.started = self.last = time.perf_counter()

    def update(self, done, **values):
        """``done`` batches so far; ``values`` (e.g. loss=0.04) are shown with 4 significant digits."""
        now = time.perf_counter()
        if not self.enabled or now - self.last < self.interval:
            return
        self.last = now
        of = f"/{self.total}" if self.total else ""
        shown = "".join(f", {name} {value:.4g}" for name, value in values.items())
        print(f"{self.desc}: batch {done}{of}{shown}, {now - self.started:.0f} s", flush=True)
