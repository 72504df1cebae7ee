"""The wheel's contents as setup.cfg declares them (scripts/check-wheel.sh runs the built wheel)."""

import configparser
from pathlib import Path

from setuptools import find_packages

from mobilefaceswap.shipped import CONFIG_DIR, EXPERIMENTS_DIR

REPO = Path(__file__).resolve().parents[1]


def test_every_package_under_src_is_listed_with_the_shipped_folders():
    setup = configparser.ConfigParser()
    setup.read(REPO / "setup.cfg")
    listed = setup["options"]["packages"].split()
    assert sorted(listed) == sorted([*find_packages(REPO / "src"), "mobilefaceswap.conf", "mobilefaceswap.experiments"])


def test_conf_and_experiments_are_the_top_level_folders_of_the_tree():
    assert Path(CONFIG_DIR) == REPO / "conf"
    assert EXPERIMENTS_DIR == REPO / "experiments"
    assert not (REPO / "src/mobilefaceswap/conf").exists()
    assert not (REPO / "src/mobilefaceswap/experiments").exists()
