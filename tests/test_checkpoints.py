"""Official checkpoint formats: SimSwap generators, pickled identity networks, ONNX ArcFace,
the released Paddle weights. Files are built here from random networks of the real
architectures, under the official names."""

import os
import pickle
import subprocess
import sys
import types
from pathlib import Path

import pytest
import torch
from omegaconf import OmegaConf

from mobilefaceswap.convert.paddle import RELEASED_IDENTITY_ARCH, SWAP_PREFIXES, read_pdparams, torch_to_paddle
from mobilefaceswap.models import MobileFaceSwap
from mobilefaceswap.models import identity as identity_module
from mobilefaceswap.models.identity import IdentityEncoder, IdentityFeatures, IRSEResNet
from mobilefaceswap.models.pretrained import WeightsError, load_pretrained
from mobilefaceswap.models.swapper import load_swapper, save_swapper
from mobilefaceswap.models.teachers import FaceShifterGenerator, SimSwapGenerator
from mobilefaceswap.stats import network_stats
from mobilefaceswap.training.fitting import build
from mobilefaceswap.training.frozen import identity_network, teacher_network

from helpers import export_identity_onnx

TINY_IRSE = {"layers": [1, 1, 1, 1], "channels": [16, 32, 64, 512], "use_se": True}


def elements(module: torch.nn.Module) -> int:
    return sum(v.numel() for v in module.state_dict().values())


@pytest.mark.parametrize(
    ("crop_size", "total", "keys", "probes"),
    [
        (224, 55_054_602, 123, {"first_layer.1.weight": (64, 3, 7, 7), "down3.0.weight": (512, 256, 3, 3),
                                "BottleNeck.8.style2.linear.weight": (1024, 512), "last_layer.1.weight": (3, 64, 7, 7)}),
        (512, 59_806_094, 151, {"first_layer.1.weight": (32, 3, 7, 7), "down0.0.weight": (64, 32, 3, 3),
                                "down4.0.weight": (512, 512, 3, 3), "up0.1.weight": (32, 64, 3, 3)}),
    ],
)
def test_simswap_generators_have_the_official_state_dicts(crop_size, total, keys, probes):
    with torch.device("meta"):
        net = SimSwapGenerator(crop_size=crop_size)
    state = net.state_dict()
    assert len(state) == keys and elements(net) == total
    assert {k: tuple(state[k].shape) for k in probes} == probes


def test_simswap_weights_load_strictly(tmp_path):
    official = SimSwapGenerator(base_channels=8, n_blocks=2)
    torch.save(official.state_dict(), tmp_path / "latest_net_G.pth")
    ours = load_pretrained(
        SimSwapGenerator(base_channels=8, n_blocks=2), tmp_path / "latest_net_G.pth", "teacher.pretrained", "x"
    )
    x, z = torch.rand(1, 3, 224, 224), torch.randn(1, 512)
    assert torch.equal(ours.eval()(x, z), official.eval()(x, z))
    with pytest.raises(WeightsError, match="teacher.pretrained: .* does not match SimSwapGenerator"):
        load_pretrained(SimSwapGenerator(base_channels=8, n_blocks=3), tmp_path / "latest_net_G.pth", "teacher.pretrained", "x")


def test_identity_network_matches_the_released_size():
    with torch.device("meta"):
        net = IRSEResNet()
    assert sum(p.numel() for p in net.parameters()) == 52_193_215
    assert len(net.state_dict()) == 796


def _pickle_like_simswap(path: Path) -> IRSEResNet:
    """torch.save a whole model whose classes live in SimSwap's ``models.arcface_models``."""
    foreign = types.ModuleType("models.arcface_models")
    classes = {}
    for name, base in [
        ("ResNet", identity_module.IRSEResNet),
        ("IRBlock", identity_module.IRBlock),
        ("SEBlock", identity_module.SEBlock),
    ]:
        classes[base] = type(name, (base,), {"__module__": "models.arcface_models"})
        setattr(foreign, name, classes[base])
    sys.modules["models"], sys.modules["models.arcface_models"] = types.ModuleType("models"), foreign
    try:
        net = classes[identity_module.IRSEResNet](**TINY_IRSE).eval()
        for module in net.modules():
            if type(module) in classes:
                module.__class__ = classes[type(module)]
        torch.save(net, path)
    finally:
        del sys.modules["models"], sys.modules["models.arcface_models"]
    return net


def _identity_cfg(**overrides):
    cfg = {
        "net": {"_target_": "mobilefaceswap.models.identity.IRSEResNet", **TINY_IRSE},
        "pretrained": None,
        "expected": "x",
        "input_size": 112,
        "mean": [0.485, 0.456, 0.406],
        "std": [0.229, 0.224, 0.225],
        "interpolation": "bilinear",
        "crop_box": None,
    }
    return OmegaConf.create({**cfg, **overrides})


