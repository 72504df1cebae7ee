# Every target installs .venv first when it is missing, so each works alone on a fresh clone.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: install test smoke stats reproduce-table2 clean

install: $(VENV)/.installed

$(VENV)/.installed: setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip "setuptools<81" wheel
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $@

test: install
	$(BIN)/ruff check src tests
	$(BIN)/pytest -q

# Main job on the embedded default: distil the student on the bundled faces.
smoke: install
	$(BIN)/mfs-train profile=smoke

# Table 2: one Hydra multirun member per ablation (finished members are skipped on rerun, a
# failed one is recorded and the others go on), then the table beside the paper's values.
TABLE2_ROWS := full,no_prediction,adain,no_modulation,autoencoder,no_fusion,no_kd,no_id_reweight,no_quality_reweight,no_id_loss,full_mask
PROFILE ?= smoke
# How each row is scored (conf/eval): the paper's FaceForensics++ protocol with PROFILE=paper.
PROTOCOL ?= $(if $(filter paper,$(PROFILE)),ffpp,validation)
TABLE2_ARGS ?= $(if $(filter smoke,$(PROFILE)),trainer.max_steps=40 logger=csv)

reproduce-table2: install
	$(BIN)/mfs-train -m experiment=table2 profile=$(PROFILE) eval=$(PROTOCOL) ablation=$(TABLE2_ROWS) $(TABLE2_ARGS)
	$(BIN)/mfs table2 --results experiments/results/table2/$(PROFILE) --out experiments/results

stats: install
	$(BIN)/mfs stats --size 224 --json
	$(BIN)/mfs stats --size 256 --json

clean:
	rm -rf $(VENV) runs outputs multirun .pytest_cache
