from dataclasses import replace

import lightning as L
import pytest
import torch
from torch.utils.data import DataLoader

from mobilefaceswap.data import EmbeddedFacesDataModule
from mobilefaceswap.training.fitting import build


@pytest.fixture
def smoke_module(compose_train):
    torch.manual_seed(0)
    return build(compose_train("profile=smoke").model)


@pytest.fixture
def fixed_batch(face_cache):
    data = EmbeddedFacesDataModule(cache_dir=str(face_cache), size=224, batch_size=4, augment=False, seed=0)
    data.setup("fit")
    return next(iter(data.train_dataloader()))


def test_embedded_data_are_real_aligned_faces(fixed_batch, face_cache):
    assert fixed_batch["source"].shape == (4, 3, 224, 224)
    assert 0 <= fixed_batch["target"].min() and fixed_batch["target"].max() <= 1
    assert fixed_batch["target"].std() > 0.05  # photographs, not blank frames
    import numpy as np

    with np.load(face_cache / "embedded_faces_arcface_224.npz") as data:
        assert len(data["faces"]) >= 7 and len(np.unique(data["identities"])) == len(data["faces"])


@pytest.mark.slow
def test_twenty_steps_on_a_fixed_batch_lower_the_generator_loss(smoke_module, fixed_batch):
    module = smoke_module.train()
    opt = torch.optim.Adam(module.student.parameters(), lr=1e-2, betas=(0.0, 0.99))
    ref = module.distillation_targets(fixed_batch)
    history = []
    for _ in range(20):
        out = module.swap(fixed_batch["target"], ref.source_identity)
        loss = module.generator_losses(out, ref)["total"]
        opt.zero_grad()
        loss.backward()
        opt.step()
        history.append(loss.item())
    assert history[-1] < 0.8 * history[0], history


@pytest.mark.slow
def test_reweighting_uses_identity_similarity(smoke_module, fixed_batch):
    ref = smoke_module.distillation_targets(fixed_batch)
    assert ref.alpha.shape == (4,) and (ref.alpha <= 1).all() and (ref.alpha >= 0).all()
    smoke_module.loss_cfg = replace(smoke_module.loss_cfg, reweight_identity=False)
    assert torch.equal(smoke_module.distillation_targets(fixed_batch).alpha, torch.ones(4))


@pytest.mark.slow
def test_nonfinite_losses_skip_the_update_then_stop(smoke_module, fixed_batch, tmp_path):
    smoke_module.optim_cfg.max_nonfinite_steps = 3
    bad = dict(fixed_batch, source=torch.full_like(fixed_batch["source"], float("nan")))
    before = {k: v.clone() for k, v in smoke_module.student.state_dict().items()}
    trainer = L.Trainer(
        accelerator="cpu", max_steps=10, logger=False, enable_checkpointing=False, enable_progress_bar=False,
        default_root_dir=tmp_path,
    )
    with pytest.raises(FloatingPointError, match="3 consecutive steps"):
        trainer.fit(smoke_module, train_dataloaders=DataLoader([bad] * 5, batch_size=None))
    after = smoke_module.student.state_dict()
    assert all(
        torch.equal(before[k], after[k]) for k in before if not k.endswith(("running_mean", "running_var", "num_batches_tracked"))
    )
    assert trainer.global_step == 0


class EchoStudent(torch.nn.Module):
    """Returns the target unchanged: its pose and expression are the target's exactly."""

    def forward(self, target, z, feature_map):
        from mobilefaceswap.models.student import SwapOutput

        return SwapOutput(image=target, raw=target, mask=torch.ones_like(target[:, :1]))


@pytest.mark.slow
def test_swap_metrics_callback_logs_student_and_once_the_teacher(smoke_module, face_cache):
    from types import SimpleNamespace

    from lightning.pytorch.loggers.logger import DummyLogger

    from mobilefaceswap.callbacks import SwapMetricsLogger

    class Recorder(DummyLogger):
        def __init__(self):
            self.logged = []

        def log_metrics(self, metrics, step=None):
            self.logged.append((step, metrics))

    data = EmbeddedFacesDataModule(cache_dir=str(face_cache), size=224, val_pairs=4, augment=False, seed=0)
    data.setup("fit")
    smoke_module.student = EchoStudent()
    recorder = Recorder()
    strategy = SimpleNamespace(broadcast=lambda obj, src: obj)
    trainer = SimpleNamespace(
        is_global_zero=True, global_step=10, max_steps=100, datamodule=data, loggers=[recorder], strategy=strategy
    )
    callback = SwapMetricsLogger(every_n_steps=10, max_pairs=3)
    callback.on_train_batch_end(trainer, smoke_module, None, None, 0)
    callback.on_train_end(trainer, smoke_module)  # same step: not scored twice
    trainer.global_step = 20
    callback.on_train_batch_end(trainer, smoke_module, None, None, 0)
    assert [step for step, _ in recorder.logged] == [10, 20]
    first, second = (metrics for _, metrics in recorder.logged)
    assert first["swap/scored"] == 1 and first["swap/pose_error"] == 0 and first["swap/expression_error"] == 0
    assert "teacher/scored" not in first and not any(k.startswith("teacher/") for k in second)
    assert smoke_module.training  # put back as it was