def test_simswap_pickled_arcface_loads_without_its_code(tmp_path):
    official = _pickle_like_simswap(tmp_path / "arcface_checkpoint.tar")
    assert "models.arcface_models" not in sys.modules
    encoder = identity_network(**_identity_cfg(pretrained=str(tmp_path / "arcface_checkpoint.tar")))
    assert type(encoder.backbone) is IRSEResNet  # our own module from then on
    x = torch.rand(2, 3, 224, 224)
    expected = IdentityEncoder(official)(x)
    got = encoder(x)
    assert torch.allclose(got.z, expected.z, atol=1e-6) and torch.allclose(got.map, expected.map, atol=1e-5)


class _RunsCode:
    def __reduce__(self):
        return (os.system, ("touch pwned",))


def test_pickled_code_is_never_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    torch.save({"weight": _RunsCode()}, tmp_path / "evil.pth")
    with pytest.raises(WeightsError, match="identity.pretrained: cannot read"):
        identity_network(**_identity_cfg(pretrained=str(tmp_path / "evil.pth")))
    with open(tmp_path / "evil.pdparams", "wb") as f:
        pickle.dump({"conv1.weight": _RunsCode()}, f)
    with pytest.raises(WeightsError, match="refusing to load posix.system|refusing to load os.system"):
        read_pdparams(tmp_path / "evil.pdparams", "--arcface")
    assert not (tmp_path / "pwned").exists()


@pytest.mark.slow
def test_insightface_onnx_becomes_a_differentiable_identity_network(tmp_path):
    ir50 = IRSEResNet(layers=(3, 4, 14, 3), use_se=False).eval()

    class EmbeddingOnly(torch.nn.Module):  # what insightface's files output
        def __init__(self):
            super().__init__()
            self.net = ir50

        def forward(self, x):
            return self.net(x)[0]

    exported = EmbeddingOnly().eval()
    x = torch.rand(2, 3, 112, 112)
    torch.onnx.export(
        exported,
        (x,),
        tmp_path / "w600k_r50.onnx",
        dynamo=False,
        do_constant_folding=False,
        opset_version=13,
        input_names=["data"],
        output_names=["embedding"],
        dynamic_axes={"data": {0: "n"}},
    )
    onnx = str(tmp_path / "w600k_r50.onnx")
    encoder = identity_network(**_identity_cfg(net=None, pretrained=onnx, mean=[0.5] * 3, std=[0.5] * 3))
    image = torch.rand(2, 3, 224, 224, requires_grad=True)
    got = encoder(image)
    expected = IdentityEncoder(ir50.eval(), mean=(0.5,) * 3, std=(0.5,) * 3)(image)
    assert got.map.shape == (2, 512, 7, 7)
    assert torch.allclose(got.z, expected.z, atol=1e-5) and torch.allclose(got.map, expected.map, atol=1e-4)
    got.z.sum().backward()
    assert image.grad.abs().sum() > 0


def test_missing_onnx_is_a_clear_error(tmp_path):
    with pytest.raises(WeightsError, match="identity.pretrained: ONNX model not found"):
        identity_network(**_identity_cfg(net=None, pretrained=str(tmp_path / "none.onnx")))


@pytest.mark.slow
def test_faceshifter_teacher_with_its_own_identity_network():
    cfg = OmegaConf.create(
        {
            "net": {"_target_": "mobilefaceswap.models.teachers.FaceShifterGenerator", "width_divisor": 16},
            "pretrained": None,
            "expected": "x",
            "identity": _identity_cfg(crop_box=[0.0742, 0.0742, 0.9258, 0.9258], mean=[0.5] * 3, std=[0.5] * 3),
        }
    )
    teacher = teacher_network(**cfg)
    assert isinstance(teacher.generator, FaceShifterGenerator) and teacher.identity is not None
    source, target = torch.rand(2, 3, 256, 256), torch.rand(2, 3, 256, 256)
    unused = IdentityFeatures(z=torch.zeros(2, 512), map=torch.zeros(2, 512, 7, 7))  # it reads the source itself
    out = teacher(source, target, shared_identity=unused)
    assert out.shape == (2, 3, 256, 256) and 0 <= out.min() and out.max() <= 1
    assert not torch.allclose(out[0], teacher(source.flip(0), target, unused)[0])
    keys = FaceShifterGenerator(width_divisor=16).state_dict()
    assert {k.split(".")[0] for k in keys} == {"encoder", "generator"}


