"""``mfs swap`` stopped part-way, by SIGINT, SIGTERM or a file that cannot be written (a full disk):
one line, the shell's exit code, the summary of what was written, and no temporary left
(docs/reliability.md)."""

import json
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from helpers import write_bundled_photos

pytestmark = pytest.mark.slow
MFS = str(Path(sys.executable).parent / "mfs")


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> dict[str, Path]:
    return write_bundled_photos(tmp_path_factory.mktemp("inputs"), clip_frames=400)


def swap_command(inputs: dict[str, Path], target: Path, output: Path, checkpoint: Path) -> list[str]:
    return [MFS, "swap", "--source", str(inputs["astronaut"]), "--target", str(target), "--output", str(output),
            "--checkpoint", str(checkpoint), "--quiet"]


@pytest.mark.parametrize("signum, code, how", [(signal.SIGINT, 130, "interrupted (Ctrl-C)"),
                                                (signal.SIGTERM, 143, "terminated (SIGTERM)")])
def test_a_signal_stops_with_one_line_and_leaves_no_temporary(inputs, tiny_swapper, tmp_path, signum, code, how):
    folder, out = tmp_path / "in", tmp_path / "out"
    folder.mkdir()
    (folder / "a.jpg").write_bytes(inputs["group"].read_bytes())
    (folder / "b.mp4").write_bytes(inputs["clip"].read_bytes())
    process = subprocess.Popen(swap_command(inputs, folder, out, tiny_swapper), stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not any(p.name.startswith(".b.") for p in out.glob(".*")):  # the video's hidden temporary
        assert process.poll() is None and time.monotonic() < deadline, process.communicate()
        time.sleep(0.02)
    process.send_signal(signum)
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == code, stderr
    assert stderr.strip().splitlines()[-1] == (
        f"mfs swap: {how}: stopped; files finished before are kept, nothing half-written is left"
    )
    assert "Traceback" not in stderr
    assert json.loads(stdout)["images"] == 1  # what was written before the signal
    assert sorted(p.name for p in out.iterdir()) == ["a.jpg"]  # no temporary, no partial video


def test_a_file_that_cannot_be_written_is_named_and_the_run_summarised(inputs, tiny_swapper, tmp_path):
    folder, out = tmp_path / "in", tmp_path / "out"
    folder.mkdir()
    (folder / "a.jpg").write_bytes(inputs["group"].read_bytes())
    (folder / "b.png").write_bytes(inputs["astronaut"].read_bytes())  # about 460 kB swapped: over the limit

    def limit_file_size():  # as a full disk does to the file being written (EFBIG here, ENOSPC there)
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (400_000, 400_000))

    result = subprocess.run(swap_command(inputs, folder, out, tiny_swapper), capture_output=True, text=True,
                            preexec_fn=limit_file_size)
    assert result.returncode == 1, result.stderr
    errors = [line for line in result.stderr.splitlines() if "error:" in line]
    assert errors == [f"mfs swap: error: cannot write {out / 'b.png'}: File too large; stopped after 1 of 2 targets"]
    assert json.loads(result.stdout)["images"] == 1
    assert sorted(p.name for p in out.iterdir()) == ["a.jpg"]
