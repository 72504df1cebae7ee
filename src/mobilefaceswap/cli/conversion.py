"""``mfs convert-paddle``: the released MobileFaceSwap weights as our files."""

import argparse

from mobilefaceswap.cli.arguments import add_output


def convert_paddle(args: argparse.Namespace) -> None:
    from mobilefaceswap.convert.paddle import convert_to_files

    swapper_path, identity_path = convert_to_files(args.swap, args.arcface, args.output)
    print(f"swapper (student + identity network + preprocessing): {swapper_path}")
    print(f"identity network state dict (for identity.pretrained): {identity_path}")


def add_commands(commands) -> None:
    convert = commands.add_parser(
        "convert-paddle",
        help="convert the released MobileFaceSwap Paddle weights (no paddle needed)",
    )
    convert.add_argument("--swap", required=True, help="MobileFaceSwap_224.pdparams")
    convert.add_argument("--arcface", required=True, help="arcface.pdparams")
    add_output(convert, "output folder")
    convert.set_defaults(run=convert_paddle)
