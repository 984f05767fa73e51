#!/bin/bash
# Issue 22: can the shared/private n-gram model train in scikit-learn's time at its dev error? Larger batches (fewer,
# larger sparse steps), learning rate scaled, screened on dev only, paired by seed with the best configuration
# (batch 64, lr 1e-3) run by the same code. Run from a checkout (or a worktree at a fixed commit):
#   nohup bash experiments/queues/ngram_batch_screen.sh > runs/ngram_batch_screen.log 2>&1 &
# Each run writes experiments/results/ngram_batch/<name>_seed<S>.json when it finishes; a finished run is skipped,
# a killed one resumes from runs/ngram_batch/<name>_seed<S>. One run at a time (2 cores).
set -u
cd "$(dirname "$0")/../.."
declare -A FLAGS=(
  [b64_lr1e-3]=""
  [b256_lr4e-3]="--batch-size 256 --learning-rate 0.004"
  [b256_lr2e-3]="--batch-size 256 --learning-rate 0.002"
  [b1024_lr1e-2]="--batch-size 1024 --learning-rate 0.01"
)
ORDER=(b64_lr1e-3 b256_lr4e-3 b256_lr2e-3 b1024_lr1e-2)
for seed in 0 1 2; do
  for name in "${ORDER[@]}"; do
    out="experiments/results/ngram_batch/${name}_seed${seed}.json"
    [ -f "$out" ] && continue
    echo "== $(date -u +%FT%TZ) ${name} seed ${seed}"
    # shellcheck disable=SC2086
    python -m experiments.ngram --config experiments/configs/best.json --dev-only --seed "$seed" ${FLAGS[$name]} \
      --output-dir "runs/ngram_batch/${name}_seed${seed}" --results "$out" --verbose 2 || exit 1
  done
done
echo "== $(date -u +%FT%TZ) queue finished"
