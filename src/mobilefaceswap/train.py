"""``mfs-train``: the Hydra entry point that distils the student (config: conf/train.yaml)."""

import logging
import subprocess
import sys
import traceback
import warnings
from pathlib import Path

import hydra
import lightning as L
import torch
from hydra import initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf

from mobilefaceswap.callbacks.last_checkpoint import saved_last_step
from mobilefaceswap.callbacks.run_id import stored_run_id
from mobilefaceswap.config import ConfigTypeError, check_value_types, unknown_addition
from mobilefaceswap.data.errors import DataError
from mobilefaceswap.files import write_json_atomic
from mobilefaceswap.models.pretrained import WeightsError
from mobilefaceswap.models.swapper import save_swapper
from mobilefaceswap.shipped import CONFIG_DIR
from mobilefaceswap.stopping import exit_stopped, raise_on_sigterm
from mobilefaceswap.training import StudentGAN
from mobilefaceswap.training.fitting import LaunchError, build, build_trainer, fit
from mobilefaceswap.training.frozen import network_config
from mobilefaceswap.training.required_files import MissingFilesError, require_files
from mobilefaceswap.training.student_gan import NonFiniteLossError
from mobilefaceswap.wandb_report import report_row

log = logging.getLogger(__name__)

# The frozen helpers are in eval mode on purpose, and resuming is decided in resolve_checkpoint.
warnings.filterwarnings("ignore", message=r"Found \d+ module\(s\) in eval mode")
warnings.filterwarnings("ignore", message=r"`.fit\(ckpt_path=None\)` was called without a model")


class CheckpointError(RuntimeError):
    """A checkpoint to resume from is missing or unreadable."""


USER_ERRORS = (WeightsError, DataError, CheckpointError, ConfigTypeError, NonFiniteLossError, LaunchError)


def resolve_checkpoint(ckpt_path: str | None, run_dir: Path, task_dir: Path) -> Path | None:
    """Which checkpoint to resume from (see ``ckpt_path`` in conf/train.yaml); checks it is readable."""
    if ckpt_path is None:
        own = run_dir / "checkpoints" / "last.ckpt"
        path = own if own.is_file() else None
    elif ckpt_path == "last":
        found = sorted(task_dir.glob("*/checkpoints/last.ckpt"), key=lambda p: p.stat().st_mtime)
        if not found:
            raise CheckpointError(f"ckpt_path=last: no */checkpoints/last.ckpt under {task_dir}")
        path = found[-1]
    else:
        path = Path(ckpt_path).expanduser()
        if not path.is_file():
            raise CheckpointError(f"ckpt_path: checkpoint not found: {path}")
    if path is not None:
        try:
            torch.load(path, map_location="cpu", weights_only=True)
        except Exception as err:
            raise CheckpointError(
                f"ckpt_path: cannot resume from {path}: not a readable checkpoint ({type(err).__name__})"
            ) from None
        log.info("resuming from %s", path)
    return path


def export_swapper(cfg: DictConfig, module: StudentGAN, path: Path) -> None:
    """The trained student with its identity network, ready for ``mfs swap`` and ``mfs export``."""
    pretrained = cfg.identity.pretrained
    net = network_config(cfg.identity.net, pretrained, cfg.identity.get("net_if_random"))
    if pretrained is not None and str(pretrained).endswith(".onnx"):
        identity = {"identity_onnx": Path(pretrained).expanduser().read_bytes()}
    elif net is not None and str(net.get("_target_", "")).endswith("IRSEResNet"):
        identity = {"identity_arch": {k: v for k, v in OmegaConf.to_container(net, resolve=True).items() if k != "_target_"}}
    else:
        log.info(
            "no swapper.pt: the identity network is neither an IRSEResNet nor an ONNX file (use the checkpoint with your own)"
        )
        return
    alignment = cfg.teacher.alignment
    origin = f"trained in {path.parent}"
    save_swapper(path, module.student, module.identity_encoder, alignment.size, alignment.template, origin, **identity)
    log.info("swapper for mfs swap / mfs export: %s", path)


def check_devices(trainer_cfg: DictConfig) -> None:
    """GPUs asked for and not present: one line before any work."""
    accelerator, devices = str(trainer_cfg.accelerator), trainer_cfg.devices
    if accelerator in ("gpu", "cuda"):
        present = torch.cuda.device_count()
        wanted = len(devices) if OmegaConf.is_list(devices) else (1 if devices in ("auto", -1) else int(devices))
        if present < wanted:
            raise LaunchError(
                f"trainer.accelerator={accelerator} with trainer.devices={devices}: {present} CUDA GPU(s) found here "
                "(use trainer=cpu, or trainer=ddp trainer.accelerator=cpu for processes on CPU cores)"
            )


