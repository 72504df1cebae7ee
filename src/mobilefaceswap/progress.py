"""Progress of long work as lines on stderr: ``3 of 12: name``, with the time it should take or is left."""

import sys
import time


def duration(seconds: float) -> str:
    """``40 s``, ``3 min``, ``1 h 05 min``: as precise as a forecast deserves."""
    if seconds < 90:
        return f"{max(seconds, 1):.0f} s"
    minutes = round(seconds / 60)
    return f"{minutes} min" if minutes < 60 else f"{minutes // 60} h {minutes % 60:02d} min"


class Progress:
    """One line on stderr as each of ``total`` steps starts: its number, its name, and its own
    estimate when the caller knows one, else the time left at the mean pace of the steps so far.
    Nothing at all when ``quiet``."""

    def __init__(self, total: int, quiet: bool = False):
        self.total, self.quiet = total, quiet
        self.started: int = 0
        self.clock = time.monotonic()

    def step(self, name: str, estimate: float | None = None) -> None:
        done, elapsed = self.started, time.monotonic() - self.clock
        self.started += 1
        if self.quiet:
            return
        if estimate is not None:
            note = f" (about {duration(estimate)})"
        elif done:
            note = f" (about {duration(elapsed / done * (self.total - done))} left)"
        else:
            note = ""
        print(f"{self.started} of {self.total}: {name}{note}", file=sys.stderr, flush=True)
