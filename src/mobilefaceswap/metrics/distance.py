"""The mean of per-sample distances, reducible across processes."""

import torch
from torchmetrics import Metric


class MeanDistance(Metric):
    higher_is_better = False
    full_state_update = False

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.add_state("total", default=torch.tensor(0.0), dist_reduce_fx="sum")
        self.add_state("count", default=torch.tensor(0), dist_reduce_fx="sum")

    def add(self, distances: torch.Tensor) -> None:
        self.total += distances.sum()
        self.count += len(distances)

    def compute(self) -> torch.Tensor:
        return self.total / self.count
