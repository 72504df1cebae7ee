"""``mfs swap`` on hostile files: names that are not UTF-8, truncated and animated images,
swappers whose weights hold NaN or that give NaN, faceless, grayscale and transparent targets
(docs/reliability.md)."""

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
from mobilefaceswap.data.sample_clip import make_sample_clip
from mobilefaceswap.provenance.verify import verify_file

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


def swap_in_process(source: Path, target: Path, output: Path, checkpoint: Path, capsys) -> dict:
    """``mfs swap`` called in this process, exit 0: its JSON summary."""
    main(["swap", "--source", str(source), "--target", str(target), "--output", str(output), "--checkpoint", str(checkpoint),
          "--quiet"])
    return json.loads(capsys.readouterr().out)


@pytest.mark.parametrize("output_suffix", [".jpg", ".png"])
def test_a_target_without_a_face_is_written_unchanged_and_not_marked(photos, tiny_swapper, tmp_path, capsys, output_suffix):
    import skimage.data

    cat = tmp_path / "cat.jpg"
    Image.fromarray(skimage.data.chelsea()).save(cat)
    tiny = tmp_path / "tiny.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (8, 8, 3), np.uint8)).save(tiny)
    for target in (cat, tiny):
        output = tmp_path / f"out-{target.stem}{output_suffix}"
        summary = swap_in_process(photos["astronaut"], target, output, tiny_swapper, capsys)
        assert summary["frames_without_face"] == 1 and summary["faces_swapped"] == 0
        assert summary["watermarks"] == {}  # no id that mfs verify would then not find
        [line] = summary["unchanged"]
        assert line.startswith(f"{output}: no face found in {target}: ") and line.endswith(", not marked")
        if output_suffix == target.suffix:
            assert output.read_bytes() == target.read_bytes()
        elif output_suffix == ".png":  # lossless: the very pixels
            assert np.array_equal(read_image(output), read_image(target))
        verified = verify_file(output)
        assert not verified["marked"] and not verified["watermark"]["found"] and verified["metadata"]["record"] is None


def test_gray_and_transparent_targets_keep_their_colour_and_alpha(photos, tiny_swapper, tmp_path, capsys):
    group = Image.open(photos["group"]).convert("RGB")
    gray = tmp_path / "gray.jpg"
    group.convert("L").save(gray)
    alpha = np.tile(np.linspace(0, 255, group.width).astype(np.uint8), (group.height, 1))  # transparent on the left
    transparent = tmp_path / "transparent.png"
    Image.fromarray(np.dstack([np.asarray(group), alpha])).save(transparent)
    summary = swap_in_process(photos["astronaut"], gray, tmp_path / "gray-out.jpg", tiny_swapper, capsys)
    assert summary["faces_swapped"] == 6 and summary["warnings"] == []
    assert Image.open(tmp_path / "gray-out.jpg").mode == "L"
    summary = swap_in_process(photos["astronaut"], transparent, tmp_path / "alpha-out.png", tiny_swapper, capsys)
    assert summary["faces_swapped"] == 6 and summary["warnings"] == []
    swapped = Image.open(tmp_path / "alpha-out.png")
    assert swapped.mode == "RGBA" and np.array_equal(np.asarray(swapped.getchannel("A")), alpha)
    assert verify_file(tmp_path / "alpha-out.png")["watermark"]["found"]
    # JPEG has no alpha: written opaque, and said
    summary = swap_in_process(photos["astronaut"], transparent, tmp_path / "alpha-out.jpg", tiny_swapper, capsys)
    assert summary["warnings"] == [f"{tmp_path / 'alpha-out.jpg'}: {transparent}'s alpha channel (transparency) is dropped: "
                                   ".jpg has none; write .png or .webp to keep it"]


def test_a_swapper_giving_nan_at_run_time_writes_nothing_black(photos, tiny_swapper, tmp_path, capsys):
    bundle = torch.load(tiny_swapper, map_location="cpu", weights_only=True)
    bundle["student"]["iin.predictor.norm.running_var"].fill_(-1.0)  # finite, so loaded; its square root is NaN
    faulty = tmp_path / "swapper.pt"
    torch.save(bundle, faulty)
    with pytest.raises(SystemExit) as exit_:
        main(["swap", "--source", str(photos["astronaut"]), "--target", str(photos["group"]), "--output",
              str(tmp_path / "o.jpg"), "--checkpoint", str(faulty), "--quiet"])
    assert exit_.value.code == (
        f"mfs swap: error: {photos['group']}: the swapper gave NaN or infinite values for 6 of 6 face(s): not written, "
        "as they would come out black; the swapper file (or its runtime) is faulty"
    )
    assert not (tmp_path / "o.jpg").exists()
    # In a folder: each such target skipped and listed, a faceless one passed through, exit 3
    folder = tmp_path / "targets"
    folder.mkdir()
    (folder / "group.jpg").write_bytes(photos["group"].read_bytes())
    Image.new("RGB", (64, 48), (90, 120, 150)).save(folder / "plain.png")
    with pytest.raises(SystemExit) as exit_:
        main(["swap", "--source", str(photos["astronaut"]), "--target", str(folder), "--output", str(tmp_path / "out"),
              "--checkpoint", str(faulty), "--quiet"])
    summary = json.loads(capsys.readouterr().out)
    assert exit_.value.code == 3 and summary["images"] == 1
    assert [s.split(": ")[0] for s in summary["skipped"]] == [str(folder / "group.jpg")]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["plain.png"]
    # A video: the frame named, no file left (hidden temporaries included)
    clip = make_sample_clip(tmp_path / "clip.mp4", read_image(photos["astronaut"]), (320, 240), frames=3, audio=False)
    with pytest.raises(SystemExit) as exit_:
        main(["swap", "--source", str(photos["astronaut"]), "--target", str(clip), "--output", str(tmp_path / "v" / "o.mp4"),
              "--checkpoint", str(faulty), "--quiet"])
    assert exit_.value.code.startswith(f"mfs swap: error: {clip}: frame 1: the swapper gave NaN or infinite values for 1 of 1")
    assert list((tmp_path / "v").iterdir()) == []
