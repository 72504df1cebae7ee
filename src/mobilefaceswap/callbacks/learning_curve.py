"""The student's distance to its teacher on held-out faces, and its activation scales, along training."""

import logging
from pathlib import Path

import lightning as L
import numpy as np
import torch

from mobilefaceswap.data.pairs import to_tensor
from mobilefaceswap.files import write_json_atomic
from mobilefaceswap.learning.activation_scale import activation_scales
from mobilefaceswap.learning.distillation_gap import distillation_gap
from mobilefaceswap.learning.plot import plot_curves

log = logging.getLogger(__name__)

GAP_KEYS = ("l1", "psnr", "source_correlation", "student_source_effect", "teacher_source_effect")
SEEN_KEYS = ("source_correlation", "student_source_effect", "teacher_source_effect")  # training sources, held-out targets
LOGGED_KEYS = (*GAP_KEYS, *(f"seen_{k}" for k in SEEN_KEYS))


class CurveHistory(L.Callback):
    """A curve's points, kept in checkpoints so that a resumed run continues its curve."""

    def __init__(self):
        self.history: list[dict] = []

    def state_dict(self) -> dict:
        return {"history": self.history}

    def load_state_dict(self, state: dict) -> None:
        self.history = list(state.get("history", []))


class LearningCurveLogger(CurveHistory):
    """At step 0, every ``every_n_steps`` and at the end: :func:`distillation_gap` on up to
    ``max_faces`` validation faces of distinct identities (every ordered pair), again with up to
    ``max_faces`` training identities as the sources of those held-out targets (``seen_*``), and
    the student's per-stage activation scale on the first held-out pair. The student is scored in
    eval mode, as it is used. Logs ``heldout/<key>`` and writes ``learning_curve.json`` and
    ``learning_curve.png`` into the run directory. Rank zero only.
    """

    def __init__(self, every_n_steps: int = 5000, max_faces: int = 8):
        super().__init__()
        self.every_n_steps = every_n_steps
        self.max_faces = max_faces

    def one_face_per_identity(self, dataset) -> torch.Tensor:
        faces = dataset.faces
        _, first = np.unique(np.asarray(faces.identities), return_index=True)
        return torch.stack([to_tensor(faces.images[int(i)]) for i in sorted(first)[: self.max_faces]])

    @torch.no_grad()
    def measure(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if not trainer.is_global_zero or (self.history and self.history[-1]["step"] == trainer.global_step):
            return
        if pl_module.teacher is None:
            return  # no teacher to be measured against
        faces = self.one_face_per_identity(trainer.datamodule.val_set).to(pl_module.device)
        seen = self.one_face_per_identity(trainer.datamodule.train_set).to(pl_module.device)
        was_training = pl_module.training
        pl_module.eval()
        student = pl_module.student
        features = pl_module.identity(faces)
        gap = distillation_gap(student, pl_module.teacher, faces, features)
        seen_gap = distillation_gap(student, pl_module.teacher, faces, features, sources=(seen, pl_module.identity(seen)))
        gap.update({f"seen_{k}": seen_gap[k] for k in SEEN_KEYS})
        scales = activation_scales(student, faces[1:2], features.z[:1], features.map[:1])  # source 0 on target 1
        pl_module.train(was_training)
        self.history.append({"step": trainer.global_step, **gap, "activation_scale": scales})
        for logger in trainer.loggers:
            logger.log_metrics({f"heldout/{k}": gap[k] for k in LOGGED_KEYS}, step=trainer.global_step)
        log.info("step %d held-out: %s", trainer.global_step, ", ".join(f"{k}={gap[k]:.4g}" for k in LOGGED_KEYS))
        self.write(Path(trainer.default_root_dir))

    def write(self, run_dir: Path) -> None:
        steps = [h["step"] for h in self.history]
        series = lambda key: [h[key] for h in self.history]
        stages = list(self.history[0]["activation_scale"])
        write_json_atomic(run_dir / "learning_curve.json", {"history": self.history})
        plot_curves(
            run_dir / "learning_curve.png",
            steps,
            {
                "held-out L1 to the teacher": {"L1": series("l1")},
                "held-out PSNR to the teacher (dB)": {"PSNR": series("psnr")},
                "source effect, student vs teacher (correlation)": {
                    "held-out sources": series("source_correlation"),
                    "training sources": series("seen_source_correlation"),
                },
                "activation scale per stage (log)": {s: [h["activation_scale"][s] for h in self.history] for s in stages},
            },
            title=f"student vs teacher on {self.history[0]['pairs']} held-out (source, target) pairs",
        )

    def on_train_start(self, trainer, pl_module) -> None:
        if trainer.global_step == 0:
            self.measure(trainer, pl_module)

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if self.every_n_steps and trainer.global_step % self.every_n_steps == 0 and trainer.global_step > 0:
            self.measure(trainer, pl_module)

    def on_train_end(self, trainer, pl_module) -> None:
        self.measure(trainer, pl_module)


class ValidationCurveLogger(CurveHistory):
    """After every validation, the chosen logged metrics against the step: ``<name>.json`` and
    ``<name>.png`` in the run folder (the quality regressor's held-out Spearman and MAE, say)."""

    def __init__(self, metrics: list[str], name: str = "validation_curve"):
        super().__init__()
        self.metrics = list(metrics)
        self.name = name

    def on_validation_end(self, trainer, pl_module) -> None:
        if trainer.sanity_checking or not trainer.is_global_zero:
            return
        values = {m: float(trainer.callback_metrics[m]) for m in self.metrics if m in trainer.callback_metrics}
        if not values:
            return
        if self.history and self.history[-1]["step"] == trainer.global_step:
            self.history.pop()  # validated again at the same step (e.g. the final trainer.validate)
        self.history.append({"step": trainer.global_step, **values})
        run_dir = Path(trainer.default_root_dir)
        write_json_atomic(run_dir / f"{self.name}.json", {"history": self.history})
        steps = [h["step"] for h in self.history]
        panels = {m: {m: [h.get(m, float("nan")) for h in self.history]} for m in self.metrics}
        plot_curves(run_dir / f"{self.name}.png", steps, panels, title=f"held-out {', '.join(self.metrics)}")
