"""``mfs swap`` / ``mfs export`` / ``mfs bench`` on real bundled photos and clips made from them."""

import json
import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import av
import numpy as np
import pytest
import torch

from mobilefaceswap.cli import main
from mobilefaceswap.data.alignment import align_face
from mobilefaceswap.data.detection import DlibFaceDetector
from mobilefaceswap.data.embedded import bundled_photos
from mobilefaceswap.data.media import read_image
from mobilefaceswap.data.sample_clip import make_sample_clip
from mobilefaceswap.files import VIDEO_SUFFIXES
from mobilefaceswap.inference.paste import paste_back
from mobilefaceswap.inference.pipeline import FaceSwapPipeline
from mobilefaceswap.inference.runtimes import OnnxBaked
from mobilefaceswap.inference.swap import write_image
from mobilefaceswap.inference.video import transcode
from mobilefaceswap.models.swapper import load_swapper

MFS = str(Path(sys.executable).parent / "mfs")


@pytest.fixture(scope="module")
def assets(tmp_path_factory, tiny_swapper) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("assets")
    photos = bundled_photos()
    write_image(folder / "astronaut.png", photos["skimage/astronaut"])
    write_image(folder / "group.jpg", photos["insightface/t1.jpg"])
    write_image(folder / "blank.png", np.full((240, 320, 3), 127, np.uint8))
    make_sample_clip(folder / "clip.mp4", photos["skimage/astronaut"], (640, 360), frames=12)
    make_sample_clip(folder / "long.mp4", photos["skimage/astronaut"], (640, 360), frames=40)
    return {"swapper": tiny_swapper, **{p.stem: p for p in folder.iterdir()}}


def mfs(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([MFS, *args], capture_output=True, text=True, env=env)


def swap(assets, target, output, *extra) -> subprocess.CompletedProcess:
    return mfs("swap", "--source", str(assets["astronaut"]), "--target", str(target), "--output", str(output),
               "--checkpoint", str(assets["swapper"]), "--quiet", *extra)


@pytest.mark.slow
def test_image_swap_changes_faces_and_keeps_the_rest(assets, tmp_path):
    result = swap(assets, assets["group"], tmp_path / "out.jpg")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["faces_swapped"] == 6 and summary["frames_without_face"] == 0
    before, after = read_image(assets["group"]), read_image(tmp_path / "out.jpg")
    assert after.shape == before.shape
    changed = np.abs(after.astype(int) - before.astype(int)).max(axis=2) > 20
    assert changed.sum() > 6 * 40 * 40  # six face regions were replaced
    assert not changed[:80, :80].any()  # the corner holds no face and is left as it was (JPEG noise aside)


@pytest.mark.slow
def test_source_without_face_is_one_clear_error(assets, tmp_path):
    result = mfs("swap", "--source", str(assets["blank"]), "--target", str(assets["group"]), "--output",
                 str(tmp_path / "o.jpg"), "--checkpoint", str(assets["swapper"]))
    assert result.returncode != 0
    assert "no face found in the source image" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "o.jpg").exists()


@pytest.mark.slow
def test_target_without_face_passes_through_and_is_counted(assets, tmp_path):
    result = swap(assets, assets["blank"], tmp_path / "o.png")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["frames_without_face"] == 1 and summary["watermarks"] == {}
    assert summary["unchanged"] == [f"{tmp_path / 'o.png'}: no face found in {assets['blank']}: written unchanged (its bytes), "
                                    "not marked"]
    assert (tmp_path / "o.png").read_bytes() == assets["blank"].read_bytes()


@pytest.mark.slow
def test_unreadable_inputs(assets, tmp_path):
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8 not a jpeg")
    result = swap(assets, broken, tmp_path / "o.jpg")
    assert result.returncode != 0 and f"cannot read image {broken}" in result.stderr and "Traceback" not in result.stderr
    missing = mfs(
        "swap",
        "--source",
        str(assets["astronaut"]),
        "--target",
        str(assets["group"]),
        "--output",
        str(tmp_path / "o.jpg"),
        "--checkpoint",
        str(tmp_path / "none.pt"),
    )
    assert missing.returncode != 0 and "swapper checkpoint not found" in missing.stderr


def mfs_in_process(*args: str) -> str:
    """``mfs`` called in this process for errors found before any work: its one-line message."""
    with pytest.raises(SystemExit) as exit_:
        main(list(args))
    assert isinstance(exit_.value.code, str) and "\n" not in exit_.value.code
    return exit_.value.code


