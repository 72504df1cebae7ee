"""Training's identity noise: sources moved in identity space, read alike by teacher and student."""

import pytest
import torch
import torch.nn.functional as F

from mobilefaceswap.models.identity import IdentityFeatures
from mobilefaceswap.training.identity_noise import IdentityNoise, spread


def features(batch: int = 6) -> IdentityFeatures:
    generator = torch.Generator().manual_seed(0)
    z = F.normalize(torch.randn(batch, 512, generator=generator), dim=1)
    return IdentityFeatures(z=z, map=torch.randn(batch, 512, 7, 7, generator=generator))


def test_moves_are_drawn_from_seed_step_and_rank_alone():
    noise, identity = IdentityNoise(share=0.5, seed=3), features()
    again = noise(identity, step=7)
    assert torch.equal(noise(identity, step=7).z, again.z) and torch.equal(noise(identity, step=7).map, again.map)
    assert not torch.equal(noise(identity, step=8).map, again.map)
    assert not torch.equal(noise(identity, step=7, rank=1).map, again.map)


def test_every_row_moved_by_its_share_and_scale_and_z_stays_a_unit_vector():
    identity = features()
    moved = IdentityNoise(share=1.0, scale=2.0)(identity, step=0)
    distance = (moved.map - identity.map).flatten(1).norm(dim=1)
    assert torch.allclose(distance, torch.full((6,), 2.0) * spread(identity.map), rtol=1e-4)
    assert torch.allclose(moved.z.norm(dim=1), torch.ones(6), atol=1e-6)
    assert (moved.z * identity.z).sum(1).lt(0.99).all()  # every z turned
    still = IdentityNoise(share=0.0)(identity, step=0)
    assert still is identity


def test_a_share_of_the_rows_is_moved_and_the_rest_kept_exactly():
    identity = features(400)
    moved = IdentityNoise(share=0.25)(identity, step=1)
    changed = (moved.map != identity.map).flatten(1).any(dim=1)
    assert 60 < changed.sum() < 140
    assert torch.equal(moved.z[~changed], identity.z[~changed])


def test_the_chance_fades_to_nothing_at_fade_steps():
    noise, identity = IdentityNoise(share=1.0, fade_steps=100), features(400)
    assert [noise.share_at(step) for step in (0, 50, 100, 150)] == [1.0, 0.5, 0.0, 0.0]
    changed = (noise(identity, step=75).map != identity.map).flatten(1).any(dim=1)
    assert 60 < changed.sum() < 140
    assert noise(identity, step=100) is identity


@pytest.mark.parametrize("settings, message", [(dict(share=1.5), "share=1.5"), (dict(scale=float("nan")), "scale=nan"),
                                               (dict(fade_steps=-1), "fade_steps=-1")])
def test_out_of_range_settings_are_refused(settings, message):
    with pytest.raises(ValueError, match=message):
        IdentityNoise(**{"share": 0.5, **settings})


def test_teacher_cache_and_identity_noise_are_refused_together(compose_train):
    from mobilefaceswap.config import ConfigTypeError, check_ranges

    cfg = compose_train("model.identity_noise.share=0.5", "data.teacher_cache=/some/cache")
    with pytest.raises(ConfigTypeError, match="model.identity_noise.share: a teacher cache"):
        check_ranges(cfg)


def test_the_teacher_answers_the_moved_sources_the_student_is_given(compose_train, face_cache):
    from mobilefaceswap.data import EmbeddedFacesDataModule
    from mobilefaceswap.training.fitting import build

    torch.manual_seed(0)
    module = build(compose_train("profile=smoke", "model.identity_noise.share=1").model)
    data = EmbeddedFacesDataModule(cache_dir=str(face_cache), size=224, batch_size=4, augment=False, seed=0)
    data.setup("fit")
    batch = next(iter(data.train_dataloader()))
    plain, moved = module.objective.targets(batch), module.objective.targets(batch, step=5)
    expected = module.objective.identity_noise(module.objective.identity(batch["source"]), 5)
    assert torch.equal(moved.source_identity.z, expected.z)
    assert not torch.equal(moved.reference_image, plain.reference_image)
    assert torch.equal(moved.reference_image, module.frozen["teacher"](batch["source"], batch["target"], expected))


def test_a_teacher_with_its_own_identity_network_is_refused(compose_train):
    from mobilefaceswap.training.fitting import build

    with pytest.raises(ValueError, match="its own identity network"):
        build(compose_train("profile=smoke", "teacher=faceshifter", "model.identity_noise.share=0.5").model)
