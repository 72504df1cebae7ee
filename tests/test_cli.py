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


def test_every_count_and_duration_option_has_a_range():
    """A bare int or float type lets 0 or a negative through to fail late (or be clamped)."""
    bare = {
        f"{name} {a.option_strings[0]}"
        for name, p in commands().items()
        for a in p._actions
        if a.type in (int, float) and not a.choices
    }
    assert bare == {"swap --crf", "live --crf", "demo --port"}  # --crf: checked with the encoding, before any work


@pytest.mark.parametrize(
    "args, message",
    [
        (["bench", "--frames", "0"], "argument --frames: 0: use 1 or more"),
        (
            ["swap", *WRITING_COMMANDS["swap"], "--out", "o", "--redetect-every", "0"],
            "argument --redetect-every: 0: use 1 or more",
        ),
        (["bench", "--seconds", "-1"], "argument --seconds: -1 is negative; use 0 or more"),
        (["prepare-data", "--root", "r", "--output", "o", "--workers", "two"], "argument --workers: 'two' is not a whole number"),
    ],
)
def test_counts_out_of_range_are_refused_at_parse_time(capsys, args, message):
    with pytest.raises(SystemExit) as exit_:
        main(args)
    assert exit_.value.code == 2
    errors = [line for line in capsys.readouterr().err.splitlines() if "error:" in line]
    assert errors == [f"mfs {args[0]}: error: {message}"]