@pytest.mark.parametrize("spelling", ["relative", "symlink", "hard link"])
@pytest.mark.parametrize("which", ["source", "target", "only", "checkpoint"])
def test_output_that_is_an_input_is_refused_however_spelt(assets, tmp_path, monkeypatch, which, spelling):
    inputs = {"source": "astronaut.png", "target": "group.jpg", "only": "reference.png", "checkpoint": "swapper.pt"}
    for name, original in zip(inputs.values(), ("astronaut", "group", "astronaut", "swapper")):
        (tmp_path / name).write_bytes(assets[original].read_bytes())
    monkeypatch.chdir(tmp_path)
    (tmp_path / "sub").mkdir()
    victim = tmp_path / inputs[which]
    output = {"relative": f"sub/../{inputs[which]}", "symlink": "link.png", "hard link": "hard.png"}[spelling]
    if spelling == "symlink":
        os.symlink(victim, output)
    elif spelling == "hard link":
        os.link(victim, output)
    before = victim.read_bytes()
    message = mfs_in_process("swap", *(f"--{k}={v}" for k, v in inputs.items()), "--output", output)
    assert "it would be overwritten; choose another --output" in message
    assert victim.read_bytes() == before


@pytest.mark.parametrize(
    "target, output, expected",
    [
        ("group", "out.txt", "not an image file type that can be written; end it in .png or .jpg"),
        ("group", "folder", "is a folder; give a file name such as"),
        ("clip", "out.jpg", "a video target needs a video file name ending in"),
        ("clip", "out.webm", "a video target needs a video file name ending in"),
        ("folder", "file.txt", "is a file; a folder --target needs an output folder"),
        ("group", "file.txt/out.jpg", "cannot create the folder"),
    ],
    ids=["image-to-txt", "image-to-folder", "video-to-jpg", "video-to-webm", "folder-to-file", "parent-is-a-file"],
)
def test_output_path_problems_are_one_line_before_any_work(assets, tmp_path, target, output, expected):
    (tmp_path / "folder").mkdir()
    (tmp_path / "file.txt").write_text("mine")
    target_path = tmp_path / "folder" if target == "folder" else assets[target]
    if target == "folder":
        (tmp_path / "folder" / "group.jpg").write_bytes(assets["group"].read_bytes())
    # the checkpoint does not exist: the output is checked before anything is loaded
    message = mfs_in_process(
        "swap",
        "--source",
        str(assets["astronaut"]),
        "--target",
        str(target_path),
        "--output",
        str(tmp_path / output),
        "--checkpoint",
        str(tmp_path / "absent.pt"),
    )
    assert expected in message
    assert (tmp_path / "file.txt").read_text() == "mine" and sorted(p.name for p in (tmp_path / "folder").iterdir()) in (
        [],
        ["group.jpg"],
    )


