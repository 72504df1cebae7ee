"""Faces lying on their side or upside down: a frame without an upright face is searched again
turned (90 degrees either way, 180), its faces placed back on the frame and swapped there."""

import numpy as np
import pytest

from mobilefaceswap.data.detection import DlibFaceDetector
from mobilefaceswap.data.embedded import bundled_photos
from mobilefaceswap.data.vggface2 import Landmarks, prepare_config
from mobilefaceswap.inference.pipeline import FaceSwapPipeline
from mobilefaceswap.models.swapper import load_swapper


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    return bundled_photos()["skimage/astronaut"]


@pytest.mark.parametrize("quarters", [1, 2, 3])
def test_a_turned_face_is_found_turned_and_placed_back_on_the_frame(photo, quarters):
    detector = DlibFaceDetector()
    [upright] = detector(photo)
    frame = np.ascontiguousarray(np.rot90(photo, quarters))  # the photo turned counter-clockwise
    assert detector(frame) == []  # HOG finds upright faces only
    [found] = detector(frame, turn=-quarters % 4)
    # each landmark lands on the very pixel of the frame that its upright twin lies on in the photo
    up, back = upright.landmarks68.astype(int), found.landmarks68.astype(int)
    assert np.array_equal(frame[back[:, 1], back[:, 0]], photo[up[:, 1], up[:, 0]])
    # and its box holds the upright box's pixels, turned
    (left, top, right, bottom), (ul, ut, ur, ub) = found.box, upright.box
    assert np.array_equal(frame[top : bottom + 1, left : right + 1], np.rot90(photo[ut : ub + 1, ul : ur + 1], quarters))
    # the eyes stay the face's own: the right eye is a quarter turn from the left as the face lies
    eyes = found.landmarks5[1] - found.landmarks5[0]
    direction = {1: (0, -1), 2: (-1, 0), 3: (0, 1)}[quarters]  # where the photo's +x points in the frame
    assert np.dot(eyes / np.linalg.norm(eyes), direction) > 0.9


def test_video_frames_lying_on_their_side_are_swapped_in_every_frame(photo, tiny_swapper):
    pipeline = FaceSwapPipeline(load_swapper(tiny_swapper))
    pipeline.set_source(photo)
    pipeline.reset(25.0)
    turned = np.ascontiguousarray(np.rot90(photo, 3))  # held clockwise, as a phone on its side
    for i in range(8):
        frame = np.roll(turned, 3 * i, axis=0)  # moving down the frame
        out, count = pipeline.swap_frame(frame, video=True, seconds=i / 25)
        assert count == 1 and pipeline.tracker.tracks[0].turn == 1
        changed = np.abs(out.astype(int) - frame.astype(int)).max(axis=2) > 20
        assert changed.sum() > 40 * 40  # the face was replaced


def test_training_photos_lying_on_their_side_are_kept_with_dlib_turned(photo):
    sideways = np.ascontiguousarray(np.rot90(photo))
    upright_only = Landmarks(prepare_config(224, "arcface", landmarks="dlib"))
    turned = Landmarks(prepare_config(224, "arcface", landmarks="dlib_turned"))
    assert upright_only(sideways, None) is None  # dropped as "no landmarks" by mfs prepare-data
    points = turned(sideways, None)
    assert np.allclose(points, DlibFaceDetector().search(sideways)[0][0].landmarks5) and points[0, 1] > points[1, 1]
    assert np.array_equal(turned(photo, None), upright_only(photo, None))  # an upright face: the same as dlib
    with pytest.raises(ValueError, match="use csv, dlib, dlib_turned or insightface"):
        prepare_config(224, "arcface", landmarks="hog")
