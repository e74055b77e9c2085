#!/usr/bin/env bash
# Pack what `bench/eval_overhead.py` needs on an offline GPU machine that has torch and
# transformers but not the evaluation stack: cp312 wheels of lm-eval, EvalPlus, math-verify,
# IFEval's checkers and their pure-Python dependencies (versions pinned to this .venv), the
# SmolLM2 tokenizer (for a random-init model of realistic shape), the benchmark data and
# NLTK's punkt_tab. The folder is git-ignored; carry it (e.g. the device tool's `carry`).
#
# Usage: bash bench/device_pack.sh [DEST=.devicepack]   (then see the printed command)
set -euo pipefail
cd "$(dirname "$0")/.."
DEST=${1:-.devicepack}
SHARED=${SHARED:-../shared}
PIP=.venv/bin/pip
grep -qxF "/$DEST/" .git/info/exclude 2>/dev/null || echo "/$DEST/" >> .git/info/exclude
mkdir -p "$DEST/whl" "$DEST/cache/models/_tokenizers"
# Missing on the device as of 2026-11-22 (torch 2.11, transformers 5.17, pandas, pyarrow,
# scipy, sacrebleu, aiohttp were there). POT (the diagnostics' exact GW) and transformers
# (the device's 5.17 is older than this .venv's; the same version as the tests here) too.
PKGS="POT transformers lm-eval datasets evaluate dill multiprocess sqlitedict pytablewriter dataproperty
mbstrdecoder pathvalidate tabledata tcolorpy typepy chardet word2number more-itertools rouge-score
evalplus fire termcolor appdirs tempdir wget tree-sitter tree-sitter-python math-verify
latex2sympy2-extended antlr4-python3-runtime langdetect immutabledict nltk gguf pydantic
pydantic-core annotated-types typing-inspection stop-sequencer"
for name in $PKGS; do
  pin=$($PIP freeze | grep -i -E "^${name//-/[-_]}==" | head -1)
  [ -n "$pin" ] || { echo "not in .venv: $name (run make test first)" >&2; exit 1; }
  $PIP download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
      --abi cp312 --abi abi3 --abi none --platform manylinux2014_x86_64 \
      --platform manylinux_2_17_x86_64 --platform manylinux_2_28_x86_64 -d "$DEST/whl" "$pin" 2>/dev/null \
    || $PIP wheel -q --no-deps -w "$DEST/whl" "$pin"  # sdist only: build a pure-Python wheel here
done
.venv/bin/workbench models prepare smollm2-135m-instruct >/dev/null
cp -r "${WORKBENCH_CACHE:-$HOME/.cache/fusion-workbench}/models/_tokenizers/smollm2-135m-instruct" "$DEST/cache/models/_tokenizers/"
rm -rf "$DEST/benchmarks" "$DEST/nltk_data"
cp -r "$SHARED/benchmarks" "$DEST/benchmarks"
cp -r "$SHARED/nltk_data" "$DEST/nltk_data"
du -sh "$DEST"
cat <<CMD
On the GPU machine (repository root, $DEST carried):
  PIP_BREAK_SYSTEM_PACKAGES=1 python -m pip install -q --no-index --no-deps $DEST/whl/*.whl
  export WORKBENCH_CACHE=\$PWD/$DEST/cache WORKBENCH_DATA_DIR=\$PWD/$DEST/benchmarks NLTK_DATA=\$PWD/$DEST/nltk_data \\
         HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 PYTHONPATH=\$PWD
  python bench/eval_overhead.py --model 'tiny-random-llama?hidden=576&layers=30&heads=9&kv_heads=3&intermediate=1536' \\
         --benchmarks bbh,arc --items 64 --batch-size 64 --max-gen-toks 0 --repeats 3 --no-write
CMD
