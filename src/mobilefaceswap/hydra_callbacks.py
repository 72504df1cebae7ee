"""Hydra callbacks of ``mfs-train`` (conf/hydra/default.yaml): a sweep's progress on stderr, one wandb run per member."""

import sys
import time

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from mobilefaceswap.progress import duration


def sweep_size(overrides: list[str]) -> int:
    """How many members the basic sweeper makes of these command-line overrides (the product of the sweeps)."""
    size = 1
    for override in OverridesParser.create().parse_overrides(overrides):
        if override.is_sweep_override():
            size *= len(list(override.sweep_string_iterator()))
    return size


class SweepProgress(Callback):
    """As each member of a sweep ends, ``sweep: 3 of 11 members
    done (about 20 min left)`` on stderr, at the mean pace of the members so far (a member already
    finished and skipped counts, and takes no time). Nothing when ``quiet``, or in a single run.

    With the basic launcher only, where members run in this process; submitit's jobs (``local``,
    ``slurm``) run elsewhere and are followed in their own logs.
    """

    def __init__(self, quiet: bool = False):
        self.quiet = quiet
        self.total: int | None = None
        self.done = 0
        self.clock = time.monotonic()

    def on_multirun_start(self, config: DictConfig, **kwargs) -> None:
        self.total = sweep_size(list(config.hydra.overrides.task))
        self.clock = time.monotonic()

    def on_job_end(self, config: DictConfig, job_return, **kwargs) -> None:
        if self.total is None:  # a single run, or a job in a process of its own
            return
        self.done += 1
        left = (time.monotonic() - self.clock) / self.done * (self.total - self.done)
        if not self.quiet:
            note = f" (about {duration(left)} left)" if self.done < self.total else ""
            print(f"sweep: {self.done} of {self.total} members done{note}", file=sys.stderr, flush=True)


class WandbRunPerMember(Callback):
    """Finishes the wandb run of each job as it ends: members of a sweep that run in one process
    (the basic launcher) each get their own run, instead of Lightning's WandbLogger reusing the
    first member's run for all of them."""

    def on_job_end(self, config: DictConfig, job_return, **kwargs) -> None:
        wandb = sys.modules.get("wandb")  # not imported: no run to finish
        if wandb is not None and wandb.run is not None:
            wandb.finish()
