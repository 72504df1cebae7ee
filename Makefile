# Every target installs .venv first when it is missing, so each works alone on a fresh clone.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: install test test-fast wheel-check smoke stats reproduce-table2 learning-curves clean

install: $(VENV)/.installed

# setup.cfg holds the ranges; requirements.lock the exact versions the tests ran with.
$(VENV)/.installed: setup.cfg pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c requirements.lock -e ".[dev]"
	touch $@

test: install
	$(BIN)/ruff check src tests
	$(BIN)/lint-imports
	$(BIN)/pytest -q -n auto --dist loadgroup
	$(MAKE) --no-print-directory wheel-check

# The edit loop: ruff, the import layers (pyproject.toml) and the tests not marked slow (no
# end-to-end runs of mfs / mfs-train).
test-fast: install
	$(BIN)/ruff check src tests
	$(BIN)/lint-imports
	$(BIN)/pytest -q -n auto --dist loadgroup -m "not slow"

# The wheel, installed into a fresh virtualenv outside the source tree, runs from there.
wheel-check: install
	scripts/check-wheel.sh $(BIN)/python $(PYTHON)

# Main job on the embedded default: distil the student on the bundled faces.
smoke: install
	$(BIN)/mfs-train profile=smoke

# Table 2: one Hydra multirun member per ablation and seed (finished members are skipped on
# rerun, a failed one is recorded and the others go on), then the table beside the paper's values.
# LAUNCHER: basic (here, one member after another), local (submitit jobs on this machine) or
# slurm (submitit jobs on a SLURM cluster, conf/hydra/launcher/slurm.yaml).
# Every config of conf/ablation/, the full model first.
ABLATIONS := $(basename $(notdir $(wildcard conf/ablation/*.yaml)))
comma := ,
empty :=
space := $(empty) $(empty)
TABLE2_ROWS := $(subst $(space),$(comma),full $(filter-out full,$(ABLATIONS)))
PROFILE ?= smoke
# How each row is scored (conf/eval): the paper's FaceForensics++ protocol with PROFILE=paper.
PROTOCOL ?= $(if $(filter paper,$(PROFILE)),ffpp,validation)
SEEDS ?= 42
LAUNCHER ?= basic
TABLE2_ARGS ?= $(if $(filter smoke,$(PROFILE)),trainer.max_steps=40 logger=csv_wandb)

reproduce-table2: install
	$(BIN)/mfs-train -m hydra/launcher=$(LAUNCHER) experiment=table2 profile=$(PROFILE) eval=$(PROTOCOL) ablation=$(TABLE2_ROWS) seed=$(SEEDS) $(TABLE2_ARGS)
	$(BIN)/mfs table2 --results experiments/results/table2/$(PROFILE) --output experiments/results --wandb

# Does the student learn, on every seed? The learning-curve experiment once per seed (about 5
# minutes each on 2 CPU cores), then the table and plot of every seed's curve with mean and spread.
CURVE_SEEDS ?= 0,1,2,3,4

learning-curves: install
	$(BIN)/mfs-train -m experiment=learning_curve seed=$(CURVE_SEEDS)
	$(BIN)/mfs learning-curves --results experiments/results/learning_curve

stats: install
	$(BIN)/mfs stats --size 224 --json
	$(BIN)/mfs stats --size 256 --json

clean:
	rm -rf $(VENV) runs outputs multirun .pytest_cache
