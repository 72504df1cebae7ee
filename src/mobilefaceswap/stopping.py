"""Ctrl-C (SIGINT) and ``kill`` (SIGTERM), the same way in ``mfs`` and ``mfs-train``: SIGTERM is
raised as Ctrl-C is, so that every ``finally`` removes its temporaries; the command ends with
one line on stderr and the exit code a shell gives a program ended by that signal."""

import os
import signal
import sys
import threading
from typing import NoReturn

INTERRUPTED_EXIT = 130  # 128 + SIGINT, as shells report a program ended by Ctrl-C
TERMINATED_EXIT = 143  # 128 + SIGTERM


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised in the main thread as Ctrl-C is, so that every ``finally`` removes its temporaries."""


def _terminate(signum, frame) -> None:
    raise Terminated()


def raise_on_sigterm() -> None:
    signal.signal(signal.SIGTERM, _terminate)


def exit_stopped(command: str, stop: KeyboardInterrupt, what_is_left: str, at_once: bool = True) -> NoReturn:
    """``COMMAND: interrupted (Ctrl-C): WHAT_IS_LEFT`` on stderr, then exit 130 (SIGTERM: 143)."""
    terminated = isinstance(stop, Terminated)
    how = "terminated (SIGTERM)" if terminated else "interrupted (Ctrl-C)"
    code = TERMINATED_EXIT if terminated else INTERRUPTED_EXIT
    print(f"{command}: {how}: {what_is_left}", file=sys.stderr)
    if not at_once:  # training: the exit hooks finish what is open (a wandb run's files)
        sys.exit(code)
    sys.stdout.flush()
    sys.stderr.flush()
    # os._exit: what the signal interrupted (video containers, native threads) is not destroyed,
    # where destructors crashed (-11); every temporary was removed by its own ``finally`` before.
    os._exit(code)


class DeferredStop:
    """Between ``start()`` and ``end()``, Ctrl-C and SIGTERM are noted in ``pending`` instead of
    raised, for the caller to raise where its work is whole (a training step done and saved); a
    second signal is raised at once. Only the main thread receives signals."""

    def __init__(self) -> None:
        self.pending: KeyboardInterrupt | None = None
        self._previous: dict[int, object] = {}

    def start(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        self.pending = None
        for signum in (signal.SIGINT, signal.SIGTERM):
            self._previous[signum] = signal.getsignal(signum)
            signal.signal(signum, self._note)

    def _note(self, signum, frame) -> None:
        stop = Terminated() if signum == signal.SIGTERM else KeyboardInterrupt()
        if self.pending is not None:
            raise stop
        self.pending = stop

    def end(self) -> None:
        for signum, handler in self._previous.items():
            if handler is not None:  # None: a handler not set from Python, which cannot be set back
                signal.signal(signum, handler)
        self._previous.clear()
