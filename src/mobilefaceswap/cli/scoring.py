"""``mfs eval-swaps``, ``mfs eval-ffpp``, ``mfs table2`` and ``mfs learning-curves``: scoring swaps,
a Table 2 sweep beside the paper, and the learning curve over seeds."""

import argparse
import json
import sys

from mobilefaceswap.cli.arguments import (
    add_device,
    add_output,
    add_quiet,
    exit_if_partial,
    positive_int,
    report_only_on_stdout,
)


def evaluator_weights(args: argparse.Namespace) -> dict:
    weights = dict(
        inception_weights=args.inception, hopenet_weights=args.hopenet, cosface_weights=args.cosface, device=args.device
    )
    if args.crop_size is not None or args.template is not None:  # else eval-ffpp's swapper's alignment, or 224 arcface
        weights.update(crop_size=args.crop_size or 224, template=args.template or "arcface")
    return weights


def print_scores(report: dict, as_json: bool) -> None:
    """The evaluation report, whole or its scores; skipped rows are listed on stderr either way."""
    if as_json:
        print(json.dumps(report, indent=2))
    else:
        print("\n".join(f"{k:18} {v}" for k, v in report["results"].items() if k != "backends"))
    if report["skipped"]:
        print(f"scored {report['scored']} of {report['pairs']}; skipped:", *report["skipped"], sep="\n  ", file=sys.stderr)


def eval_swaps(args: argparse.Namespace) -> None:
    from mobilefaceswap.evaluation.evaluator import score_manifest

    with report_only_on_stdout():
        report = score_manifest(args.manifest, args.output, progress=not args.quiet, **evaluator_weights(args))
    print_scores(report, args.json)
    exit_if_partial(report["skipped"])


def eval_ffpp(args: argparse.Namespace) -> None:
    from pathlib import Path

    from mobilefaceswap.evaluation.faceforensics import FFppProtocol, score_on_ffpp

    protocol = FFppProtocol(Path(args.root), args.frames, args.compression, args.split, args.limit)
    weights = evaluator_weights(args)
    with report_only_on_stdout():
        report, folder = score_on_ffpp(protocol, args.output, args.checkpoint, args.method, progress=not args.quiet, **weights)
    print_scores(report, args.json)
    print(f"manifest and report: {folder}", file=sys.stderr)
    exit_if_partial(report["skipped"])


def table2(args: argparse.Namespace) -> None:
    from mobilefaceswap.table2 import aggregate
    from mobilefaceswap.table2_figures import log_to_wandb, plot_table2

    text, md, table = aggregate(args.results, args.output, force=args.force)
    figure = plot_table2(args.results, args.output)
    print(text)
    print(f"written: {md}, {table} and {figure}")
    if args.wandb:
        print(f"wandb run: {log_to_wandb(table, figure, args.results, args.wandb_project)}", file=sys.stderr)


def learning_curves(args: argparse.Namespace) -> None:
    from mobilefaceswap.learning.over_seeds import aggregate_seeds, markdown

    output = args.output or args.results
    summary = aggregate_seeds(args.results, output)
    print(json.dumps(summary, indent=2) if args.json else markdown(summary))
    print(f"written: {output}/learning_curves.md, .csv and .png", file=sys.stderr)


def add_scoring_arguments(command: argparse.ArgumentParser) -> None:
    """The scoring networks and the report's form, shared by eval-swaps and eval-ffpp."""
    command.add_argument("--inception", help="Inception weights for FID (default: the TORCH_HOME cache; none: no FID)")
    command.add_argument("--hopenet", help="Hopenet state dict: pose as in the paper (default: dlib landmarks + solvePnP)")
    command.add_argument(
        "--cosface",
        help="CosFace/ArcFace network (.onnx, arcface_torch IResNet or IR-SE state dict): identity as in "
        "the paper (default: dlib)",
    )
    command.add_argument(
        "--crop-size",
        type=positive_int,
        help="FID compares the swapped against the target face crop, aligned at this size (the teacher's: "
        "224 for SimSwap, 256 for FaceShifter; default: the swapper's with eval-ffpp --checkpoint, else 224); "
        "fid_frame compares the whole images",
    )
    command.add_argument(
        "--template", choices=("arcface", "ffhq"), help="alignment template of those crops (default as --crop-size: arcface)"
    )
    command.add_argument("--json", action="store_true", help="print the whole JSON report")
    add_quiet(command)
    add_device(command, "where the swapper and the scoring networks run")


def add_commands(commands) -> None:
    evaluate = commands.add_parser("eval-swaps", help="score any method's swaps: identity retrieval, pose, expression, FID")
    evaluate.add_argument("--manifest", required=True, help="CSV with source,target,swapped[,source_id] image paths")
    add_output(evaluate, "also write the JSON report to this file", required=False)
    add_scoring_arguments(evaluate)
    evaluate.set_defaults(run=eval_swaps)

    ffpp = commands.add_parser("eval-ffpp", help="the paper's FaceForensics++ protocol: N frames per video, swap, score")
    ffpp.add_argument("--root", required=True, help="FaceForensics++ folder (original_sequences/, manipulated_sequences/)")
    add_output(ffpp, "folder for frames, swaps, manifest.csv and eval.json")
    who = ffpp.add_mutually_exclusive_group(required=True)
    who.add_argument("--checkpoint", help="swapper file to evaluate (mfs convert-paddle output or a run's swapper.pt)")
    who.add_argument("--method", help="score FF++'s own manipulated videos of this method instead, e.g. FaceShifter")
    ffpp.add_argument("--frames", type=positive_int, default=10, help="evenly spaced frames per target video")
    ffpp.add_argument("--compression", default="c23", help="raw, c23 or c40")
    ffpp.add_argument(
        "--split", choices=("train", "val", "test"), help="pairs of splits/<split>.json (default: all FaceSwap pairs)"
    )
    ffpp.add_argument("--limit", type=positive_int, help="first N pairs only")
    add_scoring_arguments(ffpp)
    ffpp.set_defaults(run=eval_ffpp)

    table = commands.add_parser("table2", help="aggregate a Table 2 sweep into table2.md, table2.csv and table2.png")
    table.add_argument("--results", required=True, help="the sweep folder, e.g. experiments/results/table2/smoke")
    add_output(table, "where table2.md, .csv and .png go (default %(default)s)", required=False, default="experiments/results")
    table.add_argument(
        "--wandb", action="store_true",
        help="also log the table and its picture to a wandb run in the sweep's group (offline unless WANDB_MODE says otherwise)",
    )  # fmt: skip
    table.add_argument("--wandb-project", default="mobilefaceswap", help="wandb project (default %(default)s)")
    table.add_argument("--force", action="store_true", help="replace a table with more scored rows than this sweep gives")
    table.set_defaults(run=table2)

    curves = commands.add_parser("learning-curves", help="the learning curve over seeds: table, criteria and plot")
    curves.add_argument("--results", required=True, help="the sweep folder of seed_*/, e.g. experiments/results/learning_curve")
    add_output(curves, "where learning_curves.md, .csv and .png go (default: the results folder)", required=False)
    curves.add_argument("--json", action="store_true", help="print the summary as JSON")
    curves.set_defaults(run=learning_curves)
