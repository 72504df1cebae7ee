"""``mfs-train-quality``: the Hydra entry point that trains Q (config: conf/train_quality.yaml)."""

import logging
import sys
from pathlib import Path

import hydra
import lightning as L
import torch
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from mobilefaceswap.data.errors import DataError
from mobilefaceswap.files import write_atomic, write_json_atomic
from mobilefaceswap.shipped import CONFIG_DIR

log = logging.getLogger(__name__)


def train_quality(cfg: DictConfig) -> dict:
    L.seed_everything(cfg.seed, workers=True)
    run_dir = Path(cfg.paths.run_dir)
    datamodule = instantiate(cfg.data)
    module = instantiate(cfg.module)
    loggers = [instantiate(c) for c in cfg.logger.values()]
    callbacks = [instantiate(c) for c in cfg.callbacks.values()]
    trainer = instantiate(cfg.trainer, logger=loggers, callbacks=callbacks, enable_checkpointing=False)
    for logger in loggers:
        logger.log_hyperparams(OmegaConf.to_container(cfg, resolve=True))
    trainer.fit(module, datamodule=datamodule)
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
    try:
        train_quality(cfg)
    except DataError as err:
        log.error("%s", err)
        sys.exit(f"error: {err}")


if __name__ == "__main__":
    main()
