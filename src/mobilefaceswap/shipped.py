"""Where the shipped folders are: ``conf/`` (every Hydra config) and ``experiments/`` (the paper's
tables). Both sit at the top of the repository; a wheel carries them inside the package
(setup.cfg maps ``mobilefaceswap.conf`` and ``mobilefaceswap.experiments`` to them)."""

from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent


def shipped_dir(name: str) -> Path:
    """The folder ``name`` at the top of the source tree (the package is src/mobilefaceswap there,
    editable installs included), else the copy inside the installed package."""
    in_source_tree = PACKAGE_DIR.parent.name == "src"
    return PACKAGE_DIR.parents[1] / name if in_source_tree else PACKAGE_DIR / name


CONFIG_DIR = str(shipped_dir("conf"))
EXPERIMENTS_DIR = shipped_dir("experiments")
