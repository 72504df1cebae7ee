"""Identity retrieval, pose, expression and FID of the student on the validation pairs, logged
during training beside the losses (the image grids come from ImageGridLogger)."""

import logging

import lightning as L

log = logging.getLogger(__name__)

SCALARS = ("id_retrieval", "id_similarity", "pose_error", "expression_error", "fid")


class SwapMetricsLogger(L.Callback):
    """Every ``every_n_steps`` and at the end of training, score the student on the first
    ``max_pairs`` validation pairs with ``mobilefaceswap.evaluate.SwapEvaluator``.

    Logs ``swap/<metric>`` for the student, ``swap/scored`` (the fraction of pairs whose output
    had a detectable face), and once ``teacher/<metric>`` for the fixed teacher it is compared to.
    Runs on rank zero only; the metrics need no other process.
    """

    def __init__(self, every_n_steps: int = 5000, max_pairs: int = 64, inception: str | None = None, hopenet: str | None = None, cosface: str | None = None):
        self.every_n_steps = every_n_steps
        self.max_pairs = max_pairs
        self.weights = dict(inception_weights=inception, hopenet_weights=hopenet, cosface_weights=cosface)
        self._evaluator = None
        self._teacher_logged = False
        self._last_step = -1

    def evaluator(self):
        if self._evaluator is None:
            from mobilefaceswap.evaluate import SwapEvaluator

            self._evaluator = SwapEvaluator(**self.weights)
        return self._evaluator

    def log_metrics(self, trainer: L.Trainer, pl_module: L.LightningModule) -> dict[str, float]:
        if not trainer.is_global_zero or trainer.global_step == self._last_step:
            return {}
        from mobilefaceswap.evaluate import evaluate_student

        self._last_step = trainer.global_step
        pairs = trainer.datamodule.val_set
        results = evaluate_student(pl_module, pairs, self.evaluator(), teacher=not self._teacher_logged, limit=self.max_pairs)
        count = results["run"]["pairs"]
        metrics = {"swap/scored": results["student"]["scored"] / count}
        for who, prefix in (("student", "swap"), ("teacher", "teacher")):
            scores = results.get(who, {})
            metrics.update({f"{prefix}/{k}": scores[k] for k in SCALARS if scores.get(k) is not None})
        self._teacher_logged = True
        for logger in trainer.loggers:
            logger.log_metrics(metrics, step=trainer.global_step)
        log.info("step %d: %s", trainer.global_step, ", ".join(f"{k}={v:.3g}" for k, v in metrics.items()))
        return metrics

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if self.every_n_steps and trainer.global_step % self.every_n_steps == 0 and trainer.global_step > 0:
            self.log_metrics(trainer, pl_module)

    def on_train_end(self, trainer, pl_module) -> None:
        self.log_metrics(trainer, pl_module)
