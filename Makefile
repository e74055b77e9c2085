# Two commands set everything up on a fresh machine: `make demo` and `make test`.
# Both bootstrap .venv (idempotent: a stamp file records the inputs it was built from).

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
STAMP := $(VENV)/.bootstrap-stamp
# Offline by design: nothing at run time may reach the Hugging Face hub.
export HF_HUB_OFFLINE := 1
export HF_DATASETS_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false
DATA_DIR ?= ../shared/benchmarks
export NLTK_DATA ?= $(abspath ../shared/nltk_data)

.PHONY: setup test demo bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml Makefile
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	# torch first, pinned: the local CPU wheel; an unpinned torch pulls GBs of CUDA.
	$(PIP) install -q torch==2.13.0
	$(PIP) install -q -e ".[dev]"
	@touch $(STAMP)

test: setup
	$(PY) -m pytest -q

demo: setup
	$(VENV)/bin/workbench bounds --out runs/demo/bounds

bench: setup
	$(PY) bench/gw_scaling.py

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
