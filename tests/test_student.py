import pytest
import torch
import torch.nn.functional as F
from torch import nn

from mobilefaceswap.models import BakedMobileFaceSwap, MobileFaceSwap


def identities(n: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return F.normalize(torch.randn(n, 512, generator=g), dim=1), torch.randn(n, 512, 7, 7, generator=g)


@pytest.fixture(scope="module")
def student() -> MobileFaceSwap:
    torch.manual_seed(0)
    model = MobileFaceSwap()
    # Non-trivial BN statistics, so eval-mode parity covers them.
    model.train()
    with torch.no_grad():
        model(torch.rand(4, 3, 224, 224), *identities(4, seed=1))
    return model.eval()


def test_injection_side_has_the_released_parameter_count(student):
    # The released MobileFaceSwap_224.pdparams holds 20,699,710 trainable values.
    assert sum(p.numel() for p in student.parameters()) == 20_699_710


@pytest.mark.parametrize("size", [224, pytest.param(256, marks=pytest.mark.slow)])
def test_bake_equals_dynamic_forward(student, size):
    z_id, id_map = identities(3)
    target = torch.rand(3, 3, size, size)
    with torch.no_grad():
        dynamic = student(target, z_id, id_map)
    for i in range(3):
        baked = student.bake(z_id[i : i + 1], id_map[i : i + 1])
        with torch.no_grad():
            image, mask = baked(target[i : i + 1])
        assert image.shape == (1, 3, size, size) and mask.shape == (1, 1, size, size)
        assert (image - dynamic.image[i : i + 1]).abs().max() <= 1e-5
        assert (mask - dynamic.mask[i : i + 1]).abs().max() <= 1e-5


def test_baked_model_is_static_and_small(student):
    baked = student.bake(*identities(1))
    assert isinstance(baked, BakedMobileFaceSwap)
    convs = [m for m in baked.modules() if isinstance(m, nn.Conv2d)]
    assert all(type(m) is nn.Conv2d for m in convs)
    identity_convs = [m for stages in (baked.encoder, baked.decoder) for stage in stages for m in stage]
    assert all(m.bias is None for m in identity_convs)
    assert sum(p.numel() for p in baked.parameters()) == 496_462
    # Depthwise then pointwise in every stage.
    assert [s[0].groups for s in baked.encoder] == [3, 32, 64, 128, 256]
    assert [s[1].out_channels for s in baked.decoder] == [256, 128, 64, 32]


def test_batch_samples_do_not_mix(student):
    """One forward over several identities equals running each alone."""
    z_id, id_map = identities(4, seed=3)
    target = torch.rand(4, 3, 224, 224)
    with torch.no_grad():
        batched = student(target, z_id, id_map).image
        alone = torch.cat([student(target[i : i + 1], z_id[i : i + 1], id_map[i : i + 1]).image for i in range(4)])
    assert (batched - alone).abs().max() <= 1e-5
    assert (batched[0] - batched[1]).abs().max() > 1e-4  # identities change the output


def test_gradients_reach_every_injection_parameter():
    torch.manual_seed(0)
    model = MobileFaceSwap().train()
    out = model(torch.rand(2, 3, 224, 224), *identities(2))
    (out.image.square().mean() + out.mask.mean()).backward()
    no_grad = [n for n, p in model.iin.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    assert no_grad == []
    # The fusion mask reads a detached bottleneck: it never steers the IIN.
    assert all(p.grad is not None for p in model.fusion.parameters())


def test_balanced_depthwise_kernels_have_norm_one_over_sqrt_k_and_bake_exactly():
    torch.manual_seed(0)
    model = MobileFaceSwap(depthwise_demodulation="balanced")
    assert model.arch["depthwise_demodulation"] == "balanced" and MobileFaceSwap().arch["depthwise_demodulation"] == "none"
    z_id, id_map = identities(2)
    with torch.no_grad():
        model.train()(torch.rand(2, 3, 224, 224), z_id, id_map)  # non-default BN statistics
        kernels = model.eval().iin(z_id, id_map)
    for k in kernels.encoder_depthwise + kernels.decoder_depthwise:  # squared norm 1/k of a k x k kernel
        assert torch.allclose(k.pow(2).sum(dim=(2, 3)), torch.full(k.shape[:2], 1 / k.shape[-1]), atol=1e-3)
    target = torch.rand(2, 3, 224, 224)
    with torch.no_grad():
        dynamic = model(target, z_id, id_map).image
        baked = torch.cat([model.bake(z_id[i : i + 1], id_map[i : i + 1])(target[i : i + 1])[0] for i in range(2)])
    assert (baked - dynamic).abs().max() <= 1e-5


def test_an_unknown_depthwise_demodulation_is_refused():
    with pytest.raises(ValueError, match="use one of"):
        MobileFaceSwap(depthwise_demodulation=True)  # a switch recorded before "balanced" existed


def test_bake_takes_one_identity(student):
    with pytest.raises(ValueError, match="one identity"):
        student.bake(*identities(2))
