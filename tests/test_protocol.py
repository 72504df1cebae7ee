"""The paper's protocol as a config choice (eval=ffpp), swapper files of every Table 2 variant,
the identity and pose networks of the paper from their usual files."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from hydra.utils import instantiate
from PIL import Image

from mobilefaceswap import cli
from mobilefaceswap.data.alignment import align_face
from mobilefaceswap.data.detection import DlibFaceDetector
from mobilefaceswap.data.embedded import bundled_photos
from mobilefaceswap.inference.swap import write_image
from mobilefaceswap.metrics.pose import Hopenet, hopenet_box
from mobilefaceswap.models.identity import IdentityEncoder, IRSEResNet
from mobilefaceswap.models.pretrained import WeightsError
from mobilefaceswap.models.recognition import IResNet, load_recognition_network
from mobilefaceswap.models.swapper import load_swapper, save_swapper
from mobilefaceswap.table2 import protocol_sentence

from helpers import ABLATIONS, export_identity_onnx
from helpers import TINY_IDENTITY as TINY

BIN = Path(sys.executable).parent


def run_mfs(*args: str) -> str | None:
    """The ``mfs`` entry point in this process: None on success, else its error line."""
    try:
        cli.main([str(a) for a in args])
    except SystemExit as exit_:
        return str(exit_.code)
    return None


@pytest.fixture(scope="module")
def faces(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("faces")
    detector = DlibFaceDetector()
    photos = bundled_photos()
    paths = {}
    for name, key in (("source", "skimage/astronaut"), ("target", "insightface/t1.jpg")):
        image = photos[key]
        write_image(folder / f"{name}.png", image)
        write_image(folder / f"{name}_aligned.png", align_face(image, detector(image)[0].landmarks5, 224)[0])
        paths[name], paths[f"{name}_aligned"] = folder / f"{name}.png", folder / f"{name}_aligned.png"
    return paths


@pytest.mark.slow
def test_every_ablation_swapper_works_in_swap_export_and_eval_ffpp(tmp_path, compose_train, faces, ffpp, capsys):
    assert len(ABLATIONS) == 11
    no_se = IRSEResNet(**{**TINY, "use_se": False})  # insightface's have no SE
    onnx_identity = export_identity_onnx(no_se, tmp_path / "identity.onnx")
    exported = []
    for i, ablation in enumerate(ABLATIONS):
        torch.manual_seed(i)
        student = instantiate(compose_train(f"ablation={ablation}").model.net).eval()
        path = tmp_path / f"{ablation}.pt"
        if i % 2:  # the identity network as an ONNX file, as identity=insightface_onnx gives it
            identity = {"identity_onnx": onnx_identity.read_bytes()}
            encoder = IdentityEncoder(load_recognition_network(onnx_identity, "test"))
        else:
            identity, encoder = {"identity_arch": TINY}, IdentityEncoder(IRSEResNet(**TINY))
        save_swapper(path, student, encoder.eval(), crop_size=224, **identity)
        assert load_swapper(path).student.arch == student.arch
        assert run_mfs("swap", "--source", faces["source_aligned"], "--target", faces["target_aligned"],
                       "--output", tmp_path / f"{ablation}.png", "--checkpoint", path, "--aligned", "--quiet") is None, ablation
        assert (tmp_path / f"{ablation}.png").is_file()
        # The loss-only variants share the student of `full`: export and FF++ once per architecture (6).
        if student.arch in exported:
            continue
        exported.append(student.arch)
        assert (
            run_mfs(
                "export", "--checkpoint", path, "--source", faces["source"], "--out", tmp_path / "export", "--name", ablation,
                "--runtimes", "onnx",
            )
            is None
        )
        assert (tmp_path / "export" / f"{ablation}.onnx").is_file()
        error = run_mfs(
            "eval-ffpp",
            "--root",
            ffpp,
            "--out",
            tmp_path / "ffpp",
            "--checkpoint",
            path,
            "--frames",
            "1",
            "--limit",
            "1",
            "--quiet",
        )
        # A random network may draw no detectable face; the swapper must still load and swap the frames.
        assert error is None or "could be scored" in error, (ablation, error)
        assert list((tmp_path / "ffpp" / ablation / "swapped").glob("*/*.png")), ablation
    assert len(exported) == 6
    capsys.readouterr()


@pytest.mark.slow
def test_a_swapper_that_does_not_load_is_one_line(tmp_path, compose_train, faces):
    adain = instantiate(compose_train("ablation=adain").model.net)
    save_swapper(tmp_path / "adain.pt", adain, IdentityEncoder(IRSEResNet(**TINY)), crop_size=224, identity_arch=TINY)
    bundle = torch.load(tmp_path / "adain.pt", weights_only=True)
    old = {k: v for k, v in bundle.items() if k != "student_arch"}
    torch.save({**old, "format": "mobilefaceswap-swapper/1"}, tmp_path / "old.pt")  # format 1 recorded no architecture
    torch.save({**bundle, "student_arch": {**bundle["student_arch"], "pointwise": "static"}}, tmp_path / "mismatch.pt")
    torch.save({**bundle, "student_arch": {"wings": 2}}, tmp_path / "unknown.pt")
    torch.save({"format": "something/9"}, tmp_path / "other.pt")
    (tmp_path / "truncated.pt").write_bytes((tmp_path / "adain.pt").read_bytes()[:5000])
    expected = {
        "old.pt": "a format-1 file: it records no architecture",
        "mismatch.pt": "its student does not fit "
        "MobileFaceSwap(weight_prediction=True, pointwise=static, skips=True, fusion=True, depthwise_demodulation=balanced)",
        "unknown.pt": "this version cannot build its student {'wings': 2}",
        "other.pt": "is not a swapper file this version reads (format 'something/9'",
        "truncated.pt": "cannot read",
    }
    for name, words in expected.items():
        error = run_mfs(
            "swap",
            "--source",
            faces["source"],
            "--target",
            faces["target"],
            "--output",
            tmp_path / "o.png",
            "--checkpoint",
            tmp_path / name,
            "--quiet",
        )
        assert error is not None and words in error and "\n" not in error and len(error) < 400, (name, error)
    assert not (tmp_path / "o.png").exists()


def test_cosface_and_arcface_state_dicts_load_under_their_own_names(tmp_path):
    arcface_torch = IResNet(layers=(2, 1, 1, 1), channels=(16, 32, 64, 128), embedding_dim=64).eval()
    keys = set(arcface_torch.state_dict())
    assert {
        "conv1.weight",
        "bn1.running_var",
        "prelu.weight",
        "layer1.0.bn1.weight",
        "layer1.0.downsample.0.weight",
        "layer1.1.bn3.weight",
        "bn2.weight",
        "fc.weight",
        "features.weight",
        "features.running_mean",
    } <= keys
    simswap = IRSEResNet(**TINY).eval()
    x = torch.rand(2, 3, 112, 112)
    for name, net in (("glint360k_cosface_r18.pth", arcface_torch), ("irse.pth", simswap)):
        torch.save({f"module.{k}": v for k, v in net.state_dict().items()}, tmp_path / name)  # as saved from DataParallel
        loaded = load_recognition_network(tmp_path / name, "--cosface").eval()
        assert type(loaded) is type(net)
        assert torch.equal(loaded(x)[0], net(x)[0])
    torch.save({"conv.weight": torch.zeros(1)}, tmp_path / "other.pth")
    with pytest.raises(WeightsError, match="--cosface: .*other.pth is not a face-recognition network"):
        load_recognition_network(tmp_path / "other.pth", "--cosface")


def test_hopenet_crop_and_transform_follow_its_reference_code():
    # deep-head-pose's test_on_video_dlib.py: x -/+ 2w/4, y - 3h/4, y + h/4, clipped.
    assert hopenet_box((100, 100, 200, 180), (480, 640)) == (50, 40, 250, 200)
    assert hopenet_box((10, 20, 110, 120), (130, 115)) == (0, 0, 115, 130)
    # Scale(224) (shorter side to 224, PIL bilinear), CenterCrop(224), as the reference transform.
    crop = bundled_photos()["skimage/astronaut"][:300, 100:250]  # 300 x 150
    height = int(224 * 300 / 150)
    pil = np.asarray(Image.fromarray(crop).resize((224, height), Image.BILINEAR), np.float32) / 255
    top = int(round((height - 224) / 2.0))
    reference = torch.from_numpy(pil[top : top + 224]).permute(2, 0, 1)
    ours = Hopenet.preprocess(torch.from_numpy(crop).permute(2, 0, 1)[None].float() / 255)[0]
    assert ours.shape == (3, 224, 224) and (ours - reference).abs().mean() < 0.01


@pytest.mark.slow
def test_table2_row_scored_with_the_paper_protocol(tmp_path, face_cache, ffpp):
    torch.manual_seed(0)
    cosface_net = IRSEResNet(layers=(1, 1, 1, 1), channels=(16, 32, 64, 512), use_se=False)
    cosface = export_identity_onnx(cosface_net, tmp_path / "cosface.onnx")
    hopenet = tmp_path / "hopenet_robust_alpha1.pkl"
    torch.save(Hopenet().state_dict(), hopenet)
    env = dict(os.environ, WANDB_MODE="offline", PYTHONUNBUFFERED="1")
    train = subprocess.run(
        [
            BIN / "mfs-train",
            "-m",
            "experiment=table2",
            "profile=smoke",
            "eval=ffpp",
            "ablation=full",
            # 10 steps: after one, the head's running BatchNorm statistics still lag the student's
            # activations, its swaps come out a flat colour and dlib finds no face to score
            "trainer.max_steps=10",
            "logger=csv",
            f"paths.cache_dir={face_cache}",
            "callbacks.image_grid.every_n_steps=0",
            f"eval.root={ffpp}",
            "eval.frames=1",
            f"eval.cosface={cosface}",
            f"eval.hopenet={hopenet}",
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
    )
    assert train.returncode == 0, train.stderr[-3000:]
    run = tmp_path / "experiments/results/table2/smoke/full/seed_42"
    assert not (run / "failed.json").exists(), (run / "failed.json").read_text()
    evaluation = json.loads((run / "eval.json").read_text())
    assert evaluation["run"]["protocol"] == {
        "name": "ffpp",
        "frames_per_video": 1,
        "compression": "c23",
        "split": "all FaceSwap pairs",
        "pairs": 3,
    }
    assert evaluation["student"]["scored"] > 0
    assert evaluation["student"]["backends"]["identity"] == f"CosFace network {cosface}"
    assert evaluation["student"]["backends"]["pose"] == f"Hopenet {hopenet}"
    assert set(evaluation) == {"student", "teacher", "run"}  # the teacher, random here, is swapped on the same frames
    assert (
        len(list((run / "ffpp/student/swapped").glob("*/*.png")))
        == 3
        == len(list((run / "ffpp/teacher/swapped").glob("*/*.png")))
    )
    table = subprocess.run(
        [BIN / "mfs", "table2", "--results", run.parents[1], "--out", tmp_path / "table"], capture_output=True, text=True
    )
    assert table.returncode == 0, table.stderr
    header = (tmp_path / "table/table2.md").read_text().splitlines()[2]
    assert "Scored on FaceForensics++ (3 pairs, 1 frames per video, c23, all FaceSwap pairs)" in header
    assert f"Identity retrieval: CosFace network {cosface}. Pose: Hopenet {hopenet}." in header and "dlib" not in header
    assert "FID: not computed" in header and "This is not the paper's protocol" in header  # no Inception weights here


def test_protocol_sentence_names_only_what_ran():
    def record(name, identity, pose, fid):
        return {
            "run": {"protocol": {"name": name, "pairs": 5, "frames_per_video": 10, "compression": "c23", "split": "test"}},
            "backends": {"identity": identity, "pose": pose, "fid": "Inception w.pth" if fid else None},
            "fid": fid,
        }

    paper = protocol_sentence([record("ffpp", "CosFace network c.onnx", "Hopenet h.pkl", 7.0)] * 2)
    assert paper.startswith("Scored on FaceForensics++ (5 pairs, 10 frames per video, c23, test).") and paper.endswith(
        "This is the paper's protocol."
    )
    mixed = protocol_sentence(
        [
            record("ffpp", "CosFace network c.onnx", "Hopenet h.pkl", 7.0),
            record("validation", "dlib 128-d recogniser", "Hopenet h.pkl", None),
        ]
    )
    assert "the run's validation pairs (5 pairs)" in mixed and "CosFace network c.onnx; dlib 128-d recogniser" in mixed
    assert mixed.endswith(
        "This is not the paper's protocol (FaceForensics++ with CosFace, Hopenet and FID). "
        "dlib scored in place of the paper's networks (eval.fallback=dlib)."
    )
    no_fid = protocol_sentence([record("ffpp", "CosFace network c.onnx", "Hopenet h.pkl", None)])
    assert no_fid.endswith("This is not the paper's protocol (FaceForensics++ with CosFace, Hopenet and FID).")
