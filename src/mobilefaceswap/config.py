"""The Hydra configs (conf/) composed outside ``mfs-train``, for the ``mfs`` tools that need a
teacher, a face parser or the data exactly as a training run would build them."""

import inspect
from dataclasses import is_dataclass
from typing import get_type_hints

from hydra import compose, initialize_config_dir
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from hydra.utils import get_object
from omegaconf import DictConfig, OmegaConf
from pydantic import ConfigDict, PydanticSchemaGenerationError, PydanticUserError, TypeAdapter, ValidationError

from mobilefaceswap.shipped import CONFIG_DIR


def sweep_group() -> str | None:
    """``${mfs.sweep_group:}``: the sweep folder in a multirun (the wandb group of its runs), else null."""
    hydra = HydraConfig.get()
    return str(hydra.sweep.dir) if hydra.mode == RunMode.MULTIRUN else None


OmegaConf.register_new_resolver("mfs.sweep_group", sweep_group, replace=True)


def compose_config(overrides: list[str], name: str = "train") -> DictConfig:
    """``conf/<name>.yaml`` with Hydra overrides such as ``teacher=faceshifter profile=paper``."""
    with initialize_config_dir(CONFIG_DIR, version_base="1.3"):
        return compose(name, overrides=list(overrides))


class ConfigTypeError(ValueError):
    """A config value of the wrong type."""


def _check(key: str, annotation, value) -> None:
    try:
        adapter = TypeAdapter(annotation, config=None if is_dataclass(annotation) else ConfigDict(arbitrary_types_allowed=True))
    except (PydanticSchemaGenerationError, PydanticUserError, TypeError):
        return  # a type pydantic cannot express: the consumer checks it
    try:
        adapter.validate_python(value)
    except ValidationError as err:
        first = err.errors()[0]
        if first["type"] == "value_error":  # the consumer's own check (__post_init__) says it in its words
            raise ConfigTypeError(str(first["ctx"]["error"])) from None
        where = ".".join([key, *(str(p) for p in first["loc"])])
        raise ConfigTypeError(f"{where}: {first['msg'][0].lower()}{first['msg'][1:]} (value: {first['input']!r})") from None


HYDRA_KEYS = {"_target_", "_recursive_", "_partial_", "_convert_", "_args_"}


def check_value_types(cfg: DictConfig) -> None:
    """One line naming the key when a ``_target_`` node holds a value that does not fit what its
    consumer declares (constructor annotations; a dataclass as a whole, with its own checks), or a
    key its consumer does not take. Run before any work, so that nothing is built in vain."""
    _check_targets(cfg, "")


def _consumer(node: DictConfig):
    try:
        return get_object(node._target_)
    except Exception:
        return None  # Hydra says so itself when it builds the node


def _unknown_key(node: DictConfig, consumer, prefix: str) -> None:
    """A key the consumer has no parameter for (unless it takes ``**kwargs``)."""
    try:
        params = inspect.signature(consumer).parameters
    except (TypeError, ValueError):
        return
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return
    unknown = sorted(set(node) - HYDRA_KEYS - set(params))
    if unknown:
        raise ConfigTypeError(f"{prefix}{unknown[0]}: not a setting (known: {', '.join(params)})")


def _check_arguments(node: DictConfig, consumer, prefix: str) -> None:
    """Each argument against its annotation; constructors passing ``**kwargs`` up: their parents' count too."""
    try:
        hints = {
            k: v
            for cls in reversed(getattr(consumer, "__mro__", [consumer]))
            for k, v in get_type_hints(getattr(cls, "__init__", cls)).items()
        }
    except Exception:
        return
    for name, annotation in hints.items():
        if name not in node or OmegaConf.is_missing(node, name):
            continue
        value = node.get(name)
        if not (isinstance(value, DictConfig) and "_target_" in value):
            plain = OmegaConf.to_container(value, resolve=True) if OmegaConf.is_config(value) else value
            _check(prefix + name, annotation, plain)


def _check_targets(node: DictConfig, prefix: str) -> None:
    consumer = _consumer(node) if "_target_" in node else None
    if consumer is not None:
        _unknown_key(node, consumer, prefix)
        if is_dataclass(consumer):
            values = {k: v for k, v in OmegaConf.to_container(node, resolve=True).items() if k not in HYDRA_KEYS}
            _check(prefix.rstrip("."), consumer, values)
        else:
            _check_arguments(node, consumer, prefix)
    for name in node:
        value = node.get(name)
        if isinstance(value, DictConfig):
            _check_targets(value, f"{prefix}{name}.")