def spawns_own_processes(trainer: L.Trainer) -> bool:
    """Lightning starts this run's other DDP processes by running the command line again (not SLURM or torchrun)."""
    return trainer.world_size > 1 and not trainer.strategy.cluster_environment.creates_processes_externally


def run_member_as_single_run(cfg: DictConfig) -> None:
    """A multirun member whose DDP processes Lightning would start itself, run as one ``mfs-train`` run.

    Lightning restarts the command line for each extra process; inside a Hydra multirun that
    would be the whole sweep again, so the member's own overrides are run in its own directory.
    """
    hydra_cfg = HydraConfig.get()
    command = [
        sys.executable,
        "-m",
        "mobilefaceswap.train",
        *hydra_cfg.overrides.task,
        f"hydra.run.dir={cfg.paths.run_dir}",
        "hydra.output_subdir=null",
    ]
    log.info("DDP member run as its own process group: %s", " ".join(command))
    returncode = subprocess.run(command, check=False).returncode
    if returncode != 0:
        raise RuntimeError(f"the DDP run of this member exited with status {returncode} (its log is above)")


def train(cfg: DictConfig) -> L.Trainer:
    check_value_types(cfg)
    L.seed_everything(cfg.seed, workers=True)
    run_dir = Path(cfg.paths.run_dir)
    ckpt = resolve_checkpoint(cfg.ckpt_path, run_dir, Path(cfg.paths.runs_dir) / cfg.task_name)
    if ckpt is not None and "wandb" in cfg.logger and cfg.logger.wandb.id is None:
        cfg.logger.wandb.id = stored_run_id(ckpt)  # continue the wandb run of the checkpoint
    evaluator = build_evaluator(cfg.eval) if cfg.evaluate else None  # bad scoring weights or data stop the run before training
    callbacks = [build(c) for c in cfg.callbacks.values()]
    loggers = [build(c) for c in cfg.logger.values()]
    trainer = build_trainer(cfg, callbacks=callbacks, logger=loggers)
    if HydraConfig.get().mode == RunMode.MULTIRUN and spawns_own_processes(trainer):
        run_member_as_single_run(cfg)
        return trainer
    try:
        module, datamodule = fit(cfg, trainer, ckpt)
    except NonFiniteLossError as err:  # the skipped updates left the weights at their last finite state
        path = run_dir / "checkpoints" / "last.ckpt"
        trainer.save_checkpoint(path, weights_only=False)
        raise NonFiniteLossError(f"{err}: {path}") from None
    # A final checkpoint whatever the save interval, unless one was saved in the loop at the last step.
    if not saved_last_step(trainer):
        trainer.save_checkpoint(run_dir / "checkpoints" / "last.ckpt", weights_only=False)
    if trainer.is_global_zero:
        export_swapper(cfg, module, run_dir / "swapper.pt")
        if cfg.evaluate:
            write_json_atomic(run_dir / "eval.json", evaluate_run(cfg, module, datamodule, evaluator))
            report_row(trainer.loggers, run_dir)
        write_json_atomic(run_dir / "finished.json", {"global_step": trainer.global_step})
    log.info("run directory: %s", run_dir)
    return trainer


def build_evaluator(cfg: DictConfig):
    """The scorer of eval.json (conf/eval); for FaceForensics++ its pairs are read now too."""
    from mobilefaceswap.evaluation.evaluator import SwapEvaluator
    from mobilefaceswap.evaluation.faceforensics import read_pairs

    if cfg.protocol not in ("validation", "ffpp"):
        raise DataError(f"eval.protocol={cfg.protocol!r}: use validation or ffpp")
    if cfg.protocol == "ffpp":
        read_pairs(cfg.root, cfg.compression, cfg.split)
    return SwapEvaluator(cfg.inception, cfg.hopenet, cfg.cosface, crop_size=cfg.crop_size, template=cfg.template)


