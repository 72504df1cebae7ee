"""``mfs``: the command-line tools around training (``mfs-train`` is the Hydra entry point).

One module per family of commands, each with its parsers beside their handlers; arguments.py
holds the conventions they share (``--output``, ``--device``, ``--quiet``, exit status 3).
"""

import argparse
import sys

from mobilefaceswap import __version__
from mobilefaceswap.cli import conversion, dashboards, datasets, live, marking, measuring, scoring, swapping
from mobilefaceswap.stopping import exit_stopped, raise_on_sigterm

FAMILIES = (measuring, conversion, swapping, live, marking, scoring, dashboards, datasets)


def build_arg_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mfs", description=__doc__.split("\n\n")[0])
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    for family in FAMILIES:
        family.add_commands(commands)
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_arg_parser().parse_args(argv)
    raise_on_sigterm()
    try:
        args.run(args)
    except (OSError, ValueError, RuntimeError) as err:  # WeightsError and DataError are RuntimeErrors
        sys.exit(f"mfs {args.command}: error: {err}")
    except KeyboardInterrupt as stop:  # Ctrl-C, or SIGTERM raised as it
        exit_stopped(f"mfs {args.command}", stop, "stopped; files finished before are kept, nothing half-written is left")
