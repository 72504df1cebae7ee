#!/usr/bin/env bash
# The installable package: build the wheel, install it with the locked dependencies into a fresh
# virtualenv outside the source tree, and run the entry points there: conf/ and experiments/ are
# top-level folders of the repository, so the configs and the Table 2 rows must come from the copies
# setup.cfg puts inside the package.
#   scripts/check-wheel.sh BUILD_PYTHON VENV_PYTHON
set -euo pipefail
build_python=$1
venv_python=$2
repo=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
unset PYTHONPATH

"$build_python" -m pip wheel --quiet --no-deps --wheel-dir "$work/dist" "$repo"
"$venv_python" -m venv "$work/venv"
"$work/venv/bin/python" -m pip install --quiet -c "$repo/requirements.lock" "$work"/dist/*.whl
cd "$work"
test "$("$work/venv/bin/python" -c 'import mobilefaceswap, pathlib; print(pathlib.Path(mobilefaceswap.__file__).parent)')" \
    = "$("$work/venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/mobilefaceswap"
venv/bin/mfs-train --cfg job profile=paper > config.yaml
grep -q "accelerator: gpu" config.yaml
test -f "$("$work/venv/bin/python" -c 'from mobilefaceswap.shipped import CONFIG_DIR; print(CONFIG_DIR)')/train.yaml"
venv/bin/mfs stats --json > stats.json
test "$(venv/bin/python -m mobilefaceswap --version)" = "$(venv/bin/mfs --version)"
# A smoke run of two steps on the bundled faces: a swapper and a finished record at the end.
WANDB_MODE=offline venv/bin/mfs-train profile=smoke logger=csv trainer.max_steps=2 trainer.val_check_interval=2 \
    callbacks.checkpoint.every_n_train_steps=2 callbacks.image_grid.every_n_steps=2 \
    paths.cache_dir="$work/cache" hydra.run.dir=smoke > smoke.log 2>&1 || { tail -n 30 smoke.log; exit 1; }
test -f smoke/swapper.pt
test -f smoke/finished.json
mkdir results
venv/bin/mfs table2 --results results --output . > /dev/null
test "$(grep -c '| not run |' table2.md)" = 12
echo "wheel check passed: $(basename "$work"/dist/*.whl) installed in a fresh virtualenv ($("$work/venv/bin/python" --version))"
