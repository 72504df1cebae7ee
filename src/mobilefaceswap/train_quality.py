"""``mfs-train-quality``: the Hydra entry point that trains Q (config: conf/train_quality.yaml)."""

import logging
import sys
from pathlib import Path

import hydra
import lightning as L
import torch
from omegaconf import DictConfig

from mobilefaceswap.config import ConfigTypeError, check_value_types
from mobilefaceswap.data.errors import DataError
from mobilefaceswap.files import write_atomic, write_json_atomic
from mobilefaceswap.shipped import CONFIG_DIR
from mobilefaceswap.stopping import exit_stopped, raise_on_sigterm
from mobilefaceswap.training.fitting import LaunchError, build, build_trainer, fit

log = logging.getLogger(__name__)


def train_quality(cfg: DictConfig) -> dict:
    check_value_types(cfg)
    L.seed_everything(cfg.seed, workers=True)
    run_dir = Path(cfg.paths.run_dir)
    loggers = [build(c) for c in cfg.logger.values()]
    callbacks = [build(c) for c in cfg.callbacks.values()]
    trainer = build_trainer(cfg, logger=loggers, callbacks=callbacks, enable_checkpointing=False)
    module, datamodule = fit(cfg, trainer)
    scores = {k.split("/")[1]: float(v) for k, v in trainer.validate(module, datamodule=datamodule, verbose=False)[0].items()}
    result = {
        **scores,
        "train_images": len(datamodule.train_set),
        "val_images": len(datamodule.val_set),
        "steps": trainer.global_step,
    }
    write_atomic(run_dir / "quality.pt", lambda tmp: torch.save(module.regressor.state_dict(), tmp))
    write_json_atomic(run_dir / "quality_eval.json", result)
    log.info(
        "held-out checkpoints: MAE %.4f, Spearman %.3f; Q for quality.pretrained: %s",
        scores["mae"],
        scores["spearman"],
        run_dir / "quality.pt",
    )
    return result


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="train_quality")
def main(cfg: DictConfig) -> None:
    raise_on_sigterm()
    try:
        train_quality(cfg)
    except (DataError, ConfigTypeError, LaunchError) as err:
        log.error("%s", err)
        sys.exit(f"error: {err}")
    except KeyboardInterrupt as stop:  # Ctrl-C, or SIGTERM raised as it
        exit_stopped("mfs-train-quality", stop, "stopped before quality.pt was written; run the command again", at_once=False)


if __name__ == "__main__":
    main()
