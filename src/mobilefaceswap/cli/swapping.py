"""``mfs swap``, ``mfs export`` and ``mfs demo``: a swapper file put to use."""

import argparse
import json
import sys

from mobilefaceswap.cli.arguments import (
    add_device,
    add_name_list,
    add_output,
    add_quiet,
    exit_if_partial,
    non_negative,
    positive_int,
    report_only_on_stdout,
)
from mobilefaceswap.inference.formats import EXPORTED, RUNTIMES
from mobilefaceswap.inference.smoothing import SMOOTHING_BETA, SMOOTHING_MIN_CUTOFF

EXPORTED_NAMES = [runtime.name for runtime in EXPORTED]


def swap(args: argparse.Namespace) -> None:
    from pathlib import Path

    from mobilefaceswap.inference.swap import Swapping, plan_swaps, swap_targets
    from mobilefaceswap.inference.video import VideoEncoding

    encoding = VideoEncoding(args.codec, args.crf, args.preset)  # bad values: one line before any work
    target = Path(args.target)
    inputs = {"--source": Path(args.source), "--only": args.only and Path(args.only), "--checkpoint": Path(args.checkpoint)}
    plan = plan_swaps(target, Path(args.output), inputs)  # every output problem before any work
    with report_only_on_stdout():
        session = open_session(args, aligned=args.aligned, c2pa=c2pa_signer(args))
    swapping = Swapping(session.pipeline, session.provenance, aligned=args.aligned, progress=not args.quiet, encoding=encoding)
    try:
        with report_only_on_stdout():
            summary = swap_targets(swapping, plan, folder=target.is_dir())
    except BaseException:  # a signal, a full disk: what was written before it stopped
        if swapping.summary.images or swapping.summary.videos:
            print(json.dumps(swapping.summary.as_dict(), indent=2))
        raise
    print(json.dumps(summary.as_dict(), indent=2))
    exit_if_partial(summary.skipped)


def open_session(args: argparse.Namespace, **extra):
    """The swap session of the options ``add_session_options`` adds (``extra``: more of ``open_swap_session``'s)."""
    from mobilefaceswap.inference.session import open_swap_session

    return open_swap_session(
        args.checkpoint,
        source=args.source,
        only=args.only,
        runtime=args.runtime,
        device=args.device,
        watermark=not args.no_watermark,
        redetect_every=args.redetect_every,
        smoothing=args.smoothing,
        smoothing_beta=args.smoothing_beta,
        **extra,
    )


def c2pa_signer(args: argparse.Namespace):
    """The C2PA signer of ``--c2pa-cert`` and ``--c2pa-key``, or None without them."""
    if not (args.c2pa_cert or args.c2pa_key):
        return None
    if not (args.c2pa_cert and args.c2pa_key):
        raise ValueError("--c2pa-cert and --c2pa-key go together")
    from mobilefaceswap.provenance.c2pa_manifest import C2paSigner

    return C2paSigner(args.c2pa_cert, args.c2pa_key, args.c2pa_alg)


def export(args: argparse.Namespace) -> None:
    from pathlib import Path

    from mobilefaceswap.files import check_writable_folder, refuse_overwrite
    from mobilefaceswap.inference.calibration import calibration_faces
    from mobilefaceswap.inference.export import ExportError, export_baked
    from mobilefaceswap.inference.session import open_swap_session

    name = args.name or Path(args.source).stem
    runtimes = [RUNTIMES[r] for r in args.runtimes]
    for file in (file for runtime in runtimes for file in runtime.files(name)):
        refuse_overwrite(Path(args.output) / file, {"--checkpoint": args.checkpoint, "--source": args.source})
    check_writable_folder(args.output)
    with report_only_on_stdout():
        pipeline = open_swap_session(args.checkpoint, source=args.source, device=args.device).pipeline
        faces = calibration_faces(pipeline.swapper.crop_size, pipeline.swapper.template)
        size = pipeline.swapper.crop_size
        report = export_baked(pipeline.network, size, args.output, name, faces, runtimes, quiet=args.quiet)
    for runtime, reason in report["left_out"].items():
        print(f"left out {runtime}: {reason}", file=sys.stderr)
    if not report["files"]:
        raise ExportError(f"no format written: {', '.join(report['left_out'])} missed the check against PyTorch")
    if not args.quiet:
        print(json.dumps(report, indent=2))
    exit_if_partial(list(report["left_out"]))


