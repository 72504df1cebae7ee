"""``mfs``: the command-line tools around training (``mfs-train`` is the Hydra entry point).

One module per family of commands, each with its parsers beside their handlers; arguments.py
holds the conventions they share (``--output``, ``--device``, ``--quiet``, exit status 3).
"""

import argparse
import os
import signal
import sys

from mobilefaceswap import __version__
from mobilefaceswap.cli import conversion, dashboards, datasets, live, marking, measuring, scoring, swapping
from mobilefaceswap.cli.arguments import INTERRUPTED_EXIT, TERMINATED_EXIT

FAMILIES = (measuring, conversion, swapping, live, marking, scoring, dashboards, datasets)


def build_arg_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mfs", description=__doc__.split("\n\n")[0])
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    for family in FAMILIES:
        family.add_commands(commands)
    return parser


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised in the main thread as Ctrl-C is, so that every ``finally`` removes its temporaries."""


def _terminate(signum, frame) -> None:
    raise Terminated()


def main(argv: list[str] | None = None) -> None:
    args = build_arg_parser().parse_args(argv)
    signal.signal(signal.SIGTERM, _terminate)
    try:
        args.run(args)
    except (OSError, ValueError, RuntimeError) as err:  # WeightsError and DataError are RuntimeErrors
        sys.exit(f"mfs {args.command}: error: {err}")
    except KeyboardInterrupt as err:
        terminated = isinstance(err, Terminated)
    else:
        return
    how = "terminated (SIGTERM)" if terminated else "interrupted (Ctrl-C)"
    print(f"mfs {args.command}: {how}: stopped; files finished before are kept, nothing half-written is left", file=sys.stderr)
    sys.stdout.flush()
    sys.stderr.flush()
    # The shell's codes for a command ended by SIGTERM / SIGINT. os._exit: what the signal
    # interrupted (video containers, native threads) is not destroyed, where destructors crashed (-11);
    # every temporary was removed by its own ``finally`` before this point.
    os._exit(TERMINATED_EXIT if terminated else INTERRUPTED_EXIT)
