"""``mfs live``: a source identity swapped into a camera stream in real time."""

import argparse
import json
import sys

from mobilefaceswap.cli.arguments import add_output, add_quiet, non_negative, report_only_on_stdout
from mobilefaceswap.cli.swapping import add_session_options, open_session
from mobilefaceswap.stopping import INTERRUPTED_EXIT, Terminated


def live(args: argparse.Namespace) -> None:
    from pathlib import Path

    from mobilefaceswap.inference.camera import open_camera
    from mobilefaceswap.inference.live import run_live
    from mobilefaceswap.inference.live_outputs import check_outputs
    from mobilefaceswap.inference.video import VideoEncoding

    encoding = VideoEncoding(args.codec, args.crf, args.preset)  # every bad option: one line before any work
    output = args.output and Path(args.output)
    window = args.window or not (output or args.virtual_camera)  # shown when written nowhere else
    camera_file = None if args.camera.strip().isdigit() else Path(args.camera)
    inputs = {"--camera": camera_file, "--source": Path(args.source), "--only": args.only and Path(args.only),
              "--checkpoint": Path(args.checkpoint)}
    check_outputs(output, inputs, window, args.virtual_camera)
    with report_only_on_stdout():
        camera = open_camera(args.camera)
        try:
            session = open_session(args)
            summary = run_live(session, camera, output, window, args.virtual_camera, encoding, progress=not args.quiet,
                               duration=args.duration, runtime=args.runtime)
        except KeyboardInterrupt as err:  # before the stream, or a second Ctrl-C: stop at once (no file is left)
            if isinstance(err, Terminated):
                raise  # main() ends it with 143, as every command
            print("mfs live: interrupted", file=sys.stderr)
            sys.exit(INTERRUPTED_EXIT)
        finally:
            camera.stop()
    if args.json:
        print(json.dumps(summary.as_dict(), indent=2))
    else:
        print(f"{summary.frames_shown} frames shown of {summary.frames_captured} captured ({summary.frames_dropped} "
              f"dropped) in {summary.seconds:.1f} s: {summary.fps:.1f} fps; latency from capture "
              f"p50 {summary.latency_ms['p50']} ms, p95 {summary.latency_ms['p95']} ms; ended by {summary.ended_by}")
    if summary.interrupted:
        sys.exit(INTERRUPTED_EXIT)


def add_commands(commands) -> None:
    live_ = commands.add_parser(
        "live", help="swap a source identity into a camera stream in real time (window, virtual camera or file)"
    )
    live_.add_argument("--source", required=True, help="image of the source face (its largest face is used)")
    live_.add_argument("--checkpoint", required=True, help="swapper file: mfs convert-paddle output or a run's swapper.pt")
    live_.add_argument(
        "--camera", default="0", help="a camera's index (0: the first), or a video file played at its own frame rate "
        "(default %(default)s)"
    )
    add_output(live_, "also write the stream to this video file (.mp4, .mkv, .mov, .m4v)", required=False)
    live_.add_argument("--window", action="store_true", help="show it in a window (the default without --output "
                       "or --virtual-camera); q or Esc ends the stream")
    live_.add_argument("--virtual-camera", action="store_true",
                       help="send it to a virtual webcam (pip install 'mobilefaceswap[live]'; v4l2loopback on Linux)")
    live_.add_argument("--duration", type=non_negative, metavar="SECONDS", help="end after this long (default: "
                       "when the camera ends, the window is closed, or Ctrl-C)")
    add_session_options(live_, runtime="onnx")
    live_.add_argument("--json", action="store_true", help="print the summary as JSON (stdout is that JSON alone)")
    add_quiet(live_, "no progress line on stderr")
    live_.set_defaults(run=live)
