"""``mfs verify`` and ``mfs bench-watermark``: outputs marked as synthetic, read back."""

import argparse
import json
import sys

from mobilefaceswap.cli.arguments import add_output, add_quiet, positive_int, report_only_on_stdout


def verify(args: argparse.Namespace) -> None:
    from mobilefaceswap.provenance.verify import exit_code, format_report, verify_paths

    with report_only_on_stdout():
        reports = verify_paths(args.path)
    print(json.dumps(reports, indent=2) if args.json else "\n".join(map(format_report, reports)) or f"{args.path}: no file")
    sys.exit(exit_code(reports))


def bench_watermark(args: argparse.Namespace) -> None:
    from mobilefaceswap.files import write_json_atomic
    from mobilefaceswap.provenance.bench import run_watermark_bench

    with report_only_on_stdout():
        report = run_watermark_bench(per_photo=args.per_photo, clips=args.clips)
    if args.output:
        write_json_atomic(args.output, report)
    if not args.quiet:
        print(json.dumps(report, indent=2))


def add_commands(commands) -> None:
    check = commands.add_parser("verify", help="is a file (or each file of a folder) marked as synthetic: watermark, metadata")
    check.add_argument("path", help="image, video, or folder of them")
    check.add_argument("--json", action="store_true", help="one JSON report per file")
    check.set_defaults(run=verify)

    bench = commands.add_parser(
        "bench-watermark", help="watermark survival under JPEG, resizing, crops, H.264; false positives; PSNR"
    )
    bench.add_argument("--per-photo", type=positive_int, default=30, help="random crops of each real photo that get marked")
    bench.add_argument("--clips", type=positive_int, default=8, help="video clips (20 frames each) re-encoded at CRF 28")
    add_output(bench, "also write the JSON report here", required=False)
    add_quiet(bench, "do not print the report (write it with --output)")
    bench.set_defaults(run=bench_watermark)
