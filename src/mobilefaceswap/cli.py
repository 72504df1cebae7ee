"""``mfs``: the command-line tools around training (``mfs-train`` is the Hydra entry point)."""

import argparse
import json
import sys


def _stats(args: argparse.Namespace) -> None:
    from mobilefaceswap.stats import format_table, student_stats

    stats = student_stats(args.size)
    print(json.dumps(stats, indent=2) if args.json else format_table(stats))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mfs", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    stats = commands.add_parser("stats", help="params and MACs of the baked student beside the paper's")
    stats.add_argument("--size", type=int, default=224, choices=(224, 256), help="input resolution")
    stats.add_argument("--json", action="store_true", help="print JSON instead of a table")
    stats.set_defaults(run=_stats)
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    try:
        args.run(args)
    except (OSError, ValueError, RuntimeError) as err:
        sys.exit(f"mfs {args.command}: error: {err}")


if __name__ == "__main__":
    main()