def demo(args: argparse.Namespace) -> None:
    from mobilefaceswap.demo import serve

    serve(args.checkpoint, args.host, args.port, args.max_upload_mb, args.output, args.device)


def add_swap(commands) -> None:
    swap_ = commands.add_parser("swap", help="swap a source identity into images, videos or folders")
    swap_.add_argument(
        "--source", required=True, help="image of the source face (its largest face is used; the summary says if there are more)"
    )
    swap_.add_argument("--target", required=True, help="image, video, or folder of them")
    add_output(swap_, "output file (or folder for a folder target)")
    swap_.add_argument("--checkpoint", required=True, help="swapper file: mfs convert-paddle output or a run's swapper.pt")
    swap_.add_argument("--aligned", action="store_true", help="source and targets are aligned crops: write the raw output")
    add_session_options(swap_, runtime="torch")
    add_quiet(swap_, "no progress bar")
    swap_.add_argument("--c2pa-cert", help="PEM certificate chain (signer first): sign each output with a C2PA manifest")
    swap_.add_argument("--c2pa-key", help="PEM private key of that certificate")
    swap_.add_argument("--c2pa-alg", default="es256", help="signing algorithm of the key (es256, es384, ps256, ed25519, ...)")
    swap_.set_defaults(run=swap)


def add_session_options(command: argparse.ArgumentParser, runtime: str) -> None:
    """The options of the swap session that ``mfs swap`` and ``mfs live`` share: which faces,
    video tracking and smoothing, encoding, runtime (default ``runtime``), device, watermark."""
    command.add_argument("--only", help="swap only faces of the person in this image")
    command.add_argument("--redetect-every", type=positive_int, default=5, help="video: detect every N frames, track in between")
    command.add_argument(
        "--smoothing", type=non_negative, default=SMOOTHING_MIN_CUTOFF, metavar="HZ",
        help="video: One Euro filter's minimum cutoff for the landmarks; lower is steadier on a still face "
        "(0 = none; default %(default)s)",
    )
    command.add_argument(
        "--smoothing-beta", type=non_negative, default=SMOOTHING_BETA,
        help="video: how fast the cutoff rises with the face's speed (in eye distances per second); "
        "higher lags less (default %(default)s)",
    )
    command.add_argument("--codec", default="h264", help="video: h264 or hevc (default %(default)s)")
    command.add_argument(
        "--crf", type=int, default=18, help="video: constant rate factor, 0 (lossless) to 51 (default %(default)s)"
    )
    command.add_argument(
        "--preset", default="ultrafast", help="video: ultrafast .. veryslow, slower: smaller (default %(default)s)"
    )
    command.add_argument(
        "--runtime", choices=RUNTIMES, default=runtime,
        help="run the baked network with (int8: calibrated on the bundled faces; default %(default)s)"
    )
    add_device(command, "auto: the GPU when there is one (fp16), else the CPU")
    command.add_argument(
        "--no-watermark", action="store_true", help="leave out the invisible watermark (metadata is still written)"
    )


def add_export(commands) -> None:
    export_ = commands.add_parser(
        "export", help="bake a source identity and export it for every runtime, each checked against PyTorch"
    )
    export_.add_argument("--checkpoint", required=True, help="swapper file")
    export_.add_argument("--source", required=True, help="image of the source face")
    add_output(export_, "output folder")
    export_.add_argument("--name", help="file name stem (default: the source's)")
    add_name_list(export_, "--runtimes", EXPORTED_NAMES, "formats to write")
    add_device(export_, "where the identity is injected (the checks run on the CPU)")
    add_quiet(export_, "no progress, and no report (the files and their checks are written all the same)")
    export_.set_defaults(run=export)


def add_demo(commands) -> None:
    demo_ = commands.add_parser("demo", help="a web page on localhost to swap photos and videos (pip install '.[demo]')")
    demo_.add_argument("--checkpoint", required=True, help="swapper file")
    demo_.add_argument("--host", default="127.0.0.1", help="address to serve on (default: this machine only)")
    demo_.add_argument("--port", type=int, default=7860)
    demo_.add_argument("--max-upload-mb", type=positive_int, default=200, help="larger uploads are refused on the page")
    demo_.add_argument(
        "--output", "--out", "--out-dir", dest="output", help="keep results here (default: a temporary folder removed on exit)"
    )
    add_device(demo_, "where the swapper runs")
    demo_.set_defaults(run=demo)


def add_commands(commands) -> None:
    add_swap(commands)
    add_export(commands)
    add_demo(commands)