def evaluate_run(cfg: DictConfig, module: StudentGAN, datamodule, evaluator) -> dict:
    """eval.json: the student and its teacher, scored with the protocol of ``eval``, and what the run used."""
    from mobilefaceswap.evaluation.faceforensics import FFppProtocol
    from mobilefaceswap.evaluation.student import evaluate_student, evaluate_student_ffpp

    if cfg.eval.protocol == "ffpp":
        e = cfg.eval
        protocol = FFppProtocol(Path(e.root), e.frames, e.compression, e.split, e.limit)
        alignment = cfg.teacher.alignment
        results = evaluate_student_ffpp(
            module, evaluator, protocol, Path(cfg.paths.run_dir) / "ffpp", alignment.size, alignment.template
        )
    else:
        results = evaluate_student(module, datamodule.val_set, evaluator)
    choices = HydraConfig.get().runtime.choices
    results["run"].update(
        {group: choices.get(group) for group in ("profile", "ablation", "data", "teacher", "identity", "quality", "eval")}
    )
    return results


def same_run_as(cfg: DictConfig) -> dict | None:
    """A Table 2 member whose training would be another member's, switch for switch, as its
    ablation config says: ``same_run_as.row`` while ``same_run_as.while_null`` is null."""
    same = cfg.get("same_run_as")
    if same is None or same.while_null is not None:
        return None
    return {"same_as": same.row, "reason": same.reason}


def resume_hint(run_dir: Path) -> str:
    """What a stopped run left: last.ckpt holds its last whole step (see LastStepCheckpoint)."""
    ckpt = run_dir / "checkpoints" / "last.ckpt"
    if not ckpt.is_file():
        return "stopped before its first checkpoint; nothing to resume"
    return f"stopped; {ckpt} holds the last whole step: the same command with hydra.run.dir={run_dir} resumes from it"


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="train")
def run(cfg: DictConfig) -> None:
    run_dir = Path(cfg.paths.run_dir)
    try:
        # Before anything else: in a sweep this stops every member, not just the first.
        check_devices(cfg.trainer)
        require_files(cfg)
    except (LaunchError, MissingFilesError) as err:
        sys.exit(f"error: {err}")
    if HydraConfig.get().mode != RunMode.MULTIRUN:
        try:
            train(cfg)
        except USER_ERRORS as err:
            log.error("%s", err)
            sys.exit(f"error: {err}")
        except KeyboardInterrupt as stop:  # Ctrl-C, or SIGTERM raised as it
            exit_stopped("mfs-train", stop, resume_hint(run_dir), at_once=False)
        return
    # In a sweep a finished member is skipped on rerun, and a failing one is recorded while
    # the others go on.
    if (run_dir / "finished.json").is_file():
        log.info("already finished, skipped: %s", run_dir)
        return
    if same := same_run_as(cfg):
        log.warning("not trained: %s", same["reason"])
        write_json_atomic(run_dir / "same_as.json", same)
        return
    try:
        train(cfg)
        (run_dir / "failed.json").unlink(missing_ok=True)
    except Exception as err:
        log.error("sweep member failed: %s", err)
        write_json_atomic(run_dir / "failed.json", {"error": f"{type(err).__name__}: {err}", "traceback": traceback.format_exc()})


CHECKED_GROUPS = {"hydra/launcher": "launcher", "trainer": "trainer"}


def check_options(argv: list[str]) -> None:
    """An unknown launcher or trainer (also in a sweep: ``trainer=cpu,ddp``), or a ``+group=`` that
    is no group, is one line, before Hydra lists its search path."""
    if problem := unknown_addition(argv):
        sys.exit(f"error: {problem}")
    wanted = [
        (group, name)
        for arg in argv
        for group in CHECKED_GROUPS
        if arg.startswith(f"{group}=")
        for name in arg.split("=", 1)[1].split(",")
    ]
    if not wanted:
        return
    with initialize_config_dir(CONFIG_DIR, version_base="1.3"):
        loader = GlobalHydra.instance().config_loader()
        options = {group: loader.get_group_options(group) for group in CHECKED_GROUPS}
    for group, name in wanted:
        if name not in options[group]:
            sys.exit(f"error: {group}={name}: unknown {CHECKED_GROUPS[group]} (available: {', '.join(options[group])})")


def main() -> None:
    raise_on_sigterm()
    try:
        check_options(sys.argv[1:])
        run()
    except KeyboardInterrupt as stop:  # before a run starts, or in a sweep (a single run says more in run())
        exit_stopped("mfs-train", stop, "stopped; what finished before is kept", at_once=False)


if __name__ == "__main__":
    main()
