"""``mfs prepare-data``, ``mfs cache-teacher`` and ``mfs build-quality-set``: the data a training
run reads, prepared once. Each composes conf/train.yaml with its overrides, as a run would."""

import argparse
import json

from mobilefaceswap.cli.arguments import add_device, add_output, add_quiet, non_negative, positive_int, torch_device


def prepare_data(args: argparse.Namespace) -> None:
    from functools import partial

    from mobilefaceswap.config import compose_config
    from mobilefaceswap.data.vggface2 import prepare_config, prepare_vggface2
    from mobilefaceswap.training.fitting import build

    cfg = compose_config(args.overrides)
    alignment = cfg.teacher.alignment
    config = prepare_config(
        alignment.size,
        alignment.template,
        args.landmark_csv,
        args.landmarks,
        min_eye_distance=args.min_eye_distance,
        shard_size=args.shard_size,
        insightface_root=args.insightface_root,
    )
    report = prepare_vggface2(
        args.root,
        args.output,
        config,
        args.landmark_csv,
        args.workers,
        progress=not args.quiet,
        face_parser=partial(build, cfg.face_parser) if args.masks else None,
        device=torch_device(args.device),
    )
    print(json.dumps(report, indent=2))


def cache_teacher(args: argparse.Namespace) -> None:
    from mobilefaceswap.config import compose_config
    from mobilefaceswap.training.teacher_outputs import cache_teacher

    out = cache_teacher(
        compose_config(args.overrides),
        args.output,
        args.pairs,
        args.shard_size,
        args.batch_size,
        torch_device(args.device),
        progress=not args.quiet,
    )
    print(f"teacher cache: {out} (train from it with data.teacher_cache={out})")


def build_quality_set(args: argparse.Namespace) -> None:
    from mobilefaceswap.config import compose_config
    from mobilefaceswap.training.teacher_outputs import build_teacher_quality_set

    cfg = compose_config(args.overrides)
    labels = build_teacher_quality_set(
        cfg,
        args.checkpoints,
        args.output,
        args.pairs,
        args.total_iterations,
        args.batch_size,
        torch_device(args.device),
        progress=not args.quiet,
    )
    print(f"quality set: {labels} (train Q with mfs-train-quality data.root={labels.parent})")


def add_teacher_run_arguments(command: argparse.ArgumentParser, overrides: str) -> None:
    """How the configured teacher runs, and the config (``overrides``: what it chooses); cache-teacher, build-quality-set."""
    command.add_argument("--batch-size", type=positive_int, default=16)
    add_device(command, "where the teacher runs", default="cpu")
    add_quiet(command, "no progress bar")
    command.add_argument("overrides", nargs="*", help=f"Hydra overrides of conf/train.yaml: {overrides}")


def add_commands(commands) -> None:
    prepare = commands.add_parser("prepare-data", help="VGGFace2: keep eye distance > 70 px, align as the teacher aligns, shard")
    prepare.add_argument("--root", required=True, help="VGGFace2's train folder (<identity>/<image>.jpg)")
    add_output(prepare, "cache folder (data.cache of data=vggface2)")
    prepare.add_argument("--landmark-csv", help="VGGFace2's bb_landmark/loose_landmark_train.csv (five points per image)")
    prepare.add_argument(
        "--landmarks", help="where landmarks come from: csv, dlib, dlib_turned (a photo without an upright face "
        "searched again turned) or insightface (default: csv if given, else dlib)"
    )
    prepare.add_argument("--insightface-root", help="folder with models/buffalo_l/*.onnx for --landmarks insightface")
    prepare.add_argument(
        "--min-eye-distance", type=non_negative, default=70.0, help="keep images whose eyes are further apart (px)"
    )
    prepare.add_argument("--shard-size", type=positive_int, default=1000, help="input images per shard")
    prepare.add_argument("--workers", type=positive_int, default=1, help="processes")
    prepare.add_argument(
        "--masks", action="store_true", help="also cache the face-parsing masks M_t (face parser from the config)"
    )
    add_device(prepare, "where the face parser runs", default="cpu")
    add_quiet(prepare, "no progress bar")
    prepare.add_argument(
        "overrides", nargs="*", help="Hydra overrides of conf/train.yaml, e.g. teacher=faceshifter face_parser.pretrained=..."
    )
    prepare.set_defaults(run=prepare_data)

    cache = commands.add_parser("cache-teacher", help="the teacher's outputs for the first N training pairs, once (resumable)")
    add_output(cache, "cache folder (data.teacher_cache)")
    cache.add_argument("--pairs", type=positive_int, required=True, help="how many training pairs")
    cache.add_argument("--shard-size", type=positive_int, default=1000)
    add_teacher_run_arguments(cache, "the teacher, identity and data of the runs")
    cache.set_defaults(run=cache_teacher)

    quality = commands.add_parser("build-quality-set", help="teacher outputs from checkpoints along its training, labelled for Q")
    quality.add_argument(
        "--checkpoints",
        action="append",
        required=True,
        help="a teacher generator file or a folder of them, iteration in each name (repeatable)",
    )
    add_output(quality, "folder for the set (data.root of mfs-train-quality)")
    quality.add_argument("--pairs", type=positive_int, default=1000, help="fixed training pairs each checkpoint swaps")
    quality.add_argument(
        "--total-iterations", type=positive_int, help="iterations of the whole teacher training (default: the last checkpoint's)"
    )
    add_teacher_run_arguments(quality, "the teacher architecture and the data")
    quality.set_defaults(run=build_quality_set)
