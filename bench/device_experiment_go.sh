#!/usr/bin/env bash
# The last staging call of the headline experiment on the GPU machine: receive the last
# part, set up, start the experiment (--jobs 6) and bench/gld_scale.py on the real models
# beside it, then follow for WAIT seconds (default 380; setup + wait stay under a call's
# 600 s). Usage: bash bench/device_experiment_go.sh [WAIT]
set -euo pipefail
B=bench/device_experiment.sh
bash $B receive
bash $B setup
bash $B start configs/experiment-smollm2-gemma3.yaml 6
bash $B side gld_scale '"$PY" bench/gld_scale.py --models real --device cuda --data-dir "$ROOT/benchmarks" --out "$ROOT/side/gld_scale_real_smollm2_gpu.csv" --summary "$ROOT/side/gld_scale_real_smollm2_gpu.json"; "$PY" bench/gld_scale.py --models real --device cuda --pivot gemma3-270m --source smollm2-135m-instruct --data-dir "$ROOT/benchmarks" --out "$ROOT/side/gld_scale_real_gemma3_gpu.csv" --summary "$ROOT/side/gld_scale_real_gemma3_gpu.json"'
bash $B wait "${1:-380}"
