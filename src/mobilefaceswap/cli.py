"""``mfs``: the command-line tools around training (``mfs-train`` is the Hydra entry point)."""

import argparse
import json
import sys

from mobilefaceswap.inference.device import DEVICES
from mobilefaceswap.inference.formats import BENCH_VARIANTS, EXPORTED, RUNTIMES

EXPORTED_NAMES = [runtime.name for runtime in EXPORTED]


def _stats(args: argparse.Namespace) -> None:
    from mobilefaceswap.stats import format_networks, format_table, network_stats, student_stats

    stats = student_stats(args.size)
    if args.networks:
        stats["networks"] = network_stats()
    if args.json:
        print(json.dumps(stats, indent=2))
    else:
        print(format_table(stats))
        if args.networks:
            print("\n" + format_networks(stats["networks"]))


def _convert_paddle(args: argparse.Namespace) -> None:
    from mobilefaceswap.convert.paddle import convert_to_files

    swapper_path, identity_path = convert_to_files(args.swap, args.arcface, args.out)
    print(f"swapper (student + identity network + preprocessing): {swapper_path}")
    print(f"identity network state dict (for identity.pretrained): {identity_path}")


def _swap(args: argparse.Namespace) -> None:
    from pathlib import Path

    from mobilefaceswap.inference.pipeline import FaceSwapPipeline
    from mobilefaceswap.inference.swap import Swapping, plan_swaps, read_image, swap_targets
    from mobilefaceswap.inference.video import VideoEncoding
    from mobilefaceswap.models.swapper import load_swapper
    from mobilefaceswap.provenance.record import Provenance

    encoding = VideoEncoding(args.codec, args.crf, args.preset)  # bad values: one line before any work
    target = Path(args.target)
    inputs = {"--source": Path(args.source), "--only": args.only and Path(args.only), "--checkpoint": Path(args.checkpoint)}
    plan = plan_swaps(target, Path(args.output), inputs)  # every output problem before any work
    pipeline = FaceSwapPipeline(
        load_swapper(args.checkpoint),
        redetect_every=args.redetect_every,
        smoothing=args.smoothing,
        smoothing_beta=args.smoothing_beta,
        runtime=args.runtime,
        device=args.device,
    )
    source = read_image(args.source)
    if args.aligned:
        pipeline.set_aligned_source(source)
    else:
        pipeline.set_source(source)
    if args.only:
        pipeline.only_faces_like(read_image(args.only))
    signer = None
    if args.c2pa_cert or args.c2pa_key:
        from mobilefaceswap.provenance.c2pa_manifest import C2paSigner

        if not (args.c2pa_cert and args.c2pa_key):
            raise ValueError("--c2pa-cert and --c2pa-key go together")
        signer = C2paSigner(args.c2pa_cert, args.c2pa_key, args.c2pa_alg)
    provenance = Provenance.of_model(args.checkpoint, watermark=not args.no_watermark, c2pa=signer)
    swapping = Swapping(pipeline, provenance, aligned=args.aligned, progress=not args.quiet, encoding=encoding)
    summary = swap_targets(swapping, plan, folder=target.is_dir())
    print(json.dumps(summary.as_dict(), indent=2))


def _export(args: argparse.Namespace) -> None:
    from pathlib import Path

    from mobilefaceswap.files import refuse_overwrite
    from mobilefaceswap.inference.calibration import calibration_faces
    from mobilefaceswap.inference.export import export_baked
    from mobilefaceswap.inference.pipeline import FaceSwapPipeline
    from mobilefaceswap.inference.swap import read_image
    from mobilefaceswap.models.swapper import load_swapper

    name = args.name or Path(args.source).stem
    runtimes = [RUNTIMES[r] for r in args.runtimes]
    for file in (file for runtime in runtimes for file in runtime.files(name)):
        refuse_overwrite(Path(args.out) / file, {"--checkpoint": args.checkpoint, "--source": args.source}, "--out")
    pipeline = FaceSwapPipeline(load_swapper(args.checkpoint), device=args.device)
    pipeline.set_source(read_image(args.source))
    faces = calibration_faces(pipeline.swapper.crop_size, pipeline.swapper.template)
    report = export_baked(pipeline.network, pipeline.swapper.crop_size, args.out, name, faces, runtimes)
    print(json.dumps(report, indent=2))


