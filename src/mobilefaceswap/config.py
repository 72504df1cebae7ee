"""The Hydra configs (conf/) composed outside ``mfs-train``, for the ``mfs`` tools that need a
teacher, a face parser or the data exactly as a training run would build them."""

import difflib
from dataclasses import fields, is_dataclass
from typing import Annotated, get_type_hints

from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from hydra.utils import get_object
from omegaconf import DictConfig, OmegaConf
from pydantic import (
    ConfigDict,
    Field,
    NonNegativeInt,
    PositiveInt,
    PydanticSchemaGenerationError,
    PydanticUserError,
    TypeAdapter,
    ValidationError,
)

from mobilefaceswap.learning.distillation_gap import MIN_HELD_OUT_FACES
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
    (key -> dataclass) for nodes passed on as plain dicts; then the ranges of ``RANGES``."""
    for key, schema in (schemas or {}).items():
        values = OmegaConf.to_container(OmegaConf.select(cfg, key), resolve=True)
        unknown = sorted(set(values) - {f.name for f in fields(schema)})
        if unknown:
            raise ConfigTypeError(f"{key}.{unknown[0]}: not a setting (known: {', '.join(f.name for f in fields(schema))})")
        _check(key, schema, values)
    _check_targets(cfg, "")
    check_ranges(cfg)


_RATE = Annotated[float, Field(gt=0, allow_inf_nan=False)]
# The numeric settings whose type allows values that fail later, after the networks are built
# (ours: the consumers do not say). A key absent from a config is not checked.
RANGES = {
    "data.batch_size": PositiveInt,
    "data.num_workers": NonNegativeInt,
    "data.train_pairs": PositiveInt,
    "data.val_pairs": PositiveInt,
    "data.val_identities": NonNegativeInt,
    "model.optim.lr_generator": _RATE,
    "model.optim.lr_discriminator": _RATE,
    "model.optim.betas": tuple[Annotated[float, Field(ge=0, lt=1)], Annotated[float, Field(ge=0, lt=1)]],
    "model.optim.max_nonfinite_steps": PositiveInt,
    "trainer.max_steps": Annotated[int, Field(ge=-1)],  # -1: no limit (Lightning's)
    "callbacks.learning_curve.max_faces": Annotated[int, Field(ge=MIN_HELD_OUT_FACES)],
}


def check_ranges(cfg: DictConfig) -> None:
    """One line naming the key when a value is outside the range of ``RANGES``, before any work."""
    for key, annotation in RANGES.items():
        value = OmegaConf.select(cfg, key, default=None)
        if value is not None:
            _check(key, annotation, OmegaConf.to_container(value) if OmegaConf.is_config(value) else value)
    if OmegaConf.select(cfg, "trainer.max_steps", default=None) == 0:
        raise ConfigTypeError("trainer.max_steps=0: trains nothing; use 1 or more (or -1: no limit)")
    held_out = OmegaConf.select(cfg, "data.val_identities", default=0)
    if 0 < held_out < MIN_HELD_OUT_FACES and OmegaConf.select(cfg, "callbacks.learning_curve") is not None:
        raise ConfigTypeError(
            f"data.val_identities={held_out}: the learning curve (callbacks.learning_curve) needs at least "
            f"{MIN_HELD_OUT_FACES} held-out identities; use data.val_identities={MIN_HELD_OUT_FACES} or more, "
            "or leave the curve out with ~callbacks.learning_curve"
        )


def unknown_addition(overrides: list[str]) -> str | None:
    """The problem with the first ``+name=value`` (or ``++``) whose ``name`` is neither a config group
    nor dotted: Hydra takes it as a new top-level value that nothing reads (``+abaltion=adain``
    would train the default ablation), so it is refused as an unknown key is."""
    added = [arg.lstrip("+").split("=", 1)[0].split("@")[0] for arg in overrides if arg.startswith("+") and "=" in arg]
    added = [name for name in added if "." not in name]
    if not added:
        return None
    with initialize_config_dir(CONFIG_DIR, version_base="1.3"):
        loader = GlobalHydra.instance().config_loader()
        groups = _groups(loader, "")
    for name in added:
        if name not in groups:
            close = difflib.get_close_matches(name, groups, n=1)
            hint = f"did you mean {close[0]}?" if close else f"groups: {', '.join(sorted(groups))}"
            return f"+{name}: not a config group ({hint}); a value of an existing group is set without +, as ablation=adain"
    return None


def _groups(loader, parent: str) -> list[str]:
    names = loader.list_groups(parent)
    found = [f"{parent}/{n}" if parent else n for n in names]
    return [*found, *(g for f in found for g in _groups(loader, f))]


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
