import math

import pytest
import torch
import torch.nn.functional as F

from mobilefaceswap import losses


def test_reconstruction_loss_is_mean_abs_error_per_sample():
    a = torch.zeros(2, 3, 4, 4)
    b = torch.zeros(2, 3, 4, 4)
    b[1] = 0.5
    assert torch.allclose(losses.reconstruction_loss(a, b), torch.tensor([0.0, 0.5]))


def test_perceptual_loss_sums_layer_means():
    s = [torch.zeros(2, 4, 8, 8), torch.zeros(2, 8, 4, 4)]
    t = [torch.ones(2, 4, 8, 8), torch.full((2, 8, 4, 4), 2.0)]
    assert torch.allclose(losses.perceptual_loss(s, t), torch.tensor([5.0, 5.0]))


def test_distillation_weight_is_squared_cosine_times_quality():
    z = F.normalize(torch.tensor([[1.0, 0.0], [1.0, 0.0], [1.0, 0.0]]), dim=1)
    z_teacher = F.normalize(torch.tensor([[1.0, 0.0], [1.0, 1.0], [0.0, 1.0]]), dim=1)
    quality = torch.tensor([0.5, 1.0, 1.0])
    alpha = losses.distillation_weight(z, z_teacher, quality)
    assert torch.allclose(alpha, torch.tensor([0.5, 0.5, 0.0]), atol=1e-6)
    assert not alpha.requires_grad


def test_identity_loss():
    z = F.normalize(torch.randn(3, 512), dim=1)
    assert torch.allclose(losses.identity_loss(z, z), torch.zeros(3), atol=1e-6)
    assert torch.allclose(losses.identity_loss(z, -z), torch.full((3,), 2.0), atol=1e-6)


def test_weak_mask_loss_ignores_face_pixels():
    target = torch.zeros(1, 1, 4, 4)
    target[..., :2, :] = 1  # top half is face
    predicted = torch.ones(1, 1, 4, 4)
    predicted[..., 2:, :] = 0.25  # background predicted at 0.25
    assert math.isclose(losses.mask_loss(target, predicted, weak=True).item(), 0.25)
    # Full supervision also penalises nothing on the face here, but averages over all pixels.
    assert math.isclose(losses.mask_loss(target, predicted, weak=False).item(), 0.125)


@pytest.mark.parametrize("kind", ["hinge", "lsgan", "nonsaturating"])
def test_adversarial_losses_prefer_the_right_side(kind):
    real, fake = [torch.full((1, 1, 4, 4), 2.0)], [torch.full((1, 1, 4, 4), -2.0)]
    d_good = losses.discriminator_adversarial_loss(real, fake, kind)
    d_bad = losses.discriminator_adversarial_loss(fake, real, kind)
    assert d_good < d_bad
    assert losses.generator_adversarial_loss(real, kind) < losses.generator_adversarial_loss(fake, kind)


def test_hinge_values():
    real, fake = [torch.full((1, 1, 2, 2), 0.5)], [torch.full((1, 1, 2, 2), 0.5)]
    assert math.isclose(losses.discriminator_adversarial_loss(real, fake, "hinge").item(), 0.5 + 1.5)
    assert math.isclose(losses.generator_adversarial_loss(fake, "hinge").item(), -0.5)


def test_unknown_adversarial_kind():
    with pytest.raises(ValueError, match="unknown adversarial"):
        losses.generator_adversarial_loss([torch.zeros(1)], "wgan")
