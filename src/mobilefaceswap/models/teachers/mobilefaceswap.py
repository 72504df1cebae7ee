"""A MobileFaceSwap network as the teacher.

Two uses: distilling a new student (another size or resolution) from the released model,
whose converted weights load under the student's own names; and, with no weights, a fixed
seeded random teacher that is worth learning. A fresh network in eval mode barely depends on
its source (its BatchNorm statistics are still the defaults, so the predicted kernels are
all alike); :func:`calibrate_batchnorm` sets those statistics from real faces, after which
the output depends on both the target and the source identity.
"""

import torch
from torch import nn

from mobilefaceswap.models.student import MobileFaceSwap


class MobileFaceSwapTeacher(MobileFaceSwap):
    """``(target, z_id, F_id) -> swapped``; the state-dict names are the student's.

    ``seed`` fixes the random initialisation, whatever the run's global seed, so every run
    without weights distils from the same teacher.
    """

    needs_identity_map = True  # Teacher passes F_id as well as z_id

    def __init__(self, seed: int = 0, **student_kwargs):
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            super().__init__(**student_kwargs)
        self.seed = seed

    def forward(self, target: torch.Tensor, z_id: torch.Tensor, id_map: torch.Tensor) -> torch.Tensor:
        return super().forward(target, z_id, id_map).image


@torch.no_grad()
def calibrate_batchnorm(net: MobileFaceSwap, batches) -> None:
    """Set every BatchNorm's running statistics to their average over ``batches`` of
    (target, z_id, F_id), as a cumulative average (momentum None); leaves ``net`` in eval mode."""
    norms = [m for m in net.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    momenta = [m.momentum for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None
    net.train()
    for target, z_id, id_map in batches:
        net(target, z_id, id_map)
    for m, momentum in zip(norms, momenta):
        m.momentum = momentum
    net.eval()
