"""The Hydra configs (conf/) composed outside ``mfs-train``, for the ``mfs`` tools that need a
teacher, a face parser or the data exactly as a training run would build them."""

from dataclasses import fields, is_dataclass
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


def check_value_types(cfg: DictConfig, schemas: dict[str, type] | None = None) -> None:
    """One line naming the key when a value does not fit the type its consumer declares: the
    constructor annotations of every ``_target_`` node, and the dataclasses of ``schemas``
    (key -> dataclass) for nodes passed on as plain dicts."""
    for key, schema in (schemas or {}).items():
        values = OmegaConf.to_container(OmegaConf.select(cfg, key), resolve=True)
        unknown = sorted(set(values) - {f.name for f in fields(schema)})
        if unknown:
            raise ConfigTypeError(f"{key}.{unknown[0]}: not a setting (known: {', '.join(f.name for f in fields(schema))})")
        _check(key, schema, values)
    _check_targets(cfg, "")


def _check_targets(node: DictConfig, prefix: str) -> None:
    if "_target_" in node:
        try:
            target = get_object(node._target_)
            # Constructors passing **kwargs up: their parents' annotations count too.
            hints = {
                k: v
                for cls in reversed(getattr(target, "__mro__", [target]))
                for k, v in get_type_hints(getattr(cls, "__init__", cls)).items()
            }
        except Exception:
            hints = {}
        for name, annotation in hints.items():
            if name not in node or OmegaConf.is_missing(node, name):
                continue
            value = node.get(name)
            if not (isinstance(value, DictConfig) and "_target_" in value):
                _check(
                    prefix + name,
                    annotation,
                    OmegaConf.to_container(value, resolve=True) if OmegaConf.is_config(value) else value,
                )
    for name in node:
        value = node.get(name)
        if isinstance(value, DictConfig):
            _check_targets(value, f"{prefix}{name}.")
