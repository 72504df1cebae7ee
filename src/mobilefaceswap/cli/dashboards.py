"""``mfs dashboard``: the wandb workspace of a Table 2 sweep, built as code."""

import argparse

from mobilefaceswap.cli.arguments import add_output


def dashboard(args: argparse.Namespace) -> None:
    from mobilefaceswap.dashboard import build_workspace, save_workspace, write_workspace

    workspace = build_workspace(args.entity, args.project, args.group)
    if args.output:
        print(f"written: {write_workspace(workspace, args.output)}")
    else:
        print(f"saved: {save_workspace(workspace)}")


def add_commands(commands) -> None:
    board = commands.add_parser(
        "dashboard", help="a wandb workspace of a sweep: Table 2, losses, held-out curves, swap metrics, image grids"
    )
    board.add_argument("--entity", required=True, help="wandb entity (user or team) of the project")
    board.add_argument("--project", default="mobilefaceswap", help="wandb project (default %(default)s)")
    board.add_argument("--group", help="only the runs of this sweep: its folder, e.g. experiments/results/table2/smoke")
    add_output(board, "write the workspace as JSON here instead of saving it to wandb (no credentials needed)", required=False)
    board.set_defaults(run=dashboard)
