#!/bin/bash
# Issue 24: the naive-Bayes n-gram setting, chosen on dev (better on all three seeds), read on test once per seed.
# Run from a checkout (or a worktree at a fixed commit): bash experiments/queues/ngram_nb_tested.sh; a finished seed is skipped.
cd "$(dirname "$0")/../.."
for seed in 0 1 2; do
  out="experiments/results/ngram_levers/nb_tested_seed${seed}.json"
  [ -f "$out" ] && continue
  echo "== $(date -u +%FT%TZ) nb tested seed ${seed}"
  python -m experiments.ngram --config experiments/configs/best.json --seed "$seed" --feature-weighting nb \
    --output-dir "runs/ngram_levers/nb_tested_seed${seed}" --results "$out" --verbose 2 || exit 1
done
