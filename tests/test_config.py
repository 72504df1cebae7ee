from pathlib import Path

import pytest
from omegaconf import OmegaConf, open_dict

from mobilefaceswap.train import CONFIG_DIR, build_module

GROUPS = sorted(p.name for p in Path(CONFIG_DIR).iterdir() if p.is_dir())
OPTIONS = [(group, option.stem) for group in GROUPS for option in sorted((Path(CONFIG_DIR) / group).glob("*.yaml"))]


def test_groups_are_the_documented_axes():
    expected = {"ablation", "callbacks", "data", "discriminator", "experiment", "hydra", "identity", "logger", "loss", "model"}
    expected |= {"face_parser", "paths", "perceptual", "profile", "quality", "teacher", "trainer", "eval"}
    assert set(GROUPS) == expected


@pytest.mark.parametrize(("group", "option"), [o for o in OPTIONS if o[0] not in ("hydra", "paths")])
def test_every_option_composes_and_resolves(compose_train, group, option):
    cfg = compose_train(f"{group}={option}")
    if group != "experiment":
        assert cfg.hydra.runtime.choices[group] == option
    with open_dict(cfg):
        del cfg.hydra  # what the job sees
    resolved = OmegaConf.to_container(cfg, resolve=True)
    assert resolved["task_name"] and resolved["paths"]["run_dir"]


def test_smoke_profile_builds_the_module(compose_train):
    module = build_module(compose_train("profile=smoke"))
    assert sum(p.numel() for p in module.student.parameters()) == 20_699_710
    assert set(module.frozen) == {"teacher", "identity", "perceptual", "face_parser"}
    assert not any(p.requires_grad for p in module.frozen.parameters())


def test_quality_regressor_group_adds_q(compose_train):
    module = build_module(compose_train("quality=resnet18"))
    assert "quality" in module.frozen
