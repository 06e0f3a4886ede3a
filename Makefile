# soma: `make demo` trains a network, `make test` runs the whole suite.
# Both create .venv on first use with the machine's Python 3.11.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: demo test lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.demo-installed: $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet -e ".[plot,data,progress,io,fast]"
	touch $@

$(VENV)/.dev-installed: $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $@ $(VENV)/.demo-installed

# The demo's matrix products are small: one BLAS thread beats several that spin waiting for the
# cores (set for the demo run only; soma itself never changes threading settings). Each run
# replaces the previous demo's runs/demo (--overwrite), so `make demo` can be run again.
demo: $(VENV)/.demo-installed
	OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 \
	$(BIN)/soma train --model lenet5 --data digits --epochs 12 --augment --out runs/demo --overwrite

# Two test workers on two cores: each worker's BLAS/OpenMP gets one thread (set for the test run
# only; soma itself never changes threading settings).
test: $(VENV)/.dev-installed lint
	OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 $(BIN)/python -m pytest -n 2 src tests

lint: $(VENV)/.dev-installed
	$(BIN)/ruff check src tests benchmarks examples
	$(BIN)/ruff format --check src tests benchmarks examples

bench: $(VENV)/.dev-installed
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) runs build *.egg-info src/*.egg-info .pytest_cache
