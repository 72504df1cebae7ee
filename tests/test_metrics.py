"""Metrics on constructed cases with known answers."""

import cv2
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from mobilefaceswap.data.detection import DlibFaceDetector
from mobilefaceswap.data.embedded import bundled_photos
from mobilefaceswap.metrics import ExpressionError, IdentityRetrieval, PoseError, build_fid
from mobilefaceswap.metrics.identity import DlibIdentityEmbedder
from mobilefaceswap.metrics.pose import Hopenet, landmark_pose

from helpers import export_identity_onnx, random_inception_weights


def test_retrieval_is_perfect_when_swapped_equals_source():
    source = F.normalize(torch.randn(40, 128), dim=1)
    ids = torch.arange(40) % 10
    metric = IdentityRetrieval()
    metric.update(source, source, ids)
    result = metric.compute()
    assert result["id_retrieval"] == 100 and torch.isclose(result["id_similarity"], torch.tensor(1.0))


def test_retrieval_is_at_chance_when_swapped_is_someone_else():
    torch.manual_seed(0)
    gallery = F.normalize(torch.randn(10, 256), dim=1)
    ids = torch.arange(2000) % 10
    metric = IdentityRetrieval()
    for chunk in ids.split(500):  # several updates accumulate
        metric.update(torch.randn(len(chunk), 256), gallery[chunk], chunk)  # swapped = unrelated target faces
    assert 6 < metric.compute()["id_retrieval"] < 14  # chance is 10% with 10 sources


def test_dlib_embedder_recognises_the_same_person():
    photos = bundled_photos()
    group = photos["insightface/t1.jpg"]
    faces = DlibFaceDetector()(group)
    crops = [group[max(f.box[1] - 40, 0) : f.box[3] + 40, max(f.box[0] - 40, 0) : f.box[2] + 40] for f in faces]
    detector, embedder = DlibFaceDetector(), DlibIdentityEmbedder()

    def embed(images):
        return torch.stack([embedder(image, detector(image)[0]) for image in images])

    originals = embed(crops)
    shifted = embed([np.ascontiguousarray(c[5:, 5:]) for c in crops])  # same people, other crops
    metric = IdentityRetrieval()
    metric.update(shifted, originals, torch.arange(len(crops)))
    assert metric.compute()["id_retrieval"] == 100


def test_pose_error_is_zero_for_identical_poses():
    metric = PoseError()
    pose = torch.tensor([[10.0, -5.0, 3.0], [0.0, 0.0, 0.0]])
    metric.update(pose, pose)
    assert metric.compute() == 0


@pytest.mark.parametrize("angle", [10.0, 20.0])
def test_rotated_face_gives_the_rotation_as_pose_error(angle):
    image = bundled_photos()["skimage/astronaut"]
    detector = DlibFaceDetector()
    face = detector(image)[0]
    rotation = cv2.getRotationMatrix2D(tuple(map(float, face.landmarks68.mean(0))), angle, 1.0)
    rotated = cv2.warpAffine(image, rotation, image.shape[1::-1], borderMode=cv2.BORDER_REFLECT)
    before = torch.tensor(landmark_pose(face, image.shape[:2]))[None]
    after = torch.tensor(landmark_pose(detector(rotated)[0], rotated.shape[:2]))[None]
    metric = PoseError()
    metric.update(after, before)
    assert abs(metric.compute().item() - angle) < 2.0
    assert abs(abs(after[0, 2] - before[0, 2]).item() - angle) < 2.0  # it is the roll that changed


def test_hopenet_has_the_released_structure():
    net = Hopenet().eval()
    keys = net.state_dict()
    assert {"fc_yaw.weight", "fc_pitch.weight", "fc_roll.weight", "fc_finetune.weight", "layer4.2.conv3.weight"} <= set(keys)
    with torch.no_grad():
        angles = net(torch.rand(2, 3, 224, 224))
    assert angles.shape == (2, 3) and (angles.abs() <= 99).all()


def test_expression_error():
    landmarks = torch.rand(3, 68, 2) * 100
    metric = ExpressionError()
    metric.update(landmarks, landmarks * 2 + 5)  # same shape, other scale and place
    assert metric.compute() < 1e-5
    opened = landmarks.clone()
    opened[:, 57] += torch.tensor([0.0, 30.0])  # lower lip down
    metric.reset()
    metric.update(opened, landmarks)
    assert metric.compute() > 0.01


