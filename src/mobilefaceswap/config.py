"""The Hydra configs (conf/) composed outside ``mfs-train``, for the ``mfs`` tools that need a
teacher, a face parser or the data exactly as a training run would build them."""

import difflib
import inspect
from dataclasses import is_dataclass
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


HYDRA_KEYS = {"_target_", "_recursive_", "_partial_", "_convert_", "_args_"}


def check_value_types(cfg: DictConfig) -> None:
    """One line naming the key when a ``_target_`` node holds a value that does not fit what its
    consumer declares (constructor annotations; a dataclass as a whole, with its own checks), or a
    key its consumer does not take; then the ranges of ``RANGES``. Run before any work, so that
    nothing is built in vain."""
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
    "model.optimizer.betas": tuple[Annotated[float, Field(ge=0, lt=1)], Annotated[float, Field(ge=0, lt=1)]],
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
    if OmegaConf.select(cfg, "model.identity_noise.share", default=0) and OmegaConf.select(cfg, "data.teacher_cache"):
        raise ConfigTypeError("model.identity_noise.share: a teacher cache (data.teacher_cache) holds the teacher's "
                              "answers to unmoved sources; use one or the other")
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
