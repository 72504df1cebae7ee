"""``mfs stats`` and ``mfs bench``: the student's size and speed beside the paper's."""

import argparse
import json

from mobilefaceswap.cli.arguments import (
    add_device,
    add_name_list,
    add_output,
    add_quiet,
    non_negative,
    positive,
    positive_int,
    report_only_on_stdout,
)
from mobilefaceswap.inference.formats import BENCH_VARIANTS, RUNTIMES


def stats(args: argparse.Namespace) -> None:
    from mobilefaceswap.stats import format_networks, format_table, network_stats, student_stats

    with report_only_on_stdout():
        found = student_stats(args.size)
        if args.networks:
            found["networks"] = network_stats()
    if args.json:
        print(json.dumps(found, indent=2))
    else:
        print(format_table(found))
        if args.networks:
            print("\n" + format_networks(found["networks"]))


def bench(args: argparse.Namespace) -> None:
    from pathlib import Path

    from mobilefaceswap.files import refuse_overwrite, write_text_atomic
    from mobilefaceswap.inference.bench import run_bench
    from mobilefaceswap.inference.live_bench import run_live_bench
    from mobilefaceswap.models.swapper import load_swapper

    if args.output:
        refuse_overwrite(Path(args.output), {"--checkpoint": args.checkpoint})
    with report_only_on_stdout():
        swapper = load_swapper(args.checkpoint) if args.checkpoint else None
        live = args.live and run_live_bench(swapper, args.frames, args.pipeline_runtime, args.threads)
        report = live or run_bench(
            threads=args.threads,
            seconds=args.seconds,
            clip_frames=args.frames,
            swapper=swapper,
            memory_seconds=tuple(args.memory_seconds),
            checkpoint=args.checkpoint,
            device=args.device,
            variants=tuple(args.variants),
            pipeline_runtime=args.pipeline_runtime,
            quiet=args.quiet,
        )
    text = json.dumps(report, indent=2)
    if args.output:
        write_text_atomic(Path(args.output), text + "\n")
    if not args.quiet:
        print(text if args.json else "\n".join(f"{k:32} {v}" for k, v in report["fps"].items()))


def add_commands(commands) -> None:
    size = commands.add_parser("stats", help="params and MACs of the baked student beside the paper's")
    size.add_argument("--size", type=int, default=224, choices=(224, 256), help="input resolution")
    size.add_argument("--json", action="store_true", help="print JSON instead of a table")
    size.add_argument("--networks", action="store_true", help="also the identity network and the teachers (Table 1)")
    size.set_defaults(run=stats)

    speed = commands.add_parser("bench", help="fps of the baked student, SimSwap and the 720p video pipeline")
    speed.add_argument("--json", action="store_true", help="print the whole JSON report")
    add_output(speed, "also write the JSON report to this file", required=False)
    speed.add_argument("--checkpoint", help="swapper file (default: random weights; speed does not depend on them)")
    speed.add_argument("--threads", type=positive_int, default=2)
    speed.add_argument("--seconds", type=non_negative, default=3.0, help="minimum time per measurement (0: the shortest run)")
    speed.add_argument(
        "--frames", type=positive_int, default=100, help="frames of each pipeline clip (720p one face, three faces, 1080p)"
    )
    speed.add_argument("--memory-seconds", type=positive, nargs=2, default=[10.0, 60.0], metavar=("SHORT", "LONG"),
                       help="lengths of the two 720p clips whose peak RSS under mfs swap is compared")
    add_name_list(speed, "--variants", BENCH_VARIANTS, "runtime variants of the baked network to measure")
    add_device(speed, "cuda: also the networks on the GPU (PyTorch fp16, ONNX Runtime's CUDA provider)", default="cpu")
    speed.add_argument(
        "--pipeline-runtime", choices=RUNTIMES, default="onnx", help="what runs the baked network in the video pipeline"
    )
    speed.add_argument("--live", action="store_true", help="instead: mfs live on a 720p clip played as a 30 fps "
                       "camera (fps, latency p50/p95, frames dropped) beside the offline pipeline on the same clip")
    add_quiet(speed, "no progress, and no report (write it with --output)")
    speed.set_defaults(run=bench)