def _released_files(tmp_path: Path, protocol: int) -> tuple[Path, Path, MobileFaceSwap, IRSEResNet]:
    """Paddle-format files of a random student and identity network, under the official names."""
    torch.manual_seed(0)
    student, arcface = MobileFaceSwap(), IRSEResNet(**RELEASED_IDENTITY_ARCH)
    with torch.no_grad():  # non-trivial BN statistics
        for module in [*student.modules(), *arcface.modules()]:
            if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
                module.running_mean.uniform_(-0.1, 0.1)
                module.running_var.uniform_(0.5, 1.5)
    swap = torch_to_paddle(student.state_dict(), student, SWAP_PREFIXES)
    arc = torch_to_paddle(arcface.state_dict(), arcface)
    assert len(swap) == 167 and len(arc) == 691  # the official key counts
    assert swap["EncoderModulation.0.style.weight"].shape == (512, 3)  # Paddle Linear: [in, out]
    assert "predictor.norm._variance" in swap and "mask.4.3._mean" in swap and "final.7.bias" in swap
    assert "prelu._weight" in arc and "layer4.2.se.fc.1._weight" in arc and arc["fc.weight"].shape == (25088, 512)
    swap_path, arc_path = tmp_path / "MobileFaceSwap_224.pdparams", tmp_path / "arcface.pdparams"
    with open(swap_path, "wb") as f:  # Paddle >= 2.1 stores (name, array) and a structure map
        entries = {k: (f"param_{i}", v) for i, (k, v) in enumerate(swap.items())}
        pickle.dump({**entries, "StructuredToParameterName@@": {"a": "b"}}, f, protocol=protocol)
    with open(arc_path, "wb") as f:
        pickle.dump(arc, f, protocol=protocol)
    return swap_path, arc_path, student.eval(), arcface.eval()