def _bench(args: argparse.Namespace) -> None:
    from pathlib import Path

    from mobilefaceswap.files import refuse_overwrite, write_text_atomic
    from mobilefaceswap.inference.bench import run_bench
    from mobilefaceswap.models.swapper import load_swapper

    if args.out:
        refuse_overwrite(Path(args.out), {"--checkpoint": args.checkpoint}, "--out")
    swapper = load_swapper(args.checkpoint) if args.checkpoint else None
    report = run_bench(
        threads=args.threads,
        seconds=args.seconds,
        clip_frames=args.frames,
        swapper=swapper,
        memory_seconds=tuple(args.memory_seconds),
        checkpoint=args.checkpoint,
        device=args.device,
        variants=tuple(args.variants),
        pipeline_runtime=args.pipeline_runtime,
    )
    text = json.dumps(report, indent=2)
    if args.out:
        write_text_atomic(Path(args.out), text + "\n")
    print(text if args.json else "\n".join(f"{k:32} {v}" for k, v in report["fps"].items()))


def _verify(args: argparse.Namespace) -> None:
    from mobilefaceswap.provenance.verify import exit_code, format_report, verify_paths

    reports = verify_paths(args.path)
    print(json.dumps(reports, indent=2) if args.json else "\n".join(map(format_report, reports)) or f"{args.path}: no file")
    sys.exit(exit_code(reports))


def _bench_watermark(args: argparse.Namespace) -> None:
    from mobilefaceswap.files import write_json_atomic
    from mobilefaceswap.provenance.bench import run_watermark_bench

    report = run_watermark_bench(per_photo=args.per_photo, clips=args.clips)
    if args.out:
        write_json_atomic(args.out, report)
    print(json.dumps(report, indent=2))


def _demo(args: argparse.Namespace) -> None:
    from mobilefaceswap.demo import serve

    serve(args.checkpoint, host=args.host, port=args.port, max_upload_mb=args.max_upload_mb, out_dir=args.out_dir)


def _evaluator_weights(args: argparse.Namespace) -> dict:
    return dict(inception_weights=args.inception, hopenet_weights=args.hopenet, cosface_weights=args.cosface, device=args.device)


def _print_scores(report: dict, as_json: bool) -> None:
    """The evaluation report, whole or its scores; skipped rows are listed on stderr either way."""
    if as_json:
        print(json.dumps(report, indent=2))
    else:
        print("\n".join(f"{k:18} {v}" for k, v in report["results"].items() if k != "backends"))
    if report["skipped"]:
        print(f"scored {report['scored']} of {report['pairs']}; skipped:", *report["skipped"], sep="\n  ", file=sys.stderr)


PARTIAL_EXIT = 3  # eval-swaps scored only part of the manifest


def _eval_swaps(args: argparse.Namespace) -> None:
    from mobilefaceswap.evaluation.evaluator import score_manifest

    report = score_manifest(args.manifest, args.out, progress=not args.quiet, **_evaluator_weights(args))
    _print_scores(report, args.json)
    if report["skipped"]:
        sys.exit(PARTIAL_EXIT)


def _eval_ffpp(args: argparse.Namespace) -> None:
    from pathlib import Path

    from mobilefaceswap.evaluation.faceforensics import FFppProtocol, score_on_ffpp

    protocol = FFppProtocol(Path(args.root), args.frames, args.compression, args.split, args.limit)
    weights = _evaluator_weights(args)
    report, folder = score_on_ffpp(protocol, args.out, args.checkpoint, args.method, progress=not args.quiet, **weights)
    _print_scores(report, args.json)
    print(f"manifest and report: {folder}", file=sys.stderr)


