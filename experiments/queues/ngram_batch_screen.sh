#!/bin/bash
# Issue 22: can the shared/private n-gram model train in scikit-learn's time at its dev error? Larger batches (fewer,
# larger sparse steps), learning rate scaled, screened on dev only, paired by seed with the best configuration
# (batch 64, lr 1e-3) run by the same code. Run from a checkout (or a worktree at a fixed commit):
#   nohup bash experiments/queues/ngram_batch_screen.sh > runs/ngram_batch_screen.log 2>&1 &
# Each run writes experiments/results/ngram_batch/<name>_seed<S>.json when it finishes; a finished run is skipped,
# a killed one resumes from runs/ngram_batch/<name>_seed<S>. One run at a time (2 cores).
# bash experiments/queues/ngram_batch_screen.sh --summary  prints the paired table (experiments/results/ngram_batch/summary.md).
set -u
cd "$(dirname "$0")/../.."
source experiments/queues/screen_lib.sh
if [ "${1:-}" = "--summary" ]; then
  python - <<'EOF'
import json
from pathlib import Path

from tf_aspmtl.analysis import mean_sd

base = "b64_lr1e-3"
runs = {p.stem: json.loads(p.read_text()) for p in sorted(Path("experiments/results/ngram_batch").glob("*_seed*.json"))}
print("# The n-gram model with larger batches, on dev (issue 22)\n")
print("Made by `bash experiments/queues/ngram_batch_screen.sh --summary` from `experiments/results/ngram_batch/*.json` "
      "(each file holds its command). Dev error % per seed; difference = setting - batch 64 (the best configuration), "
      "same seed; training time is each run's `training_wall_time_s` (other jobs shared the machine).\n")
print("| setting | dev error, seeds 0 / 1 / 2 | mean | difference per seed | training s per seed | best epoch / epochs run |")
print("|---|---|---:|---|---|---|")
def cells(values, fmt):
    return " / ".join(format(v, fmt) for v in values)


for name in ("b64_lr1e-3", "b256_lr4e-3", "b256_lr2e-3", "b1024_lr1e-2"):
    got = [runs.get(f"{name}_seed{s}") for s in (0, 1, 2)]
    if not all(got):
        continue
    ref = [runs[f"{base}_seed{s}"] for s in (0, 1, 2)]
    dev = [r["avg_dev_error"] for r in got]
    diff = [r["avg_dev_error"] - b["avg_dev_error"] for r, b in zip(got, ref)]
    epochs = " / ".join(f"{r['best_epoch']}/{r['epochs_run']}" for r in got)
    print(f"| {name} | {cells(dev, '.2f')} | {mean_sd(dev)[0]:.2f} | {cells(diff, '+.2f')} | "
          f"{cells([r['training_wall_time_s'] for r in got], '.0f')} | {epochs} |")
EOF
  exit 0
fi
declare -A FLAGS=(
  [b64_lr1e-3]=""
  [b256_lr4e-3]="--batch-size 256 --learning-rate 0.004"
  [b256_lr2e-3]="--batch-size 256 --learning-rate 0.002"
  [b1024_lr1e-2]="--batch-size 1024 --learning-rate 0.01"
)
ORDER=(b64_lr1e-3 b256_lr4e-3 b256_lr2e-3 b1024_lr1e-2)
run_screen ngram_batch "experiments.ngram --config experiments/configs/best.json --dev-only"
