"""The student's optimiser settings (``OptimConfig``, the schema of ``model.optim``) and parameter
groups: fan-in-scaled learning rates for the injection network.

Adam moves every weight by about ``lr`` per step whatever its gradient's size, and with one
identity per sample the moves of a layer's weights add up coherently: a predicted kernel,
read off a 3x3 conv over 512 channels (fan-in 4608), moves by up to ``lr * 4608 * E|x|``,
far beyond its own scale. Chained through nine IDN stages, that made the activations grow
by orders of magnitude within a few steps. Scaling each injection-network weight's learning
rate by ``1 / sqrt(fan_in)`` is, under Adam, exactly StyleGAN2's equalised learning rate,
without changing the parameters themselves (so the released weights still load as they are).
"""

import math
from dataclasses import dataclass

import torch
from torch import nn

INJECTION_LR_SCALINGS = ("fan_in", "none")


@dataclass
class OptimConfig:
    """``model.optim`` (values in conf/model/mobilefaceswap.yaml): the learning rates and their schedule."""

    lr_generator: float
    lr_discriminator: float
    injection_lr_scaling: str
    max_nonfinite_steps: int
    lr_decay: str = "none"

    def __post_init__(self):
        if self.injection_lr_scaling not in INJECTION_LR_SCALINGS:
            choices = " or ".join(INJECTION_LR_SCALINGS)
            raise ValueError(f"model.optim.injection_lr_scaling={self.injection_lr_scaling!r}: use {choices}")
        if self.lr_decay not in LR_DECAYS:
            raise ValueError(f"model.optim.lr_decay={self.lr_decay!r}: use {' or '.join(LR_DECAYS)}")


LR_DECAYS = ("none", "linear")
LINEAR_DECAY_FLOOR = 0.05  # the last steps still learn a little


def generator_lr_factor(decay: str, max_steps: int):
    """Step -> factor of the generator's learning rates: 1 throughout (``none``), or falling
    linearly to ``LINEAR_DECAY_FLOOR`` at ``max_steps`` (``linear``; needs a step budget)."""
    if decay == "none":
        return lambda step: 1.0
    if max_steps is None or max_steps <= 0:
        raise ValueError("model.optim.lr_decay=linear needs trainer.max_steps > 0")
    return lambda step: max(1.0 - step / max_steps, LINEAR_DECAY_FLOOR)


def set_lr_factor(optimizer: torch.optim.Optimizer, factor: float) -> None:
    """Each group at its initial rate times ``factor`` (``initial_lr`` is saved with the
    optimiser, so a resumed run goes on with the same rates)."""
    for group in optimizer.param_groups:
        group["lr"] = group.setdefault("initial_lr", group["lr"]) * factor


def fan_in(weight: nn.Parameter) -> int:
    """Inputs per output of a Linear (out, in) or Conv (out, in, k, k) weight."""
    return math.prod(weight.shape[1:])


def generator_param_groups(student: nn.Module, lr: float, injection_scaling: str = "fan_in") -> list[dict]:
    """Adam groups: the injection network's weights at ``lr / sqrt(fan_in)``, everything else at ``lr``.

    ``injection_scaling="none"`` gives one group at ``lr`` (the unscaled behaviour, kept to measure it).
    """
    if injection_scaling == "none":
        return [{"params": list(student.parameters()), "lr": lr, "name": "student"}]
    scaled = {id(p) for name, p in student.iin.named_parameters() if p.ndim >= 2}
    groups = [
        {"params": [p], "lr": lr / math.sqrt(fan_in(p)), "name": f"iin.{name}"}
        for name, p in student.iin.named_parameters()
        if id(p) in scaled
    ]
    rest = [p for p in student.parameters() if id(p) not in scaled]
    return [*groups, {"params": rest, "lr": lr, "name": "student"}]
