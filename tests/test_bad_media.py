"""``mfs swap`` on hostile files: names that are not UTF-8, truncated and animated images,
swappers whose weights hold NaN (docs/reliability.md)."""

import json
import os
import re
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from mobilefaceswap.cli import main
from mobilefaceswap.data.media import read_image

from helpers import write_bundled_photos

MFS = str(Path(sys.executable).parent / "mfs")
NOT_UTF8 = b"caf\xe9 \xff\xfe"  # Latin-1 and stray bytes: valid in a Linux file name, not in UTF-8


@pytest.fixture(scope="module")
def photos(tmp_path_factory) -> dict[str, Path]:
    return write_bundled_photos(tmp_path_factory.mktemp("photos"))


def mfs_swap(source: bytes | Path, target: bytes | Path, output: bytes | Path, checkpoint: Path) -> subprocess.CompletedProcess:
    """The real ``mfs swap`` in a subprocess (a crash in native code is a return code, not a dead test run)."""
    args = [MFS, "swap", "--source", source, "--target", target, "--output", output, "--checkpoint", checkpoint, "--quiet"]
    return subprocess.run([os.fsencode(a) for a in args], capture_output=True)


def one_error_line(result: subprocess.CompletedProcess) -> str:
    stderr = result.stderr.decode(errors="replace")
    assert result.returncode == 1, stderr
    assert "Traceback" not in stderr
    errors = [line for line in stderr.splitlines() if "error:" in line]
    assert len(errors) == 1, stderr
    return errors[0]


@pytest.mark.slow
def test_names_that_are_not_utf8_are_read_and_written(photos, tiny_swapper, tmp_path):
    folder = tmp_path / os.fsdecode(b"in " + NOT_UTF8)
    folder.mkdir()
    source = folder / os.fsdecode(NOT_UTF8 + b".png")
    source.write_bytes(photos["astronaut"].read_bytes())
    target = folder / os.fsdecode(NOT_UTF8 + b".jpg")
    target.write_bytes(photos["group"].read_bytes())
    output = tmp_path / os.fsdecode(b"out " + NOT_UTF8 + b".jpg")
    single = mfs_swap(source, target, output, tiny_swapper)
    assert single.returncode == 0, single.stderr.decode(errors="replace")
    assert json.loads(single.stdout)["faces_swapped"] == 6
    assert read_image(output).shape == read_image(target).shape
    # In a folder, beside an ordinary name: both swapped, written under their own names.
    (folder / "plain.jpg").write_bytes(photos["group"].read_bytes())
    batch = mfs_swap(photos["astronaut"], folder, tmp_path / "out", tiny_swapper)
    assert batch.returncode == 0, batch.stderr.decode(errors="replace")
    summary = json.loads(batch.stdout)
    assert summary["images"] == 3 and summary["skipped"] == []
    assert sorted(os.fsencode(p.name) for p in (tmp_path / "out").iterdir()) == sorted(
        [b"plain.jpg", NOT_UTF8 + b".jpg", NOT_UTF8 + b".png"]
    )


def cut(path: Path, to: Path, fraction: float = 0.5) -> Path:
    data = path.read_bytes()
    to.write_bytes(data[: int(len(data) * fraction)])
    return to


@pytest.mark.slow
def test_truncated_image_is_one_line(photos, tiny_swapper, tmp_path):
    truncated = cut(photos["group"], tmp_path / "cut.jpg")
    line = one_error_line(mfs_swap(photos["astronaut"], truncated, tmp_path / "o.jpg", tiny_swapper))
    assert f"cannot read image {truncated}: not an image, or damaged or truncated" in line
    assert not (tmp_path / "o.jpg").exists()