@pytest.mark.slow
@pytest.mark.parametrize("suffix", sorted(VIDEO_SUFFIXES))
def test_truncated_video_in_every_container_is_detected_and_written(tmp_path, suffix):
    image = np.random.default_rng(0).integers(0, 255, (96, 160, 3), np.uint8)
    clip = make_sample_clip(tmp_path / f"clip{suffix}", image, (160, 96), frames=24)
    output = tmp_path / "out.mkv"
    assert not transcode(clip, output, lambda frame, seconds: frame, progress=False).truncated
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(output.stat().st_mode) == 0o666 & ~umask  # as any file the user creates
    data = clip.read_bytes()
    cut = tmp_path / f"cut{suffix}"
    cut.write_bytes(data[: len(data) // 2])
    result = transcode(cut, output, lambda frame, seconds: frame, progress=False)
    assert result.truncated and 0 < result.frames < 24
    assert video_info(output)["frames"] == result.frames  # written up to the last good frame


@pytest.mark.slow
def test_folder_batch_skips_bad_files(assets, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    for name in ("group", "blank", "clip"):  # two images and a video
        (folder / assets[name].name).write_bytes(assets[name].read_bytes())
    (folder / "broken.png").write_bytes(b"nope")
    result = swap(assets, folder, tmp_path / "out")
    assert result.returncode == 3, result.stderr  # a partial result: the skipped file is listed
    summary = json.loads(result.stdout)
    assert summary["images"] == 2 and summary["videos"] == 1 and len(summary["skipped"]) == 1
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["blank.png", "clip.mp4", "group.jpg"]


def video_info(path: Path) -> dict:
    with av.open(str(path)) as c:
        v = c.streams.video[0]
        frames = sum(1 for _ in c.decode(video=0))
        return {
            "fps": float(v.average_rate),
            "size": (v.codec_context.width, v.codec_context.height),
            "frames": frames,
            "audio": bool(c.streams.audio),
        }


@pytest.mark.slow
def test_video_keeps_fps_size_audio_and_swaps_every_frame(assets, tmp_path):
    result = swap(assets, assets["clip"], tmp_path / "out.mp4", "--redetect-every", "3")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["frames"] == 12 and summary["faces_swapped"] == 12 and summary["truncated_videos"] == []
    assert (
        video_info(tmp_path / "out.mp4")
        == video_info(assets["clip"])
        == {"fps": 25.0, "size": (640, 360), "frames": 12, "audio": True}
    )


@pytest.mark.slow
def test_truncated_video_writes_what_was_decoded(assets, tmp_path):
    data = assets["long"].read_bytes()
    truncated = tmp_path / "cut.mp4"
    truncated.write_bytes(data[: len(data) * 2 // 3])
    result = swap(assets, truncated, tmp_path / "out.mp4")
    assert result.returncode == 0, result.stderr
    assert "is damaged or truncated" in result.stderr  # the warning
    summary = json.loads(result.stdout)
    assert summary["truncated_videos"] == [str(truncated)]
    assert 5 < video_info(tmp_path / "out.mp4")["frames"] < 40


@pytest.mark.slow
def test_only_swaps_the_reference_person(assets, tmp_path):
    group = read_image(assets["group"])
    face = DlibFaceDetector()(group)[2]
    left, top, right, bottom = face.box
    reference = group[max(top - 60, 0) : bottom + 60, max(left - 60, 0) : right + 60]
    write_image(tmp_path / "reference.png", reference)
    result = swap(assets, assets["group"], tmp_path / "out.jpg", "--only", str(tmp_path / "reference.png"))
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["faces_swapped"] == 1
    changed = np.abs(read_image(tmp_path / "out.jpg").astype(int) - group.astype(int)).max(axis=2) > 20
    centre_x, centre_y = face.landmarks5.mean(0).astype(int)
    assert changed[centre_y - 10 : centre_y + 10, centre_x - 10 : centre_x + 10].any()


@pytest.mark.slow
def test_aligned_mode_writes_the_raw_network_output(assets, tmp_path):
    detector = DlibFaceDetector()
    source = read_image(assets["astronaut"])
    target = read_image(assets["group"])
    source_crop = align_face(source, detector(source)[0].landmarks5, 224)[0]
    target_crop = align_face(target, detector(target)[0].landmarks5, 224)[0]
    write_image(tmp_path / "s.png", source_crop)
    write_image(tmp_path / "t.png", target_crop)
    result = mfs(
        "swap",
        "--source",
        str(tmp_path / "s.png"),
        "--target",
        str(tmp_path / "t.png"),
        "--output",
        str(tmp_path / "o.png"),
        "--checkpoint",
        str(assets["swapper"]),
        "--aligned",
        "--quiet",
        "--no-watermark",
    )
    assert result.returncode == 0, result.stderr
    swapper = load_swapper(assets["swapper"])
    image, _ = swapper.swap_aligned(
        torch.from_numpy(source_crop).permute(2, 0, 1)[None] / 255, torch.from_numpy(target_crop).permute(2, 0, 1)[None] / 255
    )
    expected = (image[0].permute(1, 2, 0).numpy() * 255 + 0.5).astype(np.uint8)
    assert np.abs(read_image(tmp_path / "o.png").astype(int) - expected.astype(int)).max() <= 1


def test_paste_back_touches_only_the_face_region():
    frame = np.full((300, 400, 3), 50, np.uint8)
    matrix = np.float32([[1, 0, -100], [0, 1, -50]])  # the crop is the frame's (100..324, 50..274) square
    out = paste_back(frame.copy(), np.full((224, 224, 3), 200, np.uint8), np.ones((224, 224), np.float32), matrix)
    assert out[150, 200].tolist() == [200, 200, 200]  # inside: the swapped face
    assert (out[:45] == 50).all() and (out[:, :95] == 50).all()  # outside the square: untouched
    assert 50 < out[55, 200, 0] < 200  # the border is feathered


@pytest.mark.slow
def test_export_onnx_and_torchscript_match_pytorch(assets, tmp_path, face_cache):
    result = mfs(
        "export",
        "--checkpoint",
        str(assets["swapper"]),
        "--source",
        str(assets["astronaut"]),
        "--out",
        str(tmp_path),
        "--runtimes",
        "onnx,torchscript,onnx-int8",
        env=dict(os.environ, MFS_CACHE_DIR=str(face_cache)),
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["outputs"] == ["swapped", "mask"]
    assert report["files"]["onnx"]["max_abs_diff"] <= 1e-4 and report["files"]["torchscript"]["max_abs_diff"] <= 1e-4
    assert report["files"]["onnx-int8"]["psnr_db"] >= 35 and (tmp_path / "astronaut.int8.onnx").is_file()
    pipeline = FaceSwapPipeline(load_swapper(assets["swapper"]))
    pipeline.set_source(read_image(assets["astronaut"]))
    target = torch.rand(3, 3, 224, 224)
    with torch.no_grad():
        expected = pipeline.network(target)
    for got in (
        OnnxBaked(str(tmp_path / "astronaut.onnx"))(target),
        torch.jit.load(tmp_path / "astronaut.torchscript.pt")(target),
    ):
        assert all((a - b).abs().max() <= 1e-4 for a, b in zip(expected, got))
        assert got[1].shape == (3, 1, 224, 224)  # the fusion mask is the second output


@pytest.mark.slow
def test_bench_reports_every_measurement_and_quiet_prints_no_progress(tmp_path, face_cache):
    out = tmp_path / "bench.json"
    result = mfs(
        "bench", "--seconds", "0", "--frames", "6", "--memory-seconds", "0.4", "1.2", "--variants", "onnx,onnx-int8",
        "--out", str(out), "--quiet", env=dict(os.environ, MFS_CACHE_DIR=str(face_cache)),
    )
    assert result.returncode == 0, result.stderr
    # --quiet: no progress (the measurements are announced on stderr otherwise: test_json_output.py)
    assert result.stdout == "" and not re.search(r"^\d of 8: ", result.stderr, re.M)
    report = json.loads(out.read_text())
    clips = {"pipeline_720p_1face_fps", "pipeline_720p_3faces_fps", "pipeline_1080p_1face_fps"}
    networks = {"idn_torch_224_fps", "idn_onnx_224_fps", "idn_onnx_256_fps", "simswap_torch_224_fps"}
    assert set(report["fps"]) >= networks | clips | {"idn_best_runtime_224_fps", "speedup_best_runtime_vs_simswap"}
    assert all(v > 0 for v in report["fps"].values())
    assert set(report["targets"]) == {"idn_onnx_224_fps", "speedup_vs_simswap", "speedup_best_runtime_vs_simswap"} | clips
    pipeline = report["pipeline"]
    assert pipeline["pipeline_720p_1face_fps"]["faces_per_frame"] == 1.0
    assert pipeline["pipeline_720p_3faces_fps"]["faces_per_frame"] == 3.0
    for entry in pipeline.values():  # every stage timed, and each of them does work on every clip
        assert set(entry["ms_per_frame"]) == {"decode", "detect", "track", "align", "swap", "paste", "watermark", "encode"}
        assert all(ms > 0 for ms in entry["ms_per_frame"].values())
    memory = report["memory"]
    assert memory["short"]["seconds"] < memory["long"]["seconds"] and memory["short"]["peak_rss_mb"] > 0
    assert memory["long_over_short"] == round(memory["long"]["peak_rss_mb"] / memory["short"]["peak_rss_mb"], 3)
    smoothing = report["smoothing"]["settings"]
    assert set(smoothing) == {"none", "exponential_average_0.5", "one_euro_default"}
    assert all(s["still_jitter_px"] >= 0 for s in smoothing.values())
    runtimes = report["runtimes"]
    assert set(runtimes["variants"]) == {"onnx", "onnx-int8"} and set(runtimes["simswap_fps"]) == {"torch", "onnx"}
    for variant in runtimes["variants"].values():  # accuracy against fp32 PyTorch on held-out faces, and both ratios
        assert variant["fps"] > 0 and variant["psnr_db"] >= 35 and variant["counts"]
        assert variant["speedup_vs_simswap_torch"] > 0 and variant["speedup_vs_simswap_same_runtime"] > 0
    assert runtimes["best"] in runtimes["variants"]
