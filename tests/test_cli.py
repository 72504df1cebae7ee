"""The conventions every ``mfs`` command follows (docs/development.md, "Command-line conventions")."""

import argparse
import subprocess
import sys

import pytest

from mobilefaceswap import __version__
from mobilefaceswap.cli import build_arg_parser, main
from mobilefaceswap.inference.device import DEVICES

# Each command that writes, with the other arguments it requires.
WRITING_COMMANDS = {
    "convert-paddle": ["--swap", "s.pdparams", "--arcface", "a.pdparams"],
    "swap": ["--source", "s.png", "--target", "t.png", "--checkpoint", "c.pt"],
    "live": ["--source", "s.png", "--checkpoint", "c.pt"],
    "export": ["--checkpoint", "c.pt", "--source", "s.png"],
    "demo": ["--checkpoint", "c.pt"],
    "bench": [],
    "bench-watermark": [],
    "eval-swaps": ["--manifest", "m.csv"],
    "eval-ffpp": ["--root", "ffpp", "--method", "FaceSwap"],
    "table2": ["--results", "r"],
    "dashboard": ["--entity", "e"],
    "learning-curves": ["--results", "r"],
    "prepare-data": ["--root", "vggface2"],
    "cache-teacher": ["--pairs", "4"],
    "build-quality-set": ["--checkpoints", "ckpts"],
}


def commands() -> dict[str, argparse.ArgumentParser]:
    subparsers = next(a for a in build_arg_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return dict(subparsers.choices)


def test_version_from_mfs_and_python_m(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0 and capsys.readouterr().out.strip() == f"mfs {__version__}"
    result = subprocess.run([sys.executable, "-m", "mobilefaceswap", "--version"], capture_output=True, text=True)
    assert result.returncode == 0 and result.stdout.strip() == f"mfs {__version__}"


def test_the_writing_commands_are_every_command_with_an_output():
    writing = {name for name, parser in commands().items() if any("--output" in a.option_strings for a in parser._actions)}
    assert writing == set(WRITING_COMMANDS)


@pytest.mark.parametrize("command", sorted(WRITING_COMMANDS))
@pytest.mark.parametrize("flag", ["--output", "--out"])
def test_every_writing_command_takes_output_and_out(command, flag):
    args = build_arg_parser().parse_args([command, *WRITING_COMMANDS[command], flag, "somewhere"])
    assert args.output == "somewhere"


def test_every_device_option_is_auto_cpu_or_cuda():
    devices = {name: a for name, p in commands().items() for a in p._actions if "--device" in a.option_strings}
    assert {"swap", "live", "export", "demo", "bench", "eval-swaps", "eval-ffpp", "prepare-data", "cache-teacher",
            "build-quality-set"} <= set(devices)
    assert all(tuple(a.choices) == DEVICES for a in devices.values())


def test_every_command_with_work_to_show_takes_quiet():
    quiet = {name for name, p in commands().items() if any("--quiet" in a.option_strings for a in p._actions)}
    assert quiet == {"swap", "live", "export", "bench", "bench-watermark", "eval-swaps", "eval-ffpp", "prepare-data",
                     "cache-teacher", "build-quality-set"}
