"""``mfs demo`` driven in a real headless Chromium: bad uploads give one message and the server
goes on; a good pair gives the watermarked swap and its verify report. A screenshot is kept
in ``$MFS_TEST_ARTIFACTS`` (default ``test-artifacts/``)."""

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from mobilefaceswap.data.detection import DlibFaceDetector
from mobilefaceswap.data.embedded import bundled_photos
from mobilefaceswap.data.media import read_image
from mobilefaceswap.inference.swap import write_image

CHROMIUM = Path("/usr/bin/chromium")  # Debian's package; .ci/run installs it
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--no-first-run"]
ARTIFACTS = Path(os.environ.get("MFS_TEST_ARTIFACTS", Path(__file__).resolve().parents[1] / "test-artifacts"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def demo_server(tiny_swapper, tmp_path):
    """``mfs demo`` on 127.0.0.1 with a 1 MB upload limit; stopped after the test."""
    port, out = free_port(), tmp_path / "results"
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "mfs"), "demo", "--checkpoint", str(tiny_swapper), "--port", str(port),
         "--out-dir", str(out), "--max-upload-mb", "1"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 180
        while True:
            assert server.poll() is None, server.stdout.read()
            try:
                urllib.request.urlopen(url, timeout=5)
                break
            except OSError:
                assert time.monotonic() < deadline, "the demo did not start serving"
                time.sleep(1)
        yield url, out, server
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()


@pytest.mark.slow
@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium: apt-get install chromium")
def test_demo_page_swaps_and_survives_bad_uploads(demo_server, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    url, out, server = demo_server
    photos = bundled_photos()
    write_image(tmp_path / "source.png", photos["skimage/astronaut"])
    write_image(tmp_path / "target.jpg", photos["insightface/t1.jpg"])
    write_image(tmp_path / "blank.png", np.full((240, 320, 3), 127, np.uint8))
    (tmp_path / "notes.txt").write_text("not an image")
    (tmp_path / "huge.png").write_bytes(np.random.default_rng(0).bytes(2_000_000))

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch_persistent_context(
            tmp_path / "profile", executable_path=str(CHROMIUM), headless=True, args=FLAGS)
        page = browser.new_page()

        def submit(source: str, target: str, expected: str) -> None:
            page.goto(url)
            page.locator("#source input[type=file]").set_input_files(tmp_path / source)
            page.locator("#target input[type=file]").set_input_files(tmp_path / target)
            page.locator("#swap").click()
            expect(page.locator("#status")).to_contain_text(expected, timeout=120_000)

        submit("blank.png", "target.jpg", "Error: no face found in the source image")
        submit("source.png", "notes.txt", "Error: notes.txt is not a photo or video")
        page.goto(url)
        page.locator("#source input[type=file]").set_input_files(tmp_path / "huge.png")
        expect(page.get_by_text("exceed the maximum allowed size")).to_be_visible(timeout=30_000)
        assert server.poll() is None
        submit("source.png", "target.jpg", "Marked as synthetic")
        expect(page.locator("#verify")).to_contain_text("mobilefaceswap")
        expect(page.locator("#result-image img")).to_be_visible()
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=ARTIFACTS / "demo.png", full_page=True)
        browser.close()

    [result] = out.glob("*/target.jpg")  # the bad uploads wrote nothing
    before, after = read_image(tmp_path / "target.jpg"), read_image(result)
    for face in DlibFaceDetector()(before):
        left, top, right, bottom = (max(v, 0) for v in face.box)
        assert np.abs(after[top:bottom, left:right].astype(int) - before[top:bottom, left:right]).mean() > 10
