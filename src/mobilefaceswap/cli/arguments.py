"""The conventions every ``mfs`` command follows: ``--output`` (``--out`` accepted too) for what
it writes, ``--device auto|cpu|cuda``, ``--quiet``, and exit status 3 for a partial result."""

import argparse
import contextlib
import ctypes
import os
import sys
from collections.abc import Iterator

from mobilefaceswap.inference.device import DEVICES, resolve_device

PARTIAL_EXIT = 3  # some inputs were skipped (listed on stderr); the rest were done


def add_output(command: argparse.ArgumentParser, help: str, required: bool = True, **kwargs) -> None:
    command.add_argument("--output", "--out", dest="output", required=required, help=help, **kwargs)


def add_device(command: argparse.ArgumentParser, help: str, default: str = "auto") -> None:
    command.add_argument("--device", choices=DEVICES, default=default, help=f"{help} (default %(default)s)")


def add_quiet(command: argparse.ArgumentParser, help: str = "no progress bars") -> None:
    command.add_argument("--quiet", action="store_true", help=help)


def torch_device(requested: str) -> str:
    """``--device`` as the name torch takes: ``auto`` resolved, ``cuda`` without a GPU the CPU
    (``cpu`` as it is: no torch import in a command that may not need it)."""
    return "cpu" if requested == "cpu" else resolve_device(requested).type


@contextlib.contextmanager
def report_only_on_stdout() -> Iterator[None]:
    """Whatever runs inside writes to stderr, so that stdout holds the report printed after it alone.

    Third-party progress (NNCF's bars through Python's ``sys.stdout``, OpenVINO's and ONNX
    Runtime's native prints straight to file descriptor 1) is moved at both levels; C's buffered
    stdout is flushed before descriptor 1 is given back, so nothing reaches it later.
    """
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        os.dup2(2, 1)
        with contextlib.redirect_stdout(sys.stderr):
            yield
    finally:
        sys.stderr.flush()
        ctypes.CDLL(None).fflush(None)
        os.dup2(saved, 1)
        os.close(saved)


def exit_if_partial(skipped: list[str]) -> None:
    if skipped:
        sys.exit(PARTIAL_EXIT)


def non_negative(text: str) -> float:
    value = float(text)
    if not value >= 0:  # also refuses nan
        raise argparse.ArgumentTypeError(f"{text} is negative; use 0 or more")
    return value


def positive(text: str) -> float:
    """A duration or a distance: refused at parse time unless above 0 (and finite)."""
    value = float(text)
    if not 0 < value < float("inf"):  # also refuses nan
        raise argparse.ArgumentTypeError(f"{text}: use a number above 0")
    return value


def positive_int(text: str) -> int:
    """A count: refused at parse time unless 1 or more (0 frames or workers would fail late, or be clamped)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text}: use 1 or more")
    return value


def name_list(known: list[str]):
    """An argparse type: comma-separated names, each one of ``known``."""

    def parse(text: str) -> list[str]:
        names = [name.strip() for name in text.split(",") if name.strip()]
        unknown = [name for name in names if name not in known]
        if unknown or not names:
            raise argparse.ArgumentTypeError(f"{','.join(unknown) or repr(text)}: choose from {','.join(known)}")
        return names

    return parse


def add_name_list(command: argparse.ArgumentParser, flag: str, known: list[str], what: str) -> None:
    """``flag NAME,NAME,...``: some of ``known``, all of them by default."""
    text = f"comma-separated {what} (default: all: {','.join(known)})"
    command.add_argument(flag, type=name_list(known), default=known, help=text)