def _prepare_data(args: argparse.Namespace) -> None:
    from functools import partial

    from mobilefaceswap.config import compose_config
    from mobilefaceswap.data.vggface2 import PrepareConfig, prepare_vggface2
    from mobilefaceswap.training.frozen import build_face_parser

    cfg = compose_config(args.overrides)
    landmarks = args.landmarks or ("csv" if args.landmark_csv else "dlib")
    alignment = cfg.teacher.alignment
    config = PrepareConfig(
        alignment.size, alignment.template, args.min_eye_distance, args.shard_size, landmarks, args.insightface_root
    )
    report = prepare_vggface2(
        args.root,
        args.out,
        config,
        args.landmark_csv,
        args.workers,
        progress=not args.quiet,
        face_parser=partial(build_face_parser, cfg.face_parser) if args.masks else None,
        device=args.device,
    )
    print(json.dumps(report, indent=2))


def _cache_teacher(args: argparse.Namespace) -> None:
    from mobilefaceswap.config import compose_config
    from mobilefaceswap.training.teacher_outputs import cache_teacher

    out = cache_teacher(
        compose_config(args.overrides),
        args.out,
        args.pairs,
        args.shard_size,
        args.batch_size,
        args.device,
        progress=not args.quiet,
    )
    print(f"teacher cache: {out} (train from it with data.teacher_cache={out})")


def _build_quality_set(args: argparse.Namespace) -> None:
    from mobilefaceswap.config import compose_config
    from mobilefaceswap.training.teacher_outputs import build_teacher_quality_set

    cfg = compose_config(args.overrides)
    labels = build_teacher_quality_set(
        cfg, args.checkpoints, args.out, args.pairs, args.total_iterations, args.batch_size, args.device, progress=not args.quiet
    )
    print(f"quality set: {labels} (train Q with mfs-train-quality data.root={labels.parent})")


def _table2(args: argparse.Namespace) -> None:
    from mobilefaceswap.table2 import aggregate

    text, md, table = aggregate(args.results, args.out)
    print(text)
    print(f"written: {md} and {table}")


def _non_negative(text: str) -> float:
    value = float(text)
    if not value >= 0:  # also refuses nan
        raise argparse.ArgumentTypeError(f"{text} is negative; use 0 or more")
    return value


def _name_list(known: list[str]):
    """An argparse type: comma-separated names, each one of ``known``."""

    def parse(text: str) -> list[str]:
        names = [name.strip() for name in text.split(",") if name.strip()]
        unknown = [name for name in names if name not in known]
        if unknown or not names:
            raise argparse.ArgumentTypeError(f"{','.join(unknown) or repr(text)}: choose from {','.join(known)}")
        return names

    return parse


def _add_name_list_argument(command: argparse.ArgumentParser, flag: str, known: list[str], what: str) -> None:
    """``flag NAME,NAME,...``: some of ``known``, all of them by default."""
    text = f"comma-separated {what} (default: all: {','.join(known)})"
    command.add_argument(flag, type=_name_list(known), default=known, help=text)


def _add_scoring_arguments(command: argparse.ArgumentParser) -> None:
    """The scoring networks and the report's form, shared by eval-swaps and eval-ffpp."""
    command.add_argument("--inception", help="Inception weights for FID (default: the TORCH_HOME cache; none: no FID)")
    command.add_argument("--hopenet", help="Hopenet state dict: pose as in the paper (default: dlib landmarks + solvePnP)")
    command.add_argument(
        "--cosface",
        help="CosFace/ArcFace network (.onnx, arcface_torch IResNet or IR-SE state dict): identity as in "
        "the paper (default: dlib)",
    )
    command.add_argument("--json", action="store_true", help="print the whole JSON report")
    command.add_argument("--quiet", action="store_true", help="no progress bars")
    command.add_argument("--device", choices=DEVICES, default="auto", help="where the swapper and the scoring networks run")


def _add_teacher_run_arguments(command: argparse.ArgumentParser, overrides: str) -> None:
    """How the configured teacher runs, and the config (``overrides``: what it chooses); cache-teacher, build-quality-set."""
    command.add_argument("--batch-size", type=int, default=16)
    command.add_argument("--device", default="cpu")
    command.add_argument("--quiet", action="store_true", help="no progress bar")
    command.add_argument("overrides", nargs="*", help=f"Hydra overrides of conf/train.yaml: {overrides}")