def _activation_growth(module, batch, steps: int) -> float:
    """Largest ratio of a stage's activation scale after ``steps`` real generator updates to before."""
    from mobilefaceswap.learning.activation_scale import activation_scales

    module.train()
    opt_g = module.configure_optimizers()[0]
    ref = module.distillation_targets(batch)
    z, id_map = ref.source_identity.z, ref.source_identity.map
    before = activation_scales(module.student, batch["target"], z, id_map)
    for _ in range(steps):
        loss = module.generator_losses(module.student(batch["target"], z, id_map), ref)["total"]
        opt_g.zero_grad()
        loss.backward()
        opt_g.step()
    after = activation_scales(module.student, batch["target"], z, id_map)
    return max(after[k] / before[k] for k in before)


@pytest.mark.slow
def test_injection_network_stays_well_conditioned_through_training(smoke_module, fixed_batch):
    assert _activation_growth(smoke_module, fixed_batch, steps=5) < 10


@pytest.mark.slow
def test_one_learning_rate_for_the_injection_network_breaks_the_growth_bound(compose_train, fixed_batch):
    torch.manual_seed(0)
    module = build(compose_train("profile=smoke", "model.optim.injection_lr_scaling=none").model)
    # What the fan-in scaling prevents: 19x here (above 100x before balanced demodulation).
    assert _activation_growth(module, fixed_batch, steps=5) > 10


def test_injection_weights_learn_at_lr_over_sqrt_fan_in(smoke_module):
    groups = {g["name"]: g["lr"] for g in smoke_module.configure_optimizers()[0].param_groups}
    kernel = "iin.predictor.decoder.0.weight.weight"  # the 3x3 conv over 512 channels that outputs a kernel
    assert groups[kernel] == pytest.approx(4e-4 / (512 * 9) ** 0.5)
    assert groups["iin.encoder_pointwise.0.style.weight"] == pytest.approx(4e-4 / 512**0.5)
    assert groups["student"] == 4e-4  # head, fusion, biases and norms
    counted = sum(p.numel() for g in smoke_module.configure_optimizers()[0].param_groups for p in g["params"])
    assert counted == sum(p.numel() for p in smoke_module.student.parameters())


def test_linear_lr_decay_falls_to_its_floor_and_needs_a_step_budget():
    from mobilefaceswap.training.optim import LINEAR_DECAY_FLOOR, OptimConfig, generator_lr_factor

    factor = generator_lr_factor("linear", 100)
    assert [factor(s) for s in (0, 50)] == [1.0, 0.5] and factor(99) == factor(100) == LINEAR_DECAY_FLOOR
    assert generator_lr_factor("none", -1)(10**6) == 1.0
    with pytest.raises(ValueError, match="needs trainer.max_steps"):
        generator_lr_factor("linear", -1)
    with pytest.raises(ValueError, match="model.optim.lr_decay='cosine'"):
        OptimConfig(1e-3, 1e-3, "fan_in", 10, lr_decay="cosine")


def test_geometric_source_augmentation_changes_the_sources_alone(face_cache):
    settings = dict(cache_dir=str(face_cache), size=224, batch_size=4, seed=0, train_pairs=8)
    light, geometric = (EmbeddedFacesDataModule(**settings, source_augmentation=kind) for kind in ("light", "geometric"))
    for data in (light, geometric):
        data.setup()
    moved = 0
    for i in range(16):
        assert torch.equal(light.train_set[i]["target"], geometric.train_set[i]["target"])
        moved += (light.train_set[i]["source"] - geometric.train_set[i]["source"]).abs().mean() > 0.02
        assert torch.equal(geometric.train_set[i]["source"], geometric.train_set[i]["source"])  # drawn from (seed, pair)
    assert 4 <= moved <= 12  # half the sources, give or take the draws


BAD_SOURCE_AUGMENTATION = [{"source_augmentation": "heavy"}, {"source_augmentation": "geometric", "teacher_cache": "x"}]


@pytest.mark.parametrize("settings", BAD_SOURCE_AUGMENTATION)
def test_source_augmentation_is_checked(settings):
    with pytest.raises(ValueError, match="data.source_augmentation"):
        EmbeddedFacesDataModule(**settings)


def test_a_loss_term_without_weight_runs_nothing(smoke_module, fixed_batch):
    from mobilefaceswap import losses

    smoke_module.loss_cfg = replace(smoke_module.loss_cfg, lambda_id=0.0, lambda_mask=0.0, lambda_adv=0.0)
    calls = []
    for name, network in (("parser", smoke_module.frozen["face_parser"]), ("identity", smoke_module.frozen["identity"]),
                          ("discriminator", smoke_module.discriminator)):
        network.register_forward_hook(lambda *_, name=name: calls.append(name))
    ref = smoke_module.distillation_targets(fixed_batch)
    assert ref.target_mask is None and "parser" not in calls
    calls.clear()  # the identity network read the source (the kernels) and the teacher's output (alpha)
    out = smoke_module.swap(fixed_batch["target"], ref.source_identity)
    terms = smoke_module.generator_losses(out, ref)
    assert not calls and set(terms) == {"total", "rec", "per", "alpha"}
    cfg = smoke_module.loss_cfg
    rec = losses.reconstruction_loss(out.image, ref.reference_image)
    per = losses.perceptual_loss(smoke_module.frozen["perceptual"](out.image), ref.reference_features)
    assert torch.equal(terms["total"], (ref.alpha * (cfg.lambda_rec * rec + cfg.lambda_per * per)).mean())
