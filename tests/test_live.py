"""``mfs live``: a clip played as a camera, swapped in real time into a file, a virtual camera or
a window; frames dropped rather than falling behind; Ctrl-C ends it cleanly."""

import json
import re
import signal
import subprocess
import sys
import time
import types
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from mobilefaceswap.cli import main
from mobilefaceswap.data.embedded import bundled_photos
from mobilefaceswap.data.sample_clip import make_sample_clip
from mobilefaceswap.inference.camera import CapturedFrame, NewestFrame
from mobilefaceswap.inference.swap import write_image

MFS = str(Path(sys.executable).parent / "mfs")
SUMMARY_KEYS = {"camera", "runtime", "outputs", "frames_captured", "frames_shown", "frames_dropped", "faces_swapped",
                "frames_without_face", "seconds", "fps", "camera_fps", "latency_ms", "busy_ms", "stage_ms", "watermark",
                "ended_by", "interrupted", "warnings"}


@pytest.fixture(scope="module")
def inputs(tmp_path_factory, tiny_swapper) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("live")
    astronaut = bundled_photos()["skimage/astronaut"]
    write_image(folder / "astronaut.png", astronaut)
    # faster than any swapper here can follow (8 ms a frame), and slow enough for every frame (250 ms)
    make_sample_clip(folder / "fast.mp4", astronaut, (640, 360), frames=48, fps=120, audio=False)
    make_sample_clip(folder / "slow.mp4", astronaut, (640, 360), frames=8, fps=4, audio=False)
    make_sample_clip(folder / "long.mp4", astronaut, (640, 360), frames=200, fps=10, audio=False)
    (folder / "text.mp4").write_text("not a video")
    return {"swapper": tiny_swapper, **{p.stem: p for p in folder.iterdir()}}


def live_args(inputs, camera: str, *extra: str) -> list[str]:
    return ["live", "--camera", camera, "--source", str(inputs["astronaut"]), "--checkpoint", str(inputs["swapper"]), *extra]


def mfs_in_process(*args: str) -> str:
    """``mfs`` called in this process for an error found before any work: its one line."""
    with pytest.raises(SystemExit) as exit_:
        main(list(args))
    assert isinstance(exit_.value.code, str) and "\n" not in exit_.value.code
    return exit_.value.code


def frames_in(path: Path) -> int:
    with av.open(str(path)) as container:
        return sum(1 for _ in container.decode(video=0))


def test_newest_frame_keeps_only_the_newest_and_counts_the_rest():
    slot = NewestFrame()
    for i in range(3):
        slot.put(CapturedFrame(np.full((2, 2, 3), i, np.uint8), i / 25, time.perf_counter()))
    assert slot.take().rgb[0, 0, 0] == 2 and (slot.captured, slot.dropped) == (3, 2)
    slot.put(CapturedFrame(np.zeros((2, 2, 3), np.uint8), 0.2, time.perf_counter()))
    slot.close()
    assert slot.take() is not None and slot.take() is None and slot.dropped == 2  # taken in time: not dropped


@pytest.mark.slow
def test_live_from_a_fast_clip_to_a_file_drops_frames_and_is_marked(inputs, tmp_path):
    output = tmp_path / "live.mp4"
    result = subprocess.run([MFS, *live_args(inputs, str(inputs["fast"]), "--output", str(output), "--json")],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)  # stdout is the JSON alone; the progress line went to stderr
    assert set(summary) == SUMMARY_KEYS and "live from" in result.stderr
    assert summary["ended_by"] == "camera" and not summary["interrupted"] and summary["outputs"]["output"] == str(output)
    assert summary["frames_captured"] == 48 and summary["frames_shown"] + summary["frames_dropped"] == 48
    # a frame every 8.3 ms, each taking longer than that to swap: the swapper cannot keep up, so
    # frames were dropped; the ones shown are about as many as its speed allows in that time
    busy, milliseconds = summary["busy_ms"], summary["seconds"] * 1000
    assert busy["p50"] > 1000 / 120 and summary["frames_dropped"] > 0
    # and it was never idle: a newer frame was always waiting, so the frames shown filled the time
    assert 0.5 * milliseconds <= summary["frames_shown"] * busy["mean"] <= milliseconds + 1
    assert summary["faces_swapped"] >= summary["frames_shown"] - 1 and summary["fps"] > 0
    latency = summary["latency_ms"]
    assert 0 < latency["p50"] <= latency["p95"] <= latency["max"] < 5000
    assert frames_in(output) == summary["frames_shown"] and not list(tmp_path.glob(".*"))
    verified = subprocess.run([MFS, "verify", str(output), "--json"], capture_output=True, text=True)
    [report] = json.loads(verified.stdout)
    assert verified.returncode == 0 and report["watermark"]["id"] == summary["watermark"]
    assert report["metadata"]["record"]["watermark"]["id"] == summary["watermark"]


