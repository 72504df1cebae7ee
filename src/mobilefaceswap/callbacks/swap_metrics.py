"""Identity retrieval, pose, expression and FID of the student on the validation pairs, logged
during training beside the losses (the image grids come from ImageGridLogger)."""

import logging

import lightning as L

log = logging.getLogger(__name__)

SCALARS = ("id_retrieval", "id_similarity", "pose_error", "expression_error", "fid", "fid_frame")


class SwapMetricsLogger(L.Callback):
    """Every ``every_n_steps``, at the last step and at the end of training, score the student on
    the first ``max_pairs`` validation pairs with ``mobilefaceswap.evaluation.evaluator.SwapEvaluator``.

    Logs ``swap/<metric>`` for the student, ``swap/scored`` (the fraction of pairs whose output
    had a detectable face), and once ``teacher/<metric>`` for the fixed teacher it is compared to.
    Rank zero scores alone (the metrics need no other process); its numbers go to the loggers at
    this step and, through ``LightningModule.log`` on every rank, to ``trainer.callback_metrics``,
    where a ``ModelCheckpoint`` can monitor them (``callbacks.best_checkpoint``).
    """

    def __init__(
        self,
        every_n_steps: int = 5000,
        max_pairs: int = 64,
        inception: str | None = None,
        hopenet: str | None = None,
        cosface: str | None = None,
        crop_size: int = 224,
        template: str = "arcface",
    ):
        self.every_n_steps = every_n_steps
        self.max_pairs = max_pairs
        self.weights = dict(
            inception_weights=inception, hopenet_weights=hopenet, cosface_weights=cosface, crop_size=crop_size, template=template
        )
        self._evaluator = None
        self._teacher_logged = False
        self._last_step = -1

    def evaluator(self):
        if self._evaluator is None:
            from mobilefaceswap.evaluation.evaluator import SwapEvaluator

            self._evaluator = SwapEvaluator(**self.weights)
        return self._evaluator

    def score(self, trainer: L.Trainer, pl_module: L.LightningModule) -> dict[str, float]:
        from mobilefaceswap.evaluation.student import evaluate_student

        pairs = trainer.datamodule.val_set
        results = evaluate_student(pl_module, pairs, self.evaluator(), teacher=not self._teacher_logged, limit=self.max_pairs)
        count = results["run"]["pairs"]
        # No detectable face in any output: no source was recognised, so a checkpoint monitoring
        # retrieval always finds it.
        metrics = {"swap/scored": results["student"]["scored"] / count, "swap/id_retrieval": 0.0}
        for who, prefix in (("student", "swap"), ("teacher", "teacher")):
            scores = results.get(who, {})
            metrics.update({f"{prefix}/{k}": scores[k] for k in SCALARS if scores.get(k) is not None})
        self._teacher_logged = True
        for logger in trainer.loggers:
            logger.log_metrics(metrics, step=trainer.global_step)
        log.info("step %d: %s", trainer.global_step, ", ".join(f"{k}={v:.3g}" for k, v in metrics.items()))
        return metrics

    def log_metrics(self, trainer: L.Trainer, pl_module: L.LightningModule, through_lightning: bool) -> dict[str, float]:
        if trainer.global_step == self._last_step:
            return {}
        self._last_step = trainer.global_step
        metrics = self.score(trainer, pl_module) if trainer.is_global_zero else {}
        if through_lightning:
            # Every rank monitors the same numbers, so that checkpoint decisions agree.
            metrics = trainer.strategy.broadcast(metrics, src=0)
            pl_module.log_dict(
                {k: v for k, v in metrics.items() if not k.startswith("teacher/")}, logger=False, on_step=True, on_epoch=False
            )
        return metrics

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        step = trainer.global_step
        periodic = self.every_n_steps and step % self.every_n_steps == 0 and step > 0
        if periodic or step == trainer.max_steps:
            self.log_metrics(trainer, pl_module, through_lightning=True)

    def on_train_end(self, trainer, pl_module) -> None:
        # Training stopped before max_steps (Lightning allows no LightningModule.log here).
        self.log_metrics(trainer, pl_module, through_lightning=False)
