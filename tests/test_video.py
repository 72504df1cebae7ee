"""Video done right: phone rotation, variable frame rates, audio stream copy, --codec and --crf,
One Euro landmark smoothing, faces of a frame in one batched call."""

import json
import subprocess
import sys
import threading
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from mobilefaceswap.cli import main
from mobilefaceswap.data.embedded import bundled_photos
from mobilefaceswap.data.sample_clip import make_sample_clip
from mobilefaceswap.inference.pipeline import FaceSwapPipeline
from mobilefaceswap.inference.smoothing import LandmarkFilter
from mobilefaceswap.inference.swap import write_image
from mobilefaceswap.inference.video import transcode
from mobilefaceswap.models.swapper import load_swapper

MFS = str(Path(sys.executable).parent / "mfs")
FRAME_MS = [0, 40, 80, 160, 200, 320, 360, 400]  # variable frame rate: gaps of 40, 80 and 120 ms


def phone_clip(path: Path) -> Path:
    """A portrait clip as phones record it: landscape pictures, a display matrix that turns them
    90 degrees clockwise (FFmpeg's rotate=90), frames at uneven times, AAC audio."""
    photo = bundled_photos()["skimage/astronaut"]
    portrait = cv2.resize(photo[:, 64:448], (360, 480), interpolation=cv2.INTER_AREA)  # width 360, height 480
    stored = cv2.rotate(portrait, cv2.ROTATE_90_COUNTERCLOCKWISE)  # 480 wide, 360 high
    with av.open(str(path), "w") as out:
        video = out.add_stream("libx264", rate=25)
        video.width, video.height, video.pix_fmt = 480, 360, "yuv420p"
        video.codec_context.time_base = Fraction(1, 1000)
        video.set_display_rotation(-90)
        tone = out.add_stream("aac", rate=16000, layout="mono")
        for ms in FRAME_MS:
            frame = av.VideoFrame.from_ndarray(np.roll(stored, ms // 40, axis=1), format="rgb24")
            frame.pts, frame.time_base = ms, Fraction(1, 1000)
            out.mux(video.encode(frame))
        out.mux(video.encode(None))
        samples = np.sin(2 * np.pi * 440 * np.arange(16000 * 0.44) / 16000).astype(np.float32)
        for start in range(0, len(samples), 1024):
            chunk = av.AudioFrame.from_ndarray(samples[None, start : start + 1024], format="fltp", layout="mono")
            chunk.sample_rate = 16000
            out.mux(tone.encode(chunk))
        out.mux(tone.encode(None))
    return path


def streams_of(path: Path) -> dict:
    with av.open(str(path)) as container:
        video = container.streams.video[0]
        audio = container.streams.audio[0] if container.streams.audio else None
        frames = list(container.decode(video=0))
        container.seek(0)
        audio_packets = [bytes(p) for p in container.demux(audio) if p.size] if audio is not None else []
        return {
            "codec": video.codec_context.name,
            "size": (frames[0].width, frames[0].height),
            "rotation": frames[0].rotation,
            "times": [round(float(f.time), 3) for f in frames],
            "audio_codec": audio.codec_context.name if audio is not None else None,
            "audio_packets": audio_packets,
        }


@pytest.fixture(scope="module")
def phone_swap(tmp_path_factory, tiny_swapper) -> dict:
    """``mfs swap`` of a portrait phone clip into an MP4, as HEVC at CRF 30."""
    folder = tmp_path_factory.mktemp("phone")
    clip = phone_clip(folder / "phone.mp4")
    write_image(folder / "source.png", bundled_photos()["insightface/Tom_Hanks_54745.png"])
    result = subprocess.run(
        [MFS, "swap", "--source", str(folder / "source.png"), "--target", str(clip), "--output", str(folder / "out.mp4"),
         "--checkpoint", str(tiny_swapper), "--codec", "hevc", "--crf", "30", "--quiet"],
        capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stderr
    return {"summary": json.loads(result.stdout), "input": streams_of(clip), "output": streams_of(folder / "out.mp4")}


@pytest.mark.slow
def test_portrait_phone_clip_comes_out_upright(phone_swap):
    assert phone_swap["input"]["size"] == (480, 360) and phone_swap["input"]["rotation"] == -90
    assert phone_swap["output"]["size"] == (360, 480) and phone_swap["output"]["rotation"] == 0
    # dlib's frontal detector finds the face only in an upright picture: every frame was swapped
    assert phone_swap["summary"]["faces_swapped"] == phone_swap["summary"]["frames"] == len(FRAME_MS)


@pytest.mark.slow
def test_variable_frame_rate_timestamps_are_kept(phone_swap):
    assert phone_swap["input"]["times"] == [ms / 1000 for ms in FRAME_MS]
    assert phone_swap["output"]["times"] == phone_swap["input"]["times"]


@pytest.mark.slow
def test_audio_is_copied_packet_for_packet_and_codec_crf_honoured(phone_swap):
    assert phone_swap["output"]["audio_codec"] == "aac"
    assert phone_swap["output"]["audio_packets"] == phone_swap["input"]["audio_packets"]
    assert phone_swap["output"]["codec"] == "hevc"


@pytest.mark.parametrize(
    ("source", "output", "codec", "copied"),
    [
        (".webm", ".mkv", "opus", True),
        (".webm", ".mov", "aac", False),
        (".mp4", ".avi", "aac", True),
        (".mp4", ".mkv", "aac", True),
    ],
)
def test_audio_is_re_encoded_only_where_the_container_must(tmp_path, source, output, codec, copied):
    image = np.random.default_rng(0).integers(0, 255, (96, 160, 3), np.uint8)
    clip = make_sample_clip(tmp_path / f"clip{source}", image, (160, 96), frames=10)
    result = transcode(clip, tmp_path / f"out{output}", lambda frame, seconds: frame, progress=False)
    assert result.audio_copied is copied and not result.truncated
    out = streams_of(tmp_path / f"out{output}")
    assert out["audio_codec"] == codec
    if copied:
        assert out["audio_packets"] == streams_of(clip)["audio_packets"]


def test_an_error_while_swapping_leaves_no_output_and_no_thread(tmp_path):
    image = np.random.default_rng(0).integers(0, 255, (96, 160, 3), np.uint8)
    clip = make_sample_clip(tmp_path / "clip.mp4", image, (160, 96), frames=30)
    before = set(threading.enumerate())
    seen = []

    def failing(frame: np.ndarray, seconds: float | None) -> np.ndarray:
        seen.append(seconds)
        if len(seen) == 5:
            raise ValueError("swapping failed")
        return frame

    with pytest.raises(ValueError, match="swapping failed"):
        transcode(clip, tmp_path / "out.mp4", failing, progress=False)
    assert not (tmp_path / "out.mp4").exists() and sorted(p.name for p in tmp_path.iterdir()) == ["clip.mp4"]
    assert {t for t in threading.enumerate() if t.name != "tqdm_monitor"} <= before  # reader and writer joined


@pytest.mark.parametrize(
    ("option", "expected"),
    [(["--crf", "99"], "--crf 99: use 0 (lossless) to 51"), (["--codec", "vp8"], "--codec vp8: use one of h264, hevc"),
     (["--preset", "quick"], "--preset quick: use one of ultrafast")],
)
def test_bad_crf_codec_preset_are_one_line_before_any_work(tmp_path, option, expected):
    output = tmp_path / "out.mp4"
    arguments = ["--source", "me.jpg", "--target", "clip.mp4", "--output", str(output), "--checkpoint", "absent.pt"]
    with pytest.raises(SystemExit) as exit_:  # the checkpoint does not exist: the options are checked first
        main(["swap", *arguments, *option])
    assert isinstance(exit_.value.code, str) and "\n" not in exit_.value.code and expected in exit_.value.code
    assert not output.exists()


def test_one_euro_filter_steadies_a_still_face_and_follows_a_moving_one():
    fps, rng = 25.0, np.random.default_rng(0)
    face = np.float32([[100, 100], [160, 100], [130, 140], [105, 170], [155, 170]])  # eyes 60 px apart
    noisy = [face + rng.normal(0, 1.0, face.shape) for _ in range(50)]
    steady = LandmarkFilter(face, fps, min_cutoff=1.0, beta=2.0)
    smoothed = [steady(x, i / fps) for i, x in enumerate(noisy)]
    assert np.std(smoothed[20:], axis=0).mean() < 0.5 * np.std(noisy[20:], axis=0).mean()

    moving = [face + np.float32([5 * i, 0]) for i in range(60)]  # 5 px a frame

    def lag_frames(smoother: LandmarkFilter) -> float:
        return float(np.mean([(x - smoother(x, i / fps))[:, 0].mean() for i, x in enumerate(moving)][-20:]) / 5)

    one_euro, plain = lag_frames(LandmarkFilter(face, fps, 1.0, 2.0)), lag_frames(LandmarkFilter(face, fps, 1.0, 0.0))
    assert one_euro < 1.0 < 3.0 < plain  # the same cutoff without the speed term lags four frames behind
    off = LandmarkFilter(face, fps, min_cutoff=0.0, beta=0.0)
    assert all(np.array_equal(off(x, i / fps), x) for i, x in enumerate(noisy[:5]))


def test_faces_of_a_frame_are_swapped_in_one_batched_call(tiny_swapper):
    photos = bundled_photos()
    pipeline = FaceSwapPipeline(load_swapper(tiny_swapper))
    pipeline.set_source(photos["skimage/astronaut"])
    run, batches = pipeline.baked.run, []

    def counting(target: np.ndarray):
        batches.append(len(target))
        return run(target)

    pipeline.baked.run = counting
    _, swapped = pipeline.swap_frame(photos["insightface/t1.jpg"], video=False)
    assert swapped >= 3 and batches == [swapped]
    crops = np.stack([cv2.resize(photos["skimage/astronaut"], (224, 224)), cv2.resize(photos["insightface/t1.jpg"], (224, 224))])
    together, masks = pipeline.swap_crops(crops)
    for i, crop in enumerate(crops):  # the same as one at a time
        alone, mask = pipeline.swap_aligned(crop)
        assert np.abs(together[i].astype(int) - alone).max() <= 1 and np.abs(masks[i] - mask).max() < 1e-4


def clip_in_format(path: Path, size: tuple[int, int], pix_fmt: str, codec: str = "libx264", frames: int = 3) -> Path:
    """A short clip of the astronaut at ``size``, stored as ``pix_fmt`` by ``codec`` (odd sizes allowed)."""
    picture = cv2.resize(bundled_photos()["skimage/astronaut"], size, interpolation=cv2.INTER_AREA)
    with av.open(str(path), "w") as out:
        video = out.add_stream(codec, rate=25)
        video.width, video.height, video.pix_fmt = *size, pix_fmt
        for index in range(frames):
            frame = av.VideoFrame.from_ndarray(np.roll(picture, index, axis=1), format="rgb24")
            frame.pts = index
            out.mux(video.encode(frame))
        out.mux(video.encode(None))
    return path


def stored_format(path: Path) -> tuple[str, int, int, int]:
    """The pixel format, width, height and frame count a video file holds."""
    with av.open(str(path)) as container:
        context = container.streams.video[0].codec_context
        return context.pix_fmt, context.width, context.height, sum(1 for _ in container.decode(video=0))


@pytest.mark.parametrize(
    ("size", "pix_fmt", "codec", "options"),
    [
        ((401, 401), "yuv444p", "libx264", []),
        ((401, 401), "rgb24", "libx264rgb", ["--codec", "hevc"]),
        ((400, 401), "yuv444p", "libx264", []),
        ((400, 400), "yuv444p", "libx264", []),
    ],
    ids=["odd-yuv444p", "odd-rgb24-to-hevc", "odd-height", "even-yuv444p"],
)
def test_swapped_videos_are_420_at_even_sizes_whatever_the_target(tiny_swapper, tmp_path, capsys, size, pix_fmt, codec, options):
    write_image(tmp_path / "source.png", bundled_photos()["skimage/astronaut"])
    clip = clip_in_format(tmp_path / "clip.mkv", size, pix_fmt, codec)
    assert stored_format(clip) == (pix_fmt.replace("rgb24", "gbrp") if codec == "libx264rgb" else pix_fmt, *size, 3)
    main(["swap", "--source", str(tmp_path / "source.png"), "--target", str(clip), "--output", str(tmp_path / "out.mp4"),
          "--checkpoint", str(tiny_swapper), "--quiet", *options])
    summary = json.loads(capsys.readouterr().out)
    width, height = size[0] + size[0] % 2, size[1] + size[1] % 2
    assert stored_format(tmp_path / "out.mp4") == ("yuv420p", width, height, 3)
    assert summary["faces_swapped"] == 3
    padded = [w for w in summary["warnings"] if "4:2:0" in w]
    if (width, height) == size:
        assert padded == []
    else:
        assert padded == [f"{tmp_path / 'out.mp4'}: {clip} is {size[0]}x{size[1]}: written {width}x{height} (its last column "
                          "or row repeated), as 4:2:0 video, the kind every browser and phone plays, has even sides"]


def test_live_writes_420_at_even_sizes_from_an_odd_camera(tiny_swapper, tmp_path, capsys):
    write_image(tmp_path / "source.png", bundled_photos()["skimage/astronaut"])
    camera = clip_in_format(tmp_path / "camera.mkv", (401, 401), "yuv444p", frames=4)
    main(["live", "--camera", str(camera), "--source", str(tmp_path / "source.png"), "--checkpoint", str(tiny_swapper),
          "--output", str(tmp_path / "live.mkv"), "--json", "--quiet"])
    shown = json.loads(capsys.readouterr().out)["frames_shown"]
    assert shown >= 1 and stored_format(tmp_path / "live.mkv") == ("yuv420p", 402, 402, shown)