def build_arg_parser() -> argparse.ArgumentParser:
    from mobilefaceswap.inference.smoothing import SMOOTHING_BETA, SMOOTHING_MIN_CUTOFF

    parser = argparse.ArgumentParser(prog="mfs", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    stats = commands.add_parser("stats", help="params and MACs of the baked student beside the paper's")
    stats.add_argument("--size", type=int, default=224, choices=(224, 256), help="input resolution")
    stats.add_argument("--json", action="store_true", help="print JSON instead of a table")
    stats.add_argument("--networks", action="store_true", help="also the identity network and the teachers (Table 1)")
    stats.set_defaults(run=_stats)

    convert = commands.add_parser(
        "convert-paddle",
        help="convert the released MobileFaceSwap Paddle weights (no paddle needed)",
    )
    convert.add_argument("--swap", required=True, help="MobileFaceSwap_224.pdparams")
    convert.add_argument("--arcface", required=True, help="arcface.pdparams")
    convert.add_argument("--out", required=True, help="output folder")
    convert.set_defaults(run=_convert_paddle)

    swap = commands.add_parser("swap", help="swap a source identity into images, videos or folders")
    swap.add_argument("--source", required=True, help="image of the source face (its largest face is used)")
    swap.add_argument("--target", required=True, help="image, video, or folder of them")
    swap.add_argument("--output", required=True, help="output file (or folder for a folder target)")
    swap.add_argument("--checkpoint", required=True, help="swapper file: mfs convert-paddle output or a run's swapper.pt")
    swap.add_argument("--only", help="swap only faces of the person in this image")
    swap.add_argument("--aligned", action="store_true", help="source and targets are aligned crops: write the raw output")
    swap.add_argument("--redetect-every", type=int, default=5, help="video: detect every N frames, track in between")
    swap.add_argument(
        "--smoothing", type=_non_negative, default=SMOOTHING_MIN_CUTOFF, metavar="HZ",
        help="video: One Euro filter's minimum cutoff for the landmarks; lower is steadier on a still face "
        "(0 = none; default %(default)s)",
    )
    swap.add_argument(
        "--smoothing-beta", type=_non_negative, default=SMOOTHING_BETA,
        help="video: how fast the cutoff rises with the face's speed (in eye distances per second); "
        "higher lags less (default %(default)s)",
    )
    swap.add_argument("--codec", default="h264", help="video: h264 or hevc (default %(default)s)")
    swap.add_argument("--crf", type=int, default=18, help="video: constant rate factor, 0 (lossless) to 51 (default %(default)s)")
    swap.add_argument("--preset", default="ultrafast", help="video: ultrafast .. veryslow, slower: smaller (default %(default)s)")
    swap.add_argument(
        "--runtime", choices=RUNTIMES, default="torch", help="run the baked network with (int8: calibrated on the bundled faces)"
    )
    swap.add_argument("--device", choices=DEVICES, default="auto", help="auto: the GPU when there is one (fp16), else the CPU")
    swap.add_argument("--quiet", action="store_true", help="no progress bar")
    swap.add_argument("--no-watermark", action="store_true", help="leave out the invisible watermark (metadata is still written)")
    swap.add_argument("--c2pa-cert", help="PEM certificate chain (signer first): sign each output with a C2PA manifest")
    swap.add_argument("--c2pa-key", help="PEM private key of that certificate")
    swap.add_argument("--c2pa-alg", default="es256", help="signing algorithm of the key (es256, es384, ps256, ed25519, ...)")
    swap.set_defaults(run=_swap)

    export = commands.add_parser(
        "export", help="bake a source identity and export it for every runtime, each checked against PyTorch"
    )
    export.add_argument("--checkpoint", required=True, help="swapper file")
    export.add_argument("--source", required=True, help="image of the source face")
    export.add_argument("--out", required=True, help="output folder")
    export.add_argument("--name", help="file name stem (default: the source's)")
    _add_name_list_argument(export, "--runtimes", EXPORTED_NAMES, "formats to write")
    export.add_argument(
        "--device", choices=DEVICES, default="auto", help="where the identity is injected (the checks run on the CPU)"
    )
    export.set_defaults(run=_export)

    bench = commands.add_parser("bench", help="fps of the baked student, SimSwap and the 720p video pipeline")
    bench.add_argument("--json", action="store_true", help="print the whole JSON report")
    bench.add_argument("--out", help="also write the JSON report to this file")
    bench.add_argument("--checkpoint", help="swapper file (default: random weights; speed does not depend on them)")
    bench.add_argument("--threads", type=int, default=2)
    bench.add_argument("--seconds", type=float, default=3.0, help="minimum time per measurement")
    bench.add_argument("--frames", type=int, default=100, help="frames of each pipeline clip (720p one face, three faces, 1080p)")
    bench.add_argument("--memory-seconds", type=float, nargs=2, default=[10.0, 60.0], metavar=("SHORT", "LONG"),
                       help="lengths of the two 720p clips whose peak RSS under mfs swap is compared")
    _add_name_list_argument(bench, "--variants", BENCH_VARIANTS, "runtime variants of the baked network to measure")
    bench.add_argument(
        "--device",
        choices=DEVICES,
        default="cpu",
        help="cuda: also the networks on the GPU (PyTorch fp16, ONNX Runtime's CUDA provider)",
    )
    bench.add_argument(
        "--pipeline-runtime", choices=RUNTIMES, default="onnx", help="what runs the baked network in the video pipeline"
    )
    bench.set_defaults(run=_bench)

    verify = commands.add_parser("verify", help="is a file (or each file of a folder) marked as synthetic: watermark, metadata")
    verify.add_argument("path", help="image, video, or folder of them")
    verify.add_argument("--json", action="store_true", help="one JSON report per file")
    verify.set_defaults(run=_verify)

    bench_mark = commands.add_parser(
        "bench-watermark", help="watermark survival under JPEG, resizing, crops, H.264; false positives; PSNR"
    )
    bench_mark.add_argument("--per-photo", type=int, default=30, help="random crops of each real photo that get marked")
    bench_mark.add_argument("--clips", type=int, default=8, help="video clips (20 frames each) re-encoded at CRF 28")
    bench_mark.add_argument("--out", help="also write the JSON report here")
    bench_mark.set_defaults(run=_bench_watermark)

    demo = commands.add_parser("demo", help="a web page on localhost to swap photos and videos (pip install '.[demo]')")
    demo.add_argument("--checkpoint", required=True, help="swapper file")
    demo.add_argument("--host", default="127.0.0.1", help="address to serve on (default: this machine only)")
    demo.add_argument("--port", type=int, default=7860)
    demo.add_argument("--max-upload-mb", type=int, default=200, help="larger uploads are refused on the page")
    demo.add_argument("--out-dir", help="keep results here (default: a temporary folder removed on exit)")
    demo.set_defaults(run=_demo)

    evaluate = commands.add_parser("eval-swaps", help="score any method's swaps: identity retrieval, pose, expression, FID")
    evaluate.add_argument("--manifest", required=True, help="CSV with source,target,swapped[,source_id] image paths")
    evaluate.add_argument("--out", help="also write the JSON report to this file")
    _add_scoring_arguments(evaluate)
    evaluate.set_defaults(run=_eval_swaps)

    ffpp = commands.add_parser("eval-ffpp", help="the paper's FaceForensics++ protocol: N frames per video, swap, score")
    ffpp.add_argument("--root", required=True, help="FaceForensics++ folder (original_sequences/, manipulated_sequences/)")
    ffpp.add_argument("--out", required=True, help="folder for frames, swaps, manifest.csv and eval.json")
    who = ffpp.add_mutually_exclusive_group(required=True)
    who.add_argument("--checkpoint", help="swapper file to evaluate (mfs convert-paddle output or a run's swapper.pt)")
    who.add_argument("--method", help="score FF++'s own manipulated videos of this method instead, e.g. FaceShifter")
    ffpp.add_argument("--frames", type=int, default=10, help="evenly spaced frames per target video")
    ffpp.add_argument("--compression", default="c23", help="raw, c23 or c40")
    ffpp.add_argument(
        "--split", choices=("train", "val", "test"), help="pairs of splits/<split>.json (default: all FaceSwap pairs)"
    )
    ffpp.add_argument("--limit", type=int, help="first N pairs only")
    _add_scoring_arguments(ffpp)
    ffpp.set_defaults(run=_eval_ffpp)

    prepare = commands.add_parser("prepare-data", help="VGGFace2: keep eye distance > 70 px, align as the teacher aligns, shard")
    prepare.add_argument("--root", required=True, help="VGGFace2's train folder (<identity>/<image>.jpg)")
    prepare.add_argument("--out", required=True, help="cache folder (data.cache of data=vggface2)")
    prepare.add_argument("--landmark-csv", help="VGGFace2's bb_landmark/loose_landmark_train.csv (five points per image)")
    prepare.add_argument(
        "--landmarks", choices=("csv", "dlib", "insightface"), help="where landmarks come from (default: csv if given, else dlib)"
    )
    prepare.add_argument("--insightface-root", help="folder with models/buffalo_l/*.onnx for --landmarks insightface")
    prepare.add_argument("--min-eye-distance", type=float, default=70.0, help="keep images whose eyes are further apart (px)")
    prepare.add_argument("--shard-size", type=int, default=1000, help="input images per shard")
    prepare.add_argument("--workers", type=int, default=1, help="processes")
    prepare.add_argument(
        "--masks", action="store_true", help="also cache the face-parsing masks M_t (face parser from the config)"
    )
    prepare.add_argument("--device", default="cpu", help="device of the face parser")
    prepare.add_argument("--quiet", action="store_true", help="no progress bar")
    prepare.add_argument(
        "overrides", nargs="*", help="Hydra overrides of conf/train.yaml, e.g. teacher=faceshifter face_parser.pretrained=..."
    )
    prepare.set_defaults(run=_prepare_data)

    cache = commands.add_parser("cache-teacher", help="the teacher's outputs for the first N training pairs, once (resumable)")
    cache.add_argument("--out", required=True, help="cache folder (data.teacher_cache)")
    cache.add_argument("--pairs", type=int, required=True, help="how many training pairs")
    cache.add_argument("--shard-size", type=int, default=1000)
    _add_teacher_run_arguments(cache, "the teacher, identity and data of the runs")
    cache.set_defaults(run=_cache_teacher)

    quality = commands.add_parser("build-quality-set", help="teacher outputs from checkpoints along its training, labelled for Q")
    quality.add_argument(
        "--checkpoints",
        action="append",
        required=True,
        help="a teacher generator file or a folder of them, iteration in each name (repeatable)",
    )
    quality.add_argument("--out", required=True, help="folder for the set (data.root of mfs-train-quality)")
    quality.add_argument("--pairs", type=int, default=1000, help="fixed training pairs each checkpoint swaps")
    quality.add_argument(
        "--total-iterations", type=int, help="iterations of the whole teacher training (default: the last checkpoint's)"
    )
    _add_teacher_run_arguments(quality, "the teacher architecture and the data")
    quality.set_defaults(run=_build_quality_set)

    table2 = commands.add_parser("table2", help="aggregate a Table 2 sweep into table2.md and table2.csv")
    table2.add_argument("--results", required=True, help="the sweep folder, e.g. experiments/results/table2/smoke")
    table2.add_argument("--out", default="experiments/results", help="where table2.md and table2.csv go")
    table2.set_defaults(run=_table2)
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_arg_parser().parse_args(argv)
    try:
        args.run(args)
    except (OSError, ValueError, RuntimeError) as err:  # WeightsError and DataError are RuntimeErrors
        sys.exit(f"mfs {args.command}: error: {err}")


if __name__ == "__main__":
    main()
