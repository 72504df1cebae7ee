"""``mfs-train`` refuses values outside their range, and ``+group=`` additions that name no group,
in one line before any work (docs/reliability.md)."""

import re

import pytest
from omegaconf import open_dict

from mobilefaceswap.config import ConfigTypeError, check_value_types

from helpers import run_mfs_train


def checked(compose_train, *overrides: str) -> None:
    cfg = compose_train(*overrides)
    with open_dict(cfg):
        del cfg.hydra  # what the job sees
    check_value_types(cfg)


@pytest.mark.parametrize(
    "overrides, message",
    [
        (["data.batch_size=0"], "data.batch_size: input should be greater than 0 (value: 0)"),
        (["data.batch_size=-4"], "data.batch_size: input should be greater than 0 (value: -4)"),
        (["model.optim.lr_generator=-0.001"], "model.optim.lr_generator: input should be greater than 0 (value: -0.001)"),
        (["model.optim.lr_discriminator=0"], "model.optim.lr_discriminator: input should be greater than 0 (value: 0)"),
        (["model.optim.lr_generator=inf"], "model.optim.lr_generator: input should be a finite number (value: inf)"),
        (["model.optimizer.betas=[0.5,1.5]"], "model.optimizer.betas.1: input should be less than 1 (value: 1.5)"),
        (["model.optim.max_nonfinite_steps=0"], "model.optim.max_nonfinite_steps: input should be greater than 0"),
        (["data.num_workers=-1"], "data.num_workers: input should be greater than or equal to 0 (value: -1)"),
        (["trainer.max_steps=-2"], "trainer.max_steps: input should be greater than or equal to -1 (value: -2)"),
        (["trainer.max_steps=0"], "trainer.max_steps=0: trains nothing; use 1 or more (or -1: no limit)"),
        (["callbacks.learning_curve.max_faces=2"], "learning_curve.max_faces: input should be greater than or equal to 3"),
        (
            ["data.val_identities=2"],
            "data.val_identities=2: the learning curve (callbacks.learning_curve) needs at least 3 held-out identities; "
            "use data.val_identities=3 or more, or leave the curve out with ~callbacks.learning_curve",
        ),
    ],
)
def test_values_out_of_range_are_one_line_naming_the_key(compose_train, overrides, message):
    with pytest.raises(ConfigTypeError, match=re.escape(message)):
        checked(compose_train, *overrides)


@pytest.mark.parametrize(
    "overrides",
    [[], ["data.val_identities=2", "~callbacks.learning_curve"], ["data=vggface2"], ["trainer.max_steps=-1"]],
)
def test_values_in_range_pass(compose_train, overrides):
    checked(compose_train, *overrides)


def test_batch_size_zero_stops_before_any_network_is_built(tmp_path, face_cache):
    result = run_mfs_train("data.batch_size=0", "hydra.run.dir=run", cwd=tmp_path, cache=face_cache)
    assert result.returncode == 1
    assert result.stderr.strip() == "error: data.batch_size: input should be greater than 0 (value: 0)"
    assert not (tmp_path / "run" / "checkpoints").exists()


@pytest.mark.parametrize(
    "addition, message",
    [
        ("+abaltion=adain", "error: +abaltion: not a config group (did you mean ablation?); "
         "a value of an existing group is set without +, as ablation=adain"),
        ("++techer=faceshifter", "error: +techer: not a config group (did you mean teacher?)"),
        ("+zzz=1", "error: +zzz: not a config group (groups: "),
    ],
)
def test_an_addition_that_names_no_group_is_refused(tmp_path, face_cache, addition, message):
    result = run_mfs_train(addition, "hydra.run.dir=run", cwd=tmp_path, cache=face_cache)
    assert result.returncode == 1
    assert result.stderr.startswith(message) and len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert not (tmp_path / "run").exists()
