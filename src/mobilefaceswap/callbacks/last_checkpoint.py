"""``last.ckpt``: written inside the training loop at the run's last step, so that a finished run
continued with a larger ``trainer.max_steps`` goes on exactly as the longer run would have; at
the end of the step in which Ctrl-C or SIGTERM came, so that the run resumed goes on exactly as
one never stopped; and on an exception, without being removed when the run ends."""

import lightning as L
from lightning.pytorch.callbacks import ModelCheckpoint, OnExceptionCheckpoint

from mobilefaceswap.stopping import DeferredStop


class LastStepCheckpoint(ModelCheckpoint):
    """``ModelCheckpoint`` that also saves ``last`` at step ``trainer.max_steps``, from the training
    loop as its ``every_n_train_steps`` saves do. A checkpoint written once ``fit`` has returned
    holds the state after the loop ended (the data loader's position, the random states), which
    a continued run would not start from.

    Ctrl-C and SIGTERM in the training loop (of one process) stop it after the step in hand, at
    this same point: a signal in the middle of a step (or of fetching the next batch) would leave
    a state that no uninterrupted run passes through. A second signal stops at once."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.stops = DeferredStop()

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        super().on_train_start(trainer, pl_module)
        if self.save_last and trainer.world_size == 1:  # DDP ranks would wait for a rank that stopped
            self.stops.start()

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, outputs, batch, batch_idx: int) -> None:
        super().on_train_batch_end(trainer, pl_module, outputs, batch, batch_idx)
        stop = self.stops.pending
        last_step = 0 < trainer.max_steps <= trainer.global_step
        if self.save_last and (last_step or stop is not None) and not self.saved_this_step(trainer):
            self._save_last_checkpoint(trainer, self._monitor_candidates(trainer))
        if stop is not None:
            self.stops.end()
            raise stop

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        stop = self.stops.pending  # came after the last step (in its validation): last.ckpt holds that step
        self.stops.end()
        super().on_train_end(trainer, pl_module)
        if stop is not None:
            raise stop

    def on_exception(self, trainer: L.Trainer, pl_module: L.LightningModule, exception: BaseException) -> None:
        self.stops.end()
        super().on_exception(trainer, pl_module, exception)

    def saved_this_step(self, trainer: L.Trainer) -> bool:
        return bool(self._last_checkpoint_saved) and self._last_global_step_saved == trainer.global_step


def saved_last_step(trainer: L.Trainer) -> bool:
    """Whether a ``LastStepCheckpoint`` saved ``last`` at the trainer's current (final) step."""
    savers = [c for c in trainer.checkpoint_callbacks if isinstance(c, LastStepCheckpoint) and c.save_last]
    return any(c.saved_this_step(trainer) for c in savers)


class ExceptionCheckpoint(OnExceptionCheckpoint):
    """``OnExceptionCheckpoint`` writing ``last.ckpt`` that leaves the file in place when the run
    ends: Lightning's removes its file at teardown, which took the last step's checkpoint with it.

    Only on an error: a ``last.ckpt`` saved at this step (an error after the step's save) is a
    whole step, where this one would hold part of the next; and Ctrl-C or SIGTERM either stopped
    after a whole step saved (``LastStepCheckpoint``), or came outside the steps (setting up, or a
    second signal), where the last whole step saved before is the one to resume from."""

    def on_exception(self, trainer: L.Trainer, pl_module: L.LightningModule, exception: BaseException) -> None:
        if not isinstance(exception, KeyboardInterrupt) and not saved_last_step(trainer):
            super().on_exception(trainer, pl_module, exception)

    def teardown(self, trainer: L.Trainer, *args, **kwargs) -> None:
        pass
