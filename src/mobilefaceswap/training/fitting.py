"""One ``fit(cfg)`` for both entry points (``mfs-train``, ``mfs-train-quality``): the data, the
LightningModule of ``cfg.model`` and the Trainer, each built by Hydra from its ``_target_``."""

import lightning as L
from hydra.errors import InstantiationException
from hydra.utils import instantiate
from lightning.fabric.utilities.exceptions import MisconfigurationException
from omegaconf import DictConfig, OmegaConf


class LaunchError(RuntimeError):
    """A trainer or launcher setting that cannot run on this machine."""


def build(node: DictConfig, **kwargs):
    """``instantiate(node)``, raising the constructor's own error (a missing weights file is one
    line) rather than Hydra's wrapper around it."""
    try:
        return instantiate(node, **kwargs)
    except InstantiationException as err:
        cause = err
        while isinstance(cause, InstantiationException) and cause.__cause__ is not None:
            cause = cause.__cause__
        if cause is err:
            raise
        raise cause from None


def build_trainer(cfg: DictConfig, **kwargs) -> L.Trainer:
    """The Lightning Trainer of ``cfg.trainer``; a setting Lightning refuses is one line."""
    try:
        return build(cfg.trainer, **kwargs)
    except MisconfigurationException as err:
        raise LaunchError(f"trainer: {str(err).splitlines()[0]}") from None


def fit(cfg: DictConfig, trainer: L.Trainer, ckpt_path=None) -> tuple[L.LightningModule, L.LightningDataModule]:
    """Build ``cfg.data`` and ``cfg.model`` (in this order, as the random draws expect), log the
    whole config to every logger, and train; returns the trained module and its data."""
    datamodule = build(cfg.data)
    module = build(cfg.model)
    for logger in trainer.loggers:
        logger.log_hyperparams(OmegaConf.to_container(cfg, resolve=True))
    try:
        trainer.fit(module, datamodule=datamodule, ckpt_path=ckpt_path, weights_only=True)
    except SystemExit as exit_:
        # Lightning ends a fit stopped by Ctrl-C (or SIGTERM, raised as it) with exit status 1, after
        # its teardown, inside its handler of the KeyboardInterrupt: that stop goes on up instead, for
        # the caller to end with the signal's own exit code.
        if isinstance(exit_.__context__, KeyboardInterrupt):
            raise exit_.__context__ from None
        raise
    return module, datamodule