@pytest.mark.slow
def test_a_folder_lists_every_entry_it_does_not_swap(photos, tiny_swapper, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    cut(photos["group"], folder / "cut.jpg")
    (folder / "group.jpg").write_bytes(photos["group"].read_bytes())
    Image.open(photos["group"]).save(folder / "still.gif")
    (folder / "inner").mkdir()
    (folder / ".hidden.jpg").write_bytes(b"editor's backup")  # hidden entries are no targets
    batch = mfs_swap(photos["astronaut"], folder, tmp_path / "out", tiny_swapper)
    assert batch.returncode == 3, batch.stderr
    summary = json.loads(batch.stdout)
    assert summary["images"] == 1
    assert summary["skipped"] == [
        f"{folder / 'cut.jpg'}: cannot read image {folder / 'cut.jpg'}: not an image, or damaged or truncated",
        f"{folder / 'inner'}: a folder: the folders inside a target folder are not searched",
        f"{folder / 'still.gif'}: not swapped in a folder (reads .avi, .bmp, .jpeg, .jpg, .m4v, .mkv, .mov, .mp4, .png, "
        ".webm, .webp); give it alone as --target",
    ]
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["group.jpg"]


@pytest.mark.slow
def test_a_piped_target_is_read(photos, tiny_swapper, tmp_path):
    read_end, write_end = os.pipe()
    feeder = threading.Thread(target=lambda: (os.write(write_end, photos["group"].read_bytes()), os.close(write_end)))
    feeder.start()
    args = [MFS, "swap", "--source", str(photos["astronaut"]), "--target", f"/dev/fd/{read_end}", "--output",
            str(tmp_path / "o.jpg"), "--checkpoint", str(tiny_swapper), "--quiet"]
    result = subprocess.run(args, capture_output=True, text=True, pass_fds=(read_end,))
    os.close(read_end)
    feeder.join()
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["faces_swapped"] == 6


def test_aligned_refuses_an_image_that_is_not_a_square_crop(photos, tiny_swapper, tmp_path):
    with pytest.raises(SystemExit) as exit_:
        main(["swap", "--source", str(photos["astronaut"]), "--target", str(photos["group"]), "--output",
              str(tmp_path / "o.png"), "--checkpoint", str(tiny_swapper), "--aligned", "--quiet"])
    width, height = Image.open(photos["group"]).size
    assert exit_.value.code == f"mfs swap: error: --aligned takes square aligned face crops; this image is {width}x{height}"
    assert not (tmp_path / "o.png").exists()


def test_animated_image_is_refused_in_one_line(photos, tiny_swapper, tmp_path):
    group = read_image(photos["group"])
    frames = [Image.fromarray(np.roll(group, shift, axis=1)) for shift in (0, 8, 16)]
    animated = tmp_path / "party.gif"
    frames[0].save(animated, save_all=True, append_images=frames[1:], duration=100)
    with pytest.raises(SystemExit) as exit_:
        main(["swap", "--source", str(photos["astronaut"]), "--target", str(animated), "--output",
              str(tmp_path / "o.png"), "--checkpoint", str(tiny_swapper), "--quiet"])
    assert exit_.value.code == (
        f"mfs swap: error: {animated} is animated (3 frames): only still images are swapped; "
        "convert it to a video first (e.g. ffmpeg -i party.gif clip.mp4)"
    )
    assert not (tmp_path / "o.png").exists()


@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_swapper_with_nonfinite_weights_is_refused_naming_the_tensor(photos, tiny_swapper, tmp_path, value):
    bundle = torch.load(tiny_swapper, map_location="cpu", weights_only=True)
    key = next(k for k, v in bundle["student"].items() if v.is_floating_point() and v.numel() > 4)
    bundle["student"][key].view(-1)[3] = value  # what four flipped bytes in swapper.pt do
    damaged = tmp_path / "swapper.pt"
    torch.save(bundle, damaged)
    with pytest.raises(SystemExit) as exit_:
        main(["swap", "--source", str(photos["astronaut"]), "--target", str(photos["group"]), "--output",
              str(tmp_path / "o.jpg"), "--checkpoint", str(damaged), "--quiet"])
    total = bundle["student"][key].numel()
    assert exit_.value.code == (
        f"mfs swap: error: {damaged}: its student: tensor {key!r} holds 1 NaN or infinite value(s) of {total}; "
        "the file is damaged"
    )
    assert not (tmp_path / "o.jpg").exists()


def test_a_source_with_several_faces_says_which_is_used(photos, tiny_swapper, tmp_path, capsys):
    main(["swap", "--source", str(photos["group"]), "--target", str(photos["astronaut"]), "--output",
          str(tmp_path / "o.png"), "--checkpoint", str(tiny_swapper), "--quiet"])
    [warning] = [w for w in json.loads(capsys.readouterr().out)["warnings"] if "faces" in w]
    assert re.fullmatch(
        r"the source image shows 6 faces: the largest is used \(\d+ px wide, at x=\d+, y=\d+\); crop the photo to use another",
        warning,
    )
