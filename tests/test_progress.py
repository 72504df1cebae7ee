"""Progress on stderr for long work, silenced by ``--quiet``: mfs export, a folder mfs swap, mfs
bench, and a Hydra sweep (members done of N, with the time left)."""

import os
import re
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from mobilefaceswap import progress as progress_module
from mobilefaceswap.cli import main
from mobilefaceswap.data.embedded import bundled_photos
from mobilefaceswap.inference.swap import write_image
from mobilefaceswap.progress import Progress, duration

BIN = Path(sys.executable).parent


def run_main(*args) -> int:
    with pytest.raises(SystemExit) as exit_:
        main([str(a) for a in args])
        raise SystemExit(0)
    return exit_.value.code


def test_progress_lines_estimates_and_quiet(capsys, monkeypatch):
    clock = iter([0.0, 0.0, 10.0, 20.0, 0.0, 0.0])  # made, then three steps started 10 s apart; the quiet one
    monkeypatch.setattr(progress_module, "time", SimpleNamespace(monotonic=lambda: next(clock)))
    progress = Progress(4)
    progress.step("first")
    progress.step("second", estimate=150)
    progress.step("third")
    expected = ["1 of 4: first", "2 of 4: second (about 2 min)", "3 of 4: third (about 20 s left)"]
    assert capsys.readouterr().err.splitlines() == expected
    Progress(2, quiet=True).step("nothing")
    assert capsys.readouterr().err == ""
    assert [duration(s) for s in (0.2, 45, 200, 3900)] == ["1 s", "45 s", "3 min", "1 h 05 min"]


@pytest.fixture
def photos(tmp_path) -> Path:
    folder = tmp_path / "photos"
    for name in ("a", "b"):
        write_image(folder / f"{name}.png", bundled_photos()["skimage/astronaut"])
    return folder


@pytest.mark.parametrize("quiet", [False, True])
def test_export_and_a_folder_swap_announce_each_step_unless_quiet(quiet, photos, tiny_swapper, face_cache, tmp_path,
                                                                  monkeypatch, capsys):  # fmt: skip
    monkeypatch.setenv("MFS_CACHE_DIR", str(face_cache))
    flag = ["--quiet"] if quiet else []
    source = photos / "a.png"
    assert run_main("export", "--checkpoint", tiny_swapper, "--source", source, "--out", tmp_path / "e",
                    "--runtimes", "onnx,torchscript", *flag) == 0  # fmt: skip
    assert run_main("swap", "--source", source, "--target", photos, "--output", tmp_path / "s", "--checkpoint", tiny_swapper,
                    *flag) == 0  # fmt: skip
    err = capsys.readouterr().err
    expected = ["1 of 2: onnx: a.onnx", "2 of 2: torchscript: a.torchscript.pt", "1 of 2: a.png", "2 of 2: b.png"]
    lines = [line for line in err.splitlines() if re.match(r"\d+ of \d+: ", line)]
    assert [re.sub(r" \(about .*\)$", "", line) for line in lines] == ([] if quiet else expected)


@pytest.mark.slow
def test_sweep_reports_members_done_of_n_and_the_time_left(tmp_path, face_cache):
    # no_quality_reweight without Q is the full run: each member ends at once (same_as.json)
    args = [str(BIN / "mfs-train"), "-m", "experiment=table2", "ablation=no_quality_reweight", "seed=1,2,3", "logger=csv",
            f"paths.cache_dir={face_cache}"]  # fmt: skip
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    loud = subprocess.run(args, cwd=tmp_path, env=env, capture_output=True, text=True)
    assert loud.returncode == 0, loud.stderr[-2000:]
    lines = [line for line in loud.stderr.splitlines() if line.startswith("sweep: ")]
    assert [re.sub(r" \(about .* left\)$", "", line) for line in lines] == [f"sweep: {i} of 3 members done" for i in (1, 2, 3)]
    assert "left)" in lines[0] and "left" not in lines[-1]
    quiet = subprocess.run([*args, "hydra.callbacks.sweep_progress.quiet=true"], cwd=tmp_path, env=env, capture_output=True,
                           text=True)  # fmt: skip
    assert quiet.returncode == 0 and "sweep: " not in quiet.stderr
