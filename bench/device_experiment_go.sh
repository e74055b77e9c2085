#!/usr/bin/env bash
# The last staging call of the headline experiment on the GPU machine: receive the last
# part, finish the setup (the earlier parts were absorbed while later ones travelled),
# start the experiment with --jobs JOBS (default 6: the cache and both baselines' evaluations
# first, then three trainings beside the evaluations, then each arm's evaluation and
# diagnostics), then follow it for WAIT seconds (default 380; setup + wait stay under a
# call's 600 s). Usage: bash bench/device_experiment_go.sh [WAIT] [JOBS]
set -euo pipefail
B=bench/device_experiment.sh
bash $B receive
bash $B setup
bash $B start configs/experiment-smollm2-gemma3.yaml "${2:-6}"
bash $B wait "${1:-380}"
