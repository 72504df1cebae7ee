"""The ablation variants of the paper's Table 2: switches in one model and one loss, one config each."""

import pytest
import torch
import torch.nn.functional as F

from mobilefaceswap.data import EmbeddedFacesDataModule
from mobilefaceswap.models import MobileFaceSwap
from mobilefaceswap.training.fitting import build

from helpers import ABLATION_SWITCHES, ABLATIONS

# The student's constructor settings of each network ablation (and of the full model).
NETWORK_VARIANTS = {
    name: {k.removeprefix("model.net."): v for k, v in switches.items() if k.startswith("model.net.")}
    for name, switches in ABLATION_SWITCHES.items()
    if name == "full" or any(k.startswith("model.net.") for k in switches)
}


@pytest.mark.slow
@pytest.mark.parametrize("name", NETWORK_VARIANTS)
def test_network_variant_trains_and_bakes(name):
    torch.manual_seed(0)
    model = MobileFaceSwap(**NETWORK_VARIANTS[name]).train()
    z_id, id_map = F.normalize(torch.randn(3, 512), dim=1), torch.randn(3, 512, 7, 7)
    target = torch.rand(3, 3, 224, 224)
    out = model(target, z_id, id_map)
    out.raw.square().mean().backward()
    assert all(p.grad is not None for p in model.iin.parameters())  # every injection parameter learns
    model.eval()
    with torch.no_grad():
        dynamic = model(target, z_id, id_map)
        for i in range(3):
            image, mask = model.bake(z_id[i : i + 1], id_map[i : i + 1])(target[i : i + 1])
            assert (image - dynamic.image[i : i + 1]).abs().max() <= 1e-5
            assert (mask - dynamic.mask[i : i + 1]).abs().max() <= 1e-5


def test_variants_change_what_they_say():
    full = MobileFaceSwap()
    assert not any("predictor.first" in n for n, _ in MobileFaceSwap(weight_prediction=False).named_parameters())
    assert not any(".style." in n for n, _ in MobileFaceSwap(pointwise="static").iin.named_parameters())
    adain = MobileFaceSwap(pointwise="adain")
    assert adain.iin.encoder_adain is not None and not any("pointwise.0.style" in n for n, _ in adain.named_parameters())
    # Without skips the decoder reads only its own features: narrower decoder stages.
    autoencoder = MobileFaceSwap(skips=False)
    assert [m.weight.shape[1] for m in autoencoder.iin.decoder_pointwise] == [512, 256, 128, 64]
    assert [m.weight.shape[1] for m in full.iin.decoder_pointwise] == [512, 512, 256, 128]
    no_fusion = MobileFaceSwap(fusion=False).eval()
    with torch.no_grad():
        out = no_fusion(torch.rand(1, 3, 224, 224), F.normalize(torch.randn(1, 512), dim=1), torch.randn(1, 512, 7, 7))
    assert torch.equal(out.image, out.raw) and torch.equal(out.mask, torch.ones_like(out.mask))




@pytest.fixture(scope="module")
def batch(face_cache):
    data = EmbeddedFacesDataModule(
        cache_dir=str(face_cache), size=224, batch_size=4, augment=False, same_identity_ratio=0.5, seed=3
    )
    data.setup("fit")
    return next(iter(data.train_dataloader()))


@pytest.mark.slow
@pytest.mark.parametrize("ablation", ABLATIONS)
def test_every_ablation_config_builds_and_optimises(compose_train, batch, ablation):
    cfg = compose_train(f"ablation={ablation}", "quality=resnet18")
    module = build(cfg.model).train()
    ref = module.distillation_targets(batch)
    out = module.swap(batch["target"], ref.source_identity)
    losses = module.generator_losses(out, ref)
    losses["total"].backward()
    assert torch.isfinite(losses["total"])
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in module.student.parameters())
    if ablation == "no_kd":
        assert torch.equal(ref.reference_image, batch["target"])  # no teacher
        assert torch.equal(ref.alpha, batch["same_identity"].float())
    if ablation == "no_fusion":
        assert module.student.fusion is None and cfg.loss.lambda_mask == 0
    if ablation == "no_id_reweight":
        quality = module.frozen["quality"](ref.reference_image)
        assert torch.allclose(ref.alpha, quality)


@pytest.mark.slow
def test_no_kd_never_runs_the_teacher(compose_train, batch):
    module = build(compose_train("ablation=no_kd").model)

    def refuse(*args):
        raise AssertionError("the teacher ran")

    module.frozen["teacher"].forward = refuse
    module.distillation_targets(batch)
