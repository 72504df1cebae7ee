"""``last.ckpt``: written inside the training loop at the run's last step, so that a finished run
continued with a larger ``trainer.max_steps`` goes on exactly as the longer run would have, and
also on an exception (Ctrl-C), without being removed when the run ends."""

import lightning as L
from lightning.pytorch.callbacks import ModelCheckpoint, OnExceptionCheckpoint


class LastStepCheckpoint(ModelCheckpoint):
    """``ModelCheckpoint`` that also saves ``last`` at step ``trainer.max_steps``, from the training
    loop as its ``every_n_train_steps`` saves do. A checkpoint written once ``fit`` has returned
    holds the state after the loop ended (the data loader's position, the random states), which
    a continued run would not start from."""

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, outputs, batch, batch_idx: int) -> None:
        super().on_train_batch_end(trainer, pl_module, outputs, batch, batch_idx)
        if self.save_last and 0 < trainer.max_steps <= trainer.global_step and not self.saved_this_step(trainer):
            self._save_last_checkpoint(trainer, self._monitor_candidates(trainer))

    def saved_this_step(self, trainer: L.Trainer) -> bool:
        return bool(self._last_checkpoint_saved) and self._last_global_step_saved == trainer.global_step


def saved_last_step(trainer: L.Trainer) -> bool:
    """Whether a ``LastStepCheckpoint`` saved ``last`` at the trainer's current (final) step."""
    savers = [c for c in trainer.checkpoint_callbacks if isinstance(c, LastStepCheckpoint) and c.save_last]
    return any(c.saved_this_step(trainer) for c in savers)


class ExceptionCheckpoint(OnExceptionCheckpoint):
    """``OnExceptionCheckpoint`` writing ``last.ckpt`` that leaves the file in place when the run
    ends: Lightning's removes its file at teardown, which took the last step's checkpoint with it."""

    def teardown(self, trainer: L.Trainer, *args, **kwargs) -> None:
        pass