def test_no_fid_without_inception_weights(tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    assert build_fid() is None
    assert build_fid(tmp_path / "missing.pth") is None
    assert "no FID" in caplog.text and "no other network" in caplog.text


@pytest.mark.slow
def test_fid_with_local_inception_weights(tmp_path, monkeypatch):
    # Random weights of the real Inception architecture, written where TORCH_HOME keeps them.
    random_inception_weights(tmp_path / "hub" / "checkpoints" / "weights-inception-2015-12-05-6726825d.pth")
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    fid = build_fid()
    assert fid is not None
    torch.manual_seed(0)
    images = torch.rand(8, 3, 64, 64)
    fid.update(images, real=True)
    fid.update(images, real=False)
    same = fid.compute().item()
    fid.reset()
    fid.update(images, real=True)
    fid.update((images * 0.2).clamp(0, 1), real=False)
    assert abs(same) < 1e-2 and fid.compute().item() > same


@pytest.mark.slow
def test_fid_compares_the_aligned_face_crops_and_fid_frame_the_whole_images(tmp_path):
    from mobilefaceswap.data.alignment import alignment_matrix, warp_to_crop
    from mobilefaceswap.evaluation.evaluator import score_manifest
    from mobilefaceswap.inference.swap import write_image

    # Each face of the group photo on a wide grey border; its "swap" is the same picture with
    # the border, far outside the face crop, turned to noise: what the paper's FID would not see.
    group, rng = bundled_photos()["insightface/t1.jpg"], np.random.default_rng(0)
    rows = []
    for i, f in enumerate(DlibFaceDetector()(group)):
        x0, y0, x1, y1 = f.box
        margin = x1 - x0  # holds both templates' crops
        if min(x0, y0) < margin or x1 + margin > group.shape[1] or y1 + margin > group.shape[0]:
            continue
        face = group[y0 - margin : y1 + margin, x0 - margin : x1 + margin]
        target = cv2.copyMakeBorder(face, 150, 150, 150, 150, cv2.BORDER_CONSTANT, value=(128, 128, 128))
        swapped = rng.integers(0, 256, target.shape, dtype=np.uint8)
        swapped[150:-150, 150:-150] = face
        landmarks = DlibFaceDetector()(target)[0].landmarks5
        for size, template in ((224, "arcface"), (256, "ffhq")):  # the crop lies inside the unchanged face
            crops = (warp_to_crop(image, alignment_matrix(landmarks, size, template), size) for image in (target, swapped))
            assert np.array_equal(*crops)
        write_image(tmp_path / f"target{i}.png", target)
        write_image(tmp_path / f"swapped{i}.png", swapped)
        rows.append(f"target{i}.png,target{i}.png,swapped{i}.png")
    (tmp_path / "manifest.csv").write_text("\n".join(["source,target,swapped", *rows]) + "\n")
    weights = random_inception_weights(tmp_path / "inception.pth")
    for template in ("arcface", "ffhq"):
        report = score_manifest(tmp_path / "manifest.csv", progress=False, inception_weights=str(weights), template=template)
        results = report["results"]
        assert report["scored"] == len(rows) >= 2
        assert abs(results["fid"]) < 1e-3 < 1 < results["fid_frame"], results
        assert results["backends"]["fid"] == f"Inception {weights} on aligned face crops ({template} 224)"


def _manifest(tmp_path, rows: list[tuple[str, str, str]]):
    """Face crops of the group photo as files, and a manifest over them."""
    from mobilefaceswap.inference.swap import write_image

    group = bundled_photos()["insightface/t1.jpg"]
    for i, f in enumerate(DlibFaceDetector()(group)):
        crop = group[max(f.box[1] - 50, 0) : f.box[3] + 50, max(f.box[0] - 50, 0) : f.box[2] + 50]
        write_image(tmp_path / f"face{i}.png", crop)
    lines = ["source,target,swapped"] + [",".join(r) for r in rows]
    (tmp_path / "manifest.csv").write_text("\n".join(lines) + "\n")
    return tmp_path / "manifest.csv"


def _eval(manifest, *extra):
    import json
    import subprocess
    import sys
    from pathlib import Path

    mfs = str(Path(sys.executable).parent / "mfs")
    command = [mfs, "eval-swaps", "--manifest", str(manifest), "--json", "--quiet", *extra]
    result = subprocess.run(command, capture_output=True, text=True)
    return result, (json.loads(result.stdout) if result.returncode == 0 else None)


@pytest.mark.slow
def test_eval_swaps_scores_known_cases(tmp_path):
    # swapped = source: perfect identity; swapped = target: zero pose and expression error.
    as_source = _manifest(tmp_path, [(f"face{i}.png", f"face{(i + 1) % 4}.png", f"face{i}.png") for i in range(4)])
    result, report = _eval(as_source)
    assert result.returncode == 0, result.stderr
    assert report["scored"] == 4 and report["results"]["id_retrieval"] == 100
    assert (
        report["results"]["pose_error"] > 1 and report["results"]["fid"] is None and "Inception" in report["results"]["fid_note"]
    )
    as_target = _manifest(tmp_path, [(f"face{i}.png", f"face{(i + 1) % 4}.png", f"face{(i + 1) % 4}.png") for i in range(4)])
    result, report = _eval(as_target)
    assert report["results"]["pose_error"] == 0 and report["results"]["expression_error"] == 0
    assert report["results"]["id_retrieval"] == 0  # each swap shows the next person, another source


def _eval_in_process(capsys, *args):
    """``mfs eval-swaps`` in this process: (exit code or message, stdout, stderr)."""
    from mobilefaceswap.cli import main

    with pytest.raises(SystemExit) as exit_:
        main(["eval-swaps", "--quiet", *map(str, args)])
        raise SystemExit(0)
    out, err = capsys.readouterr()
    return exit_.value.code, out, err


def test_eval_swaps_partial_manifest_is_visible_and_exits_3(tmp_path, capsys):
    manifest = _manifest(tmp_path, [("face0.png", "face1.png", "missing.png"), ("face1.png", "face2.png", "face1.png")])
    code, out, err = _eval_in_process(capsys, "--manifest", manifest)
    assert code == 3 and "id_retrieval" in out  # the scores of the rows that could be read
    assert "scored 1 of 2; skipped:" in err and f"cannot read image {tmp_path / 'missing.png'}" in err


def test_eval_swaps_with_no_scorable_row_says_why(tmp_path, capsys):
    manifest = _manifest(tmp_path, [("face0.png", "face1.png", "missing.png")])
    code, _, _ = _eval_in_process(capsys, "--manifest", manifest)
    missing = tmp_path / "missing.png"
    reason = f"cannot read image {missing}: No such file or directory"
    assert code == f"mfs eval-swaps: error: none of the 1 rows could be scored: {reason}"


@pytest.mark.parametrize(
    "text, expected",
    [
        ("", "is empty: it needs a header source,target,swapped"),
        ("source,target,swapped\n", "is empty: it has a header and no rows to score"),
        ("a,b\n1,2\n", "needs a header with source,target,swapped (missing: source, swapped, target)"),
    ],
    ids=["empty", "header-only", "wrong-header"],
)
def test_eval_swaps_bad_manifest_is_one_line(tmp_path, capsys, text, expected):
    (tmp_path / "bad.csv").write_text(text)
    code, _, _ = _eval_in_process(capsys, "--manifest", tmp_path / "bad.csv")
    assert code.startswith(f"mfs eval-swaps: error: {tmp_path / 'bad.csv'}") and expected in code


def test_eval_swaps_never_writes_over_its_manifest(tmp_path, capsys):
    manifest = _manifest(tmp_path, [("face0.png", "face1.png", "face0.png")])
    before = manifest.read_text()
    code, _, _ = _eval_in_process(capsys, "--manifest", manifest, "--out", tmp_path / "." / "manifest.csv")
    assert "is the --manifest" in code and "choose another --output" in code and manifest.read_text() == before


@pytest.mark.slow
def test_eval_swaps_with_hopenet_and_cosface_weights(tmp_path):
    from mobilefaceswap.models.identity import IRSEResNet

    torch.manual_seed(0)
    torch.save(Hopenet().state_dict(), tmp_path / "hopenet.pth")
    cosface = IRSEResNet(layers=(1, 1, 1, 1), channels=(16, 32, 64, 512), use_se=False).eval()
    export_identity_onnx(cosface, tmp_path / "cosface.onnx")
    manifest = _manifest(tmp_path, [(f"face{i}.png", f"face{(i + 1) % 3}.png", f"face{i}.png") for i in range(3)])
    result, report = _eval(manifest, "--hopenet", str(tmp_path / "hopenet.pth"), "--cosface", str(tmp_path / "cosface.onnx"))
    assert result.returncode == 0, result.stderr
    assert report["results"]["backends"]["pose"].startswith("Hopenet") and report["results"]["backends"]["identity"].startswith(
        "CosFace"
    )
    assert report["results"]["id_retrieval"] == 100  # swapped = source, whatever the embedder
    result, _ = _eval(manifest, "--hopenet", str(tmp_path / "none.pth"))
    assert result.returncode != 0 and "--hopenet: weights file not found" in result.stderr