@pytest.mark.slow
@pytest.mark.parametrize("protocol", [2, 4])
def test_convert_paddle_reproduces_the_released_model(tmp_path, protocol):
    swap_path, arc_path, student, arcface = _released_files(tmp_path, protocol)
    out = tmp_path / "converted"
    mfs = Path(sys.executable).parent / "mfs"
    result = subprocess.run(
        [str(mfs), "convert-paddle", "--swap", str(swap_path), "--arcface", str(arc_path), "--out", str(out)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    swapper = load_swapper(out / "mobilefaceswap_224.pt")
    for k, v in student.state_dict().items():
        if not k.endswith("num_batches_tracked"):
            assert torch.equal(swapper.student.state_dict()[k], v), k
    # The released pipeline: identity of the aligned source (resized to 112, ImageNet statistics),
    # then the baked IDN on the aligned target in [0, 1].
    source, target = torch.rand(1, 3, 224, 224), torch.rand(2, 3, 224, 224)
    reference = IdentityEncoder(arcface, interpolation="bilinear")(source)
    expected_image, expected_mask = student.bake(reference.z, reference.map)(target)
    image, mask = swapper.swap_aligned(source, target)
    assert torch.allclose(image, expected_image, atol=1e-6) and torch.allclose(mask, expected_mask, atol=1e-6)
    identity_state = torch.load(out / "arcface_irse_3_4_23_3.pth", weights_only=True)
    assert torch.equal(identity_state["fc.weight"], arcface.state_dict()["fc.weight"])


@pytest.mark.slow
def test_convert_paddle_errors(tmp_path):
    swap_path, arc_path, _, _ = _released_files(tmp_path, 4)
    mfs = str(Path(sys.executable).parent / "mfs")
    missing = subprocess.run(
        [mfs, "convert-paddle", "--swap", str(tmp_path / "no.pdparams"), "--arcface", str(arc_path), "--out", str(tmp_path)],
        capture_output=True,
        text=True,
    )
    assert missing.returncode != 0 and "--swap: file not found" in missing.stderr and "Traceback" not in missing.stderr
    swapped = subprocess.run(
        [mfs, "convert-paddle", "--swap", str(arc_path), "--arcface", str(swap_path), "--out", str(tmp_path / "o")],
        capture_output=True,
        text=True,
    )
    assert swapped.returncode != 0 and "not the released architecture" in swapped.stderr


def test_network_sizes_beside_table_1():
    rows = {r["name"]: r for r in network_stats()}
    identity = rows["identity network IR-SE [3,4,23,3] @112"]
    assert abs(identity["params"] / 52.2e6 - 1) < 0.001 and abs(identity["macs"] / 7.52e9 - 1) < 0.01
    assert rows["injection side: IIN + head + fusion"]["params"] == 20_699_710
    assert abs(rows["image setting: identity network + injection side"]["params"] / 72.8e6 - 1) < 0.002
    simswap = rows["SimSwap generator @224"]
    assert simswap["params"] == 55_051_779  # parameters; 55,054,602 with BN buffers
    assert abs(simswap["macs"] / 48.2e9 - 1) < 0.01


def test_onnx_identity_that_does_not_fit_the_student_is_refused(tmp_path):
    small = IRSEResNet(layers=(1, 1, 1, 1), channels=(16, 32, 64, 128), embedding_dim=256, use_se=False).eval()
    export_identity_onnx(small, tmp_path / "small.onnx")
    with pytest.raises(WeightsError, match=r"the student needs \(1, 512\) and \(1, 512, 7, 7\)"):
        identity_network(**_identity_cfg(net=None, pretrained=str(tmp_path / "small.onnx")))


@pytest.mark.slow
def test_smoke_profile_keeps_the_real_architecture_of_given_weights(tmp_path, compose_train):
    official = tmp_path / "latest_net_G.pth"
    torch.save(SimSwapGenerator().state_dict(), official)
    teacher = build(compose_train("profile=smoke", f"teacher.pretrained={official}").teacher)
    assert elements(teacher.generator) == elements(SimSwapGenerator())
    assert elements(build(compose_train("profile=smoke").teacher).generator) < elements(teacher.generator) / 100
    shrunk = tmp_path / "shrunk.pth"
    torch.save(SimSwapGenerator(base_channels=8, n_blocks=2).state_dict(), shrunk)
    with pytest.raises(WeightsError, match=r"does not match SimSwapGenerator\(base_channels=64, n_blocks=9, crop_size=224\)"):
        build(compose_train("profile=smoke", f"teacher.pretrained={shrunk}").teacher)


@pytest.mark.slow
def test_a_swapper_teacher_is_built_with_the_switches_its_file_records(tmp_path, compose_train):
    # depthwise_demodulation renames and reshapes nothing: only the recorded switches tell it apart.
    trained = MobileFaceSwap(depthwise_demodulation="balanced").eval()
    identity = IdentityEncoder(IRSEResNet(**TINY_IRSE))
    path = save_swapper(tmp_path / "student.pt", trained, identity, crop_size=224, identity_arch=TINY_IRSE)
    teacher_cfg = lambda *more: compose_train("teacher=mobilefaceswap", f"teacher.pretrained={path}", *more).teacher
    with pytest.raises(WeightsError, match="add teacher.net.depthwise_demodulation=balanced"):
        build(teacher_cfg())
    teacher = build(teacher_cfg("teacher.net.depthwise_demodulation=balanced"))
    target, z_id, id_map = torch.rand(1, 3, 224, 224), torch.randn(1, 512), torch.randn(1, 512, 7, 7)
    with torch.no_grad():
        assert torch.equal(teacher.generator(target, z_id, id_map), trained(target, z_id, id_map).image)


def test_faceshifter_student_reads_the_identity_crop_of_its_teacher(tmp_path, compose_train):
    """The student's identity input is aligned as the teacher's (conf/identity's crop_box follows
    teacher.identity.crop_box): with shared weights and normalisation, the same z_id."""
    from mobilefaceswap.data.alignment import align_face
    from mobilefaceswap.data.detection import DlibFaceDetector
    from mobilefaceswap.data.embedded import bundled_photos

    torch.manual_seed(0)
    weights = tmp_path / "arcface.pth"
    torch.save(IRSEResNet(**TINY_IRSE).state_dict(), weights)
    photo = bundled_photos()["skimage/astronaut"]
    face = align_face(photo, DlibFaceDetector()(photo)[0].landmarks5, 256, "ffhq")[0]
    image = torch.from_numpy(face).permute(2, 0, 1)[None].float() / 255

    def z_id(*overrides: str) -> tuple[torch.Tensor, torch.Tensor]:
        cfg = compose_train("teacher=faceshifter", *overrides)
        shared = {"net": {"_target_": "mobilefaceswap.models.identity.IRSEResNet", **TINY_IRSE}, "pretrained": str(weights)}
        # The same network and normalisation in both places: only the crop can differ.
        student_cfg = OmegaConf.merge(cfg.identity, shared, {"mean": [0.5] * 3, "std": [0.5] * 3})
        teacher_cfg = OmegaConf.merge(cfg.teacher.identity, shared)
        return build(student_cfg)(image).z, identity_network(**teacher_cfg, key="teacher.identity")(image).z

    student, teacher = z_id()
    assert compose_train("teacher=faceshifter").identity.crop_box == [0.0742, 0.0742, 0.9258, 0.9258]
    assert torch.allclose(student, teacher, atol=1e-6)
    student, teacher = z_id("identity.crop_box=null")  # the whole FFHQ crop, as before
    assert (student - teacher).abs().max() > 1e-2
    assert compose_train("teacher=simswap").identity.crop_box is None  # SimSwap shares the student's network
