from pathlib import Path

import pytest
from hydra.utils import instantiate
from omegaconf import OmegaConf, open_dict

from mobilefaceswap.models.imagenet import IMAGENET_MEAN, IMAGENET_STD
from mobilefaceswap.shipped import CONFIG_DIR
from mobilefaceswap.table2 import ROWS_FILE
from mobilefaceswap.training.fitting import build

from helpers import ABLATION_SWITCHES, ABLATIONS

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
    module = build(compose_train("profile=smoke").model)
    assert sum(p.numel() for p in module.student.parameters()) == 20_699_710
    assert set(module.frozen) == {"teacher", "identity", "perceptual", "face_parser"}
    assert not any(p.requires_grad for p in module.frozen.parameters())


def test_quality_regressor_group_adds_q(compose_train):
    module = build(compose_train("quality=resnet18").model)
    assert "quality" in module.frozen


def test_composed_defaults_hold_the_papers_values(compose_train):
    cfg = compose_train()
    assert {k: cfg.loss[k] for k in ("lambda_rec", "lambda_per", "lambda_id", "lambda_mask", "lambda_adv")} == {
        "lambda_rec": 30.0, "lambda_per": 5.0, "lambda_id": 3.0, "lambda_mask": 10.0, "lambda_adv": 1.0,
    }  # eq. 3-7
    assert cfg.loss.weak_mask and cfg.loss.distillation and cfg.loss.reweight_identity and cfg.loss.reweight_quality
    assert dict(cfg.model.net) == {"_target_": "mobilefaceswap.models.MobileFaceSwap", "weight_prediction": True,
                                   "pointwise": "modulated", "skips": True, "fusion": True,
                                   "depthwise_demodulation": "balanced"}  # the last is ours, not the paper's
    assert (cfg.model.optim.lr_generator, list(cfg.model.optimizer.betas)) == (4e-4, [0.0, 0.99])
    assert (tuple(cfg.identity.mean), tuple(cfg.identity.std)) == (IMAGENET_MEAN, IMAGENET_STD)
    assert cfg.teacher.alignment.size == 224 and cfg.data.size == 224


def test_profiles_set_what_they_say(compose_train):
    smoke = compose_train("profile=smoke")
    assert smoke.trainer.max_steps == 120 and smoke.face_parser.input_size == 224 and smoke.face_parser.pretrained is None
    paper = compose_train("profile=paper")
    choices = paper.hydra.runtime.choices
    assert (choices.data, choices.trainer, choices.quality) == ("vggface2", "gpu", "resnet18")
    assert paper.trainer.max_steps == 600000 and paper.face_parser.pretrained.endswith("79999_iter.pth")


def test_table2_rows_are_the_ablation_configs():
    rows = OmegaConf.load(ROWS_FILE).rows
    assert sorted(row.ablation for row in rows) == sorted([*ABLATIONS, "teacher"])  # the teacher row is scored in full's runs


def _switches(cfg) -> dict:
    return {f"{group}.{k}": v for group in ("model.net", "loss") for k, v in OmegaConf.select(cfg, group).items()}


def test_every_ablation_config_has_its_expected_switches():
    assert set(ABLATION_SWITCHES) == set(ABLATIONS)


@pytest.mark.parametrize("ablation", ABLATIONS)
def test_each_ablation_changes_exactly_its_switches(compose_train, ablation):
    cfg = compose_train(f"ablation={ablation}")
    full, variant = _switches(compose_train("ablation=full")), _switches(cfg)
    assert {k: v for k, v in variant.items() if full[k] != v} == ABLATION_SWITCHES[ablation]
    loss = build(cfg.loss)  # what the LightningModule optimises
    switches = {k.removeprefix("loss."): v for k, v in ABLATION_SWITCHES[ablation].items() if k.startswith("loss.")}
    assert {k: getattr(loss, k) for k in switches} == switches


NETWORK_ABLATIONS = [name for name, switches in ABLATION_SWITCHES.items() if any(k.startswith("model.") for k in switches)]


@pytest.mark.parametrize("ablation", NETWORK_ABLATIONS)
def test_each_network_ablation_builds_another_student(compose_train, ablation):
    def built(name: str):
        student = instantiate(compose_train(f"ablation={name}").model.net)
        return student.arch, {k: tuple(v.shape) for k, v in student.state_dict().items()}

    (arch, shapes), (_, full_shapes) = built(ablation), built("full")
    switches = {k.removeprefix("model.net."): v for k, v in ABLATION_SWITCHES[ablation].items() if k.startswith("model.net.")}
    assert {k: arch[k] for k in switches} == switches  # the built student has the switch
    assert shapes != full_shapes  # and another architecture
