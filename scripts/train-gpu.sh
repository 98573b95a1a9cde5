#!/usr/bin/env bash
# Continue the default model from its shipped weights on one GPU for about 8 minutes, writing
# the checkpoint and the exported weights into OUT_DIR; run again, it resumes from there.
#
#   scripts/train-gpu.sh OUT_DIR
#
# `lic train` picks CUDA when it is there (bf16 autocast, channels_last, as on the CPU). The
# environment overrides the defaults: MODEL, DATA, MINUTES, BATCH (the crops per step: 32 of
# 256² take a few GB, far from an H200's memory; on a smaller GPU lower it), CROP, LR, STEPS,
# HOLDOUT, PYTHON. Then compare with the shipped weights before shipping:
#   lic eval ../shared/data/kodak --model MODEL \
#       --weights OUT_DIR/MODEL.safetensors --json new.json
#   lic bd results/kodak/MODEL.json new.json   (MODEL: the default, lic.defaults)
set -euo pipefail
out=${1:?usage: scripts/train-gpu.sh OUT_DIR}
python=${PYTHON:-python}
model=${MODEL:-$($python -c 'from lic.defaults import DEFAULT_MODEL; print(DEFAULT_MODEL)')}
weights=$($python -c "from lic.models.registry import get_spec; print(get_spec('$model').weights_path(None))")
$python -m lic train --model "$model" --init "$weights" --data "${DATA:-../shared/data/train}" \
    --out "$out" --minutes "${MINUTES:-8}" --batch "${BATCH:-32}" --crop "${CROP:-256}" \
    --lr "${LR:-2e-5}" --steps "${STEPS:-1000000}" --quantization mixed \
    --holdout "${HOLDOUT:-4}" --checkpoint-every 250 --no-progress
$python -m lic export "$out/checkpoint.pt" -o "$out/$model.safetensors"
