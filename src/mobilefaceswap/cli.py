"""``mfs``: the command-line tools around training (``mfs-train`` is the Hydra entry point)."""

import argparse
import json
import sys


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
    from pathlib import Path

    import torch

    from mobilefaceswap.convert.paddle import RELEASED_IDENTITY_ARCH, convert_released
    from mobilefaceswap.models.swapper import save_swapper
    from mobilefaceswap.utils import write_atomic

    student, identity = convert_released(args.swap, args.arcface)
    out = Path(args.out)
    inputs = {Path(args.swap).resolve(), Path(args.arcface).resolve()}
    swapper_path, identity_path = out / "mobilefaceswap_224.pt", out / "arcface_irse_3_4_23_3.pth"
    if {swapper_path.resolve(), identity_path.resolve()} & inputs:
        raise ValueError(f"--out {out} would overwrite an input file")
    origin = f"converted from {Path(args.swap).name} and {Path(args.arcface).name}"
    save_swapper(swapper_path, student, identity, RELEASED_IDENTITY_ARCH, crop_size=224, origin=origin)
    write_atomic(identity_path, lambda tmp: torch.save(identity.backbone.state_dict(), tmp))
    print(f"swapper (student + identity network + preprocessing): {swapper_path}")
    print(f"identity network state dict (for identity.pretrained): {identity_path}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mfs", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    stats = commands.add_parser("stats", help="params and MACs of the baked student beside the paper's")
    stats.add_argument("--size", type=int, default=224, choices=(224, 256), help="input resolution")
    stats.add_argument("--json", action="store_true", help="print JSON instead of a table")
    stats.add_argument("--networks", action="store_true", help="also the identity network and the teachers (Table 1)")
    stats.set_defaults(run=_stats)

    convert = commands.add_parser(
        "convert-paddle", help="convert the released MobileFaceSwap Paddle weights (no paddle needed)"
    )
    convert.add_argument("--swap", required=True, help="MobileFaceSwap_224.pdparams")
    convert.add_argument("--arcface", required=True, help="arcface.pdparams")
    convert.add_argument("--out", required=True, help="output folder")
    convert.set_defaults(run=_convert_paddle)
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    try:
        args.run(args)
    except (OSError, ValueError, RuntimeError) as err:  # WeightsError is a RuntimeError
        sys.exit(f"mfs {args.command}: error: {err}")


if __name__ == "__main__":
    main()