@pytest.mark.slow
def test_live_keeps_every_frame_of_a_slow_camera(inputs, tmp_path, capsys):
    main(live_args(inputs, str(inputs["slow"]), "--output", str(tmp_path / "live.mkv"), "--json", "--quiet",
                   "--only", str(inputs["astronaut"]), "--smoothing", "0"))
    captured = capsys.readouterr()
    summary = json.loads(captured.out)
    assert captured.err == ""  # --quiet
    # a frame every 250 ms, swapped in less: none is dropped, and each is shown before the next comes
    assert summary["busy_ms"]["max"] < 250 and summary["frames_dropped"] == 0 and summary["frames_shown"] == 8
    assert summary["latency_ms"]["max"] < 250 and 7 / 4 * 0.9 < summary["seconds"] < 7 / 4 + 0.5
    assert summary["faces_swapped"] == 8  # --only the source's own face: found in every frame
    assert frames_in(tmp_path / "live.mkv") == 8


@pytest.mark.slow
def test_ctrl_c_ends_with_the_summary_a_complete_file_and_exit_130(inputs, tmp_path):
    output = tmp_path / "live.mp4"
    process = subprocess.Popen([MFS, *live_args(inputs, str(inputs["long"]), "--output", str(output), "--json")],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not list(tmp_path.glob(".live.*")) and time.monotonic() < deadline:  # the stream has started
        time.sleep(0.2)
    time.sleep(2)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    summary = json.loads(out)
    assert summary["interrupted"] and summary["ended_by"] == "interrupted" and "Traceback" not in err
    assert 5 <= summary["frames_shown"] < 200
    assert frames_in(output) == summary["frames_shown"] and not list(tmp_path.glob(".*"))


def test_virtual_camera_gets_every_frame_shown(inputs, monkeypatch, capsys):
    sent = []

    class FakeCamera:  # pyvirtualcam's Camera, as its API is: (width, height, fps, fmt=...), send, device, close
        def __init__(self, width, height, fps, fmt):
            self.size, self.fps, self.fmt, self.device = (width, height), fps, fmt, "/dev/video9"

        def send(self, frame):
            sent.append(frame.shape)

        def close(self):
            sent.append("closed")

    fake = types.SimpleNamespace(Camera=FakeCamera, PixelFormat=types.SimpleNamespace(RGB="RGB"))
    monkeypatch.setitem(sys.modules, "pyvirtualcam", fake)
    main(live_args(inputs, str(inputs["slow"]), "--virtual-camera", "--json", "--quiet", "--duration", "0.5"))
    summary = json.loads(capsys.readouterr().out)
    assert summary["outputs"] == {"window": False, "virtual_camera": "/dev/video9", "output": None}
    assert summary["ended_by"] == "duration" and 2 <= summary["frames_shown"] <= 4  # a frame every 250 ms
    assert sent == [(360, 640, 3)] * summary["frames_shown"] + ["closed"]


def test_window_shows_speed_over_the_picture_and_q_ends_it(inputs, monkeypatch, capsys):
    shown, texts = [], []
    put_text = cv2.putText
    monkeypatch.setattr("mobilefaceswap.inference.live_outputs.display_problem", lambda: None)
    monkeypatch.setattr(cv2, "putText", lambda image, text, *rest: (texts.append(text), put_text(image, text, *rest))[1])
    monkeypatch.setattr(cv2, "namedWindow", lambda name, flags: None)
    monkeypatch.setattr(cv2, "imshow", lambda name, image: shown.append(image))
    monkeypatch.setattr(cv2, "waitKey", lambda delay: ord("q") if len(shown) == 4 else -1)
    monkeypatch.setattr(cv2, "getWindowProperty", lambda name, prop: 1.0)
    monkeypatch.setattr(cv2, "destroyWindow", lambda name: None)
    main(live_args(inputs, str(inputs["slow"]), "--json", "--quiet"))
    summary = json.loads(capsys.readouterr().out)
    assert summary["ended_by"] == "window" and summary["frames_shown"] == 4 and summary["outputs"]["window"]
    # the speed and latency are written over each frame once two frames give them
    assert len(shown) == 4 and texts[0::2][:2] == ["starting"] * 2
    assert all(re.fullmatch(r"\d+\.\d fps  latency p50 \d+ ms p95 \d+ ms  dropped \d+", text) for text in texts[4:])


@pytest.mark.parametrize(
    "camera, extra, expected",
    [
        ("99", ["--output", "x.mp4"], "--camera 99: cannot open camera 99"),
        ("missing.mp4", ["--output", "x.mp4"], "--camera missing.mp4: no such file or device index"),
        ("text", ["--output", "x.mp4"], "cannot open video"),
        ("slow", ["--output", "out.avi"], "a live stream is written to a video file ending in .m4v, .mkv, .mov, .mp4"),
        ("slow", ["--output", "slow"], "it would be overwritten; choose another --output"),
        ("slow", ["--window"], "--window: no display to show a window on"),
        ("slow", ["--virtual-camera"], "--virtual-camera needs pyvirtualcam: pip install 'mobilefaceswap[live]'"),
        ("slow", ["--output", "x.mp4", "--crf", "99"], "--crf 99: use 0 (lossless) to 51"),
    ],
    ids=["no-device", "no-file", "not-a-video", "avi", "output-is-camera", "no-display", "no-pyvirtualcam", "bad-crf"],
)
def test_bad_camera_or_output_is_one_line_before_any_work(inputs, tmp_path, monkeypatch, camera, extra, expected):
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.setitem(sys.modules, "pyvirtualcam", None)  # as if not installed
    monkeypatch.chdir(tmp_path)
    camera = str(inputs[camera]) if camera in inputs else camera
    extra = [str(inputs[e]) if e in inputs else e for e in extra]
    before = {p: p.read_bytes() for p in inputs.values() if p.is_file()}
    args = ["live", "--camera", camera, "--source", str(inputs["astronaut"]), "--checkpoint", str(tmp_path / "absent.pt"), *extra]
    assert expected in mfs_in_process(*args)  # the checkpoint does not exist: nothing was loaded
    assert list(tmp_path.iterdir()) == [] and all(p.read_bytes() == data for p, data in before.items())


@pytest.mark.slow
def test_bench_live_measures_live_beside_the_offline_pipeline(inputs, tmp_path, capsys):
    main(["bench", "--live", "--frames", "15", "--checkpoint", str(inputs["swapper"]), "--json", "--output",
          str(tmp_path / "bench.json")])
    report = json.loads(capsys.readouterr().out)
    assert report == json.loads((tmp_path / "bench.json").read_text())
    assert set(report["fps"]) == {"pipeline_720p_1face_fps", "live_720p_1face_fps", "live_720p_latency_p50_ms",
                                  "live_720p_latency_p95_ms"}
    live = report["live"]
    assert live["offline_fps"] > 0 and live["live_fps"] > 0 and live["runtime"] == "onnx"
    assert live["frames_captured"] == 15 and live["frames_shown"] + live["frames_dropped"] == 15
    assert 0 < live["latency_ms"]["p50"] <= live["latency_ms"]["p95"] == report["fps"]["live_720p_latency_p95_ms"]
    assert {"detect", "swap", "watermark", "encode"} <= set(live["stage_ms"])
