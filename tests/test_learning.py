"""Measuring that the student learns: the MobileFaceSwap teacher, the distillation gap, the learning curve."""

import json

import pytest
import torch
from omegaconf import OmegaConf

from mobilefaceswap.learning.distillation_gap import distillation_gap
from mobilefaceswap.models import MobileFaceSwap
from mobilefaceswap.models.identity import IRSEResNet
from mobilefaceswap.models.swapper import save_swapper
from mobilefaceswap.models.teachers import MobileFaceSwapTeacher
from mobilefaceswap.models.teachers.mobilefaceswap import calibrate_batchnorm
from mobilefaceswap.training.frozen import identity_network, share_identity, teacher_network

from helpers import run_mfs_train

SMALL_IDENTITY = {"_target_": "mobilefaceswap.models.identity.IRSEResNet", "layers": [1, 1, 1, 1], "channels": [16, 32, 64, 512]}


def _identity_cfg():
    return OmegaConf.create({"net": SMALL_IDENTITY, "pretrained": None, "expected": "x", "input_size": 112,
                             "mean": [0.5] * 3, "std": [0.5] * 3, "interpolation": "bilinear", "crop_box": None})


def _teacher_cfg(face_cache, pretrained=None):
    return OmegaConf.create({
        "net": {"_target_": "mobilefaceswap.models.teachers.MobileFaceSwapTeacher", "seed": 0},
        "pretrained": pretrained, "expected": "x", "identity": None, "alignment": {"template": "arcface", "size": 224},
        "calibration": {"cache_dir": str(face_cache), "batch_size": 8},
    })


@pytest.fixture(scope="module")
def faces(face_cache):
    import numpy as np

    with np.load(face_cache / "embedded_faces_arcface_224.npz") as data:
        return torch.from_numpy(data["faces"][:4]).permute(0, 3, 1, 2).float() / 255


def _source_effect(teacher, identity, faces) -> float:
    """Mean change of the output on one target when the source changes."""
    with torch.no_grad():
        features = identity(faces)
        out = teacher(faces, faces[:1].expand_as(faces), features)
    return (out - out.mean(0, keepdim=True)).abs().mean().item()


@pytest.mark.slow
def test_random_mobilefaceswap_teacher_is_fixed_and_depends_on_the_source(face_cache, faces):
    torch.manual_seed(0)
    identity = identity_network(**_identity_cfg())
    teacher = share_identity(teacher_network(**_teacher_cfg(face_cache)), identity)
    torch.manual_seed(1)  # the teacher's weights come from its own seed, not the run's
    again = share_identity(teacher_network(**_teacher_cfg(face_cache)), identity)
    assert all(torch.equal(a, b) for a, b in zip(teacher.state_dict().values(), again.state_dict().values()))
    assert not teacher.training and _source_effect(teacher, identity, faces) > 1e-3
    # Uncalibrated (BatchNorm statistics at their defaults), the same network ignores the source.
    from mobilefaceswap.models.teachers import Teacher

    raw = Teacher(MobileFaceSwapTeacher(seed=0)).eval()
    assert _source_effect(raw, identity, faces) < 1e-4


@pytest.mark.slow
def test_mobilefaceswap_teacher_loads_a_swapper_file(tmp_path, face_cache, faces):
    student = MobileFaceSwap()
    calibrate_batchnorm(student, [(faces, torch.nn.functional.normalize(torch.randn(4, 512), dim=1), torch.randn(4, 512, 7, 7))])
    identity = identity_network(**_identity_cfg())
    arch = {k: v for k, v in SMALL_IDENTITY.items() if k != "_target_"}
    path = save_swapper(tmp_path / "swapper.pt", student, identity, crop_size=224, identity_arch=arch)
    teacher = share_identity(teacher_network(**_teacher_cfg(face_cache, str(path))), identity)
    features = identity(faces)
    with torch.no_grad():
        expected = student(faces.flip(0), features.z, features.map).image
        assert torch.equal(teacher(faces, faces.flip(0), features), expected)
    assert isinstance(IRSEResNet(**arch), torch.nn.Module)


@pytest.mark.slow
def test_distillation_gap_is_zero_for_a_copy_of_the_teacher_and_sees_a_student_that_ignores_the_source(face_cache, faces):
    identity = identity_network(**_identity_cfg())
    teacher = share_identity(teacher_network(**_teacher_cfg(face_cache)), identity)
    copy = MobileFaceSwap()
    copy.load_state_dict(teacher.generator.state_dict())
    gap = distillation_gap(copy.eval(), teacher, faces, identity(faces))
    assert gap["l1"] == 0 and gap["source_correlation"] == pytest.approx(1.0) and gap["pairs"] == 12
    assert gap["teacher_source_effect"] > 1e-3
    # Other faces as the sources of the same targets (the training identities, in the learning curve).
    seen = distillation_gap(copy.eval(), teacher, faces[:2], identity(faces[:2]), sources=(faces[2:], identity(faces[2:])))
    assert seen["l1"] == 0 and seen["source_correlation"] == pytest.approx(1.0) and seen["pairs"] == 4

    class EchoStudent(torch.nn.Module):
        def forward(self, target, z, id_map):
            from mobilefaceswap.models.student import SwapOutput

            return SwapOutput(image=target, raw=target, mask=torch.ones_like(target[:, :1]))

    echo = distillation_gap(EchoStudent(), teacher, faces, identity(faces))
    assert echo["l1"] > 0 and abs(echo["source_correlation"]) < 1e-6 and echo["student_source_effect"] < 1e-6


# The learning curve was tuned on seeds 42, 7, 0 and 1, and its source augmentations chosen over seeds 0-4;
# the guard trains seed 3, which was not tuned on (CPU, about 3 minutes).
GUARD_SEED = 3


@pytest.mark.slow
def test_the_student_carries_the_source_on_a_seed_it_was_not_tuned_on(tmp_path, face_cache):
    run_dir = tmp_path / "run"
    # Half the experiment's 600 steps, to keep CI short: in the 600-step run seed 3 is past both bars from step 200.
    result = run_mfs_train("experiment=learning_curve", f"seed={GUARD_SEED}", "trainer.max_steps=300",
                           "callbacks.learning_curve.every_n_steps=300", "trainer.val_check_interval=300",
                           "callbacks.checkpoint.every_n_train_steps=300", "callbacks.image_grid.every_n_steps=300",
                           f"hydra.run.dir={run_dir}", cwd=tmp_path, cache=face_cache)
    assert result.returncode == 0, result.stderr[-3000:]
    history = json.loads((run_dir / "learning_curve.json").read_text())["history"]
    start, end = history[0], history[-1]
    # Before the teacher and student were both demodulated (balanced), seed 7 ended at a ratio of 0.14
    # and a correlation of 0.08; the bar is 0.5 and 0.7 at the end, checked over seeds by
    # make learning-curves. Here, with margin for another machine's float rounding:
    assert end["seen_student_source_effect"] >= 0.3 * end["seen_teacher_source_effect"]
    assert end["seen_source_correlation"] >= 0.5
    assert end["step"] == 300 and max(max(p["activation_scale"].values()) for p in (start, end)) <= 50
    # What the run writes: the curve, with every figure, and its plot.
    assert [p["step"] for p in history] == [0, 300]
    assert {"teacher_source_effect", "seen_student_source_effect", "seen_teacher_source_effect"} <= set(end)
    assert set(start["activation_scale"]) >= {"encoder.0", "decoder.3", "head.1", "fusion.0"}
    assert (run_dir / "learning_curve.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
