#!/bin/bash
# Issue 24: two levers for the shared/private n-gram model, screened on dev only (16 tasks), paired by seed with the
# best configuration (experiments/results/ngram_batch/b64_lr1e-3_seed<S>.json: batch 64, lr 1e-3, the same code
# path: the levers are off by default and leave its features and training bit-identical):
#   nb         naive-Bayes-weighted features (tf-idf times each n-gram's NB log-count ratio from the train labels)
#   self09     self-training: the teacher (today's model) labels the unlabelled reviews it is >= 0.9 sure of,
#              balanced per class and task; the reported model trains on train + those, its epoch chosen on dev
#   nb_self09  both
# Run from a checkout (or a worktree at a fixed commit):
#   nohup bash experiments/queues/ngram_levers_screen.sh > runs/ngram_levers_screen.log 2>&1 &
#   SEEDS="0" bash experiments/queues/ngram_levers_screen.sh      # some seeds only (default: 0 1 2)
# Each run writes experiments/results/ngram_levers/<name>_seed<S>.json when it finishes; a finished run is skipped,
# a killed one resumes from runs/ngram_levers/<name>_seed<S> (the self-training teacher in its model/teacher
# sub-folder, its pseudo labels in model/pseudo_labels.parquet). One run at a time (2 cores).
# bash experiments/queues/ngram_levers_screen.sh --summary  prints the paired table (save it as
# experiments/results/ngram_levers/summary.md).
set -u
cd "$(dirname "$0")/../.."
source experiments/queues/screen_lib.sh
if [ "${1:-}" = "--summary" ]; then
  python - <<'EOF'
import json
from pathlib import Path

import numpy as np

from tf_aspmtl.analysis import mean_sd

RESULTS, BASELINE = Path("experiments/results/ngram_levers"), Path("experiments/results/ngram_batch")
runs = {p.stem: json.loads(p.read_text()) for p in sorted(RESULTS.glob("*_seed*.json"))}
base = {p.stem.rsplit("_seed", 1)[1]: json.loads(p.read_text()) for p in sorted(BASELINE.glob("b64_lr1e-3_seed*.json"))}
print("# The n-gram model's levers, on dev (issue 24)\n")
print("Made by `bash experiments/queues/ngram_levers_screen.sh --summary` from `experiments/results/ngram_levers/*.json` "
      "(each file holds its command). Dev error % per seed (16 tasks, the test split not read); difference = setting - "
      "the best configuration (batch 64, lr 1e-3: `experiments/results/ngram_batch/b64_lr1e-3_seed<S>.json`), same "
      "seed, negative = better; training time is each run's `training_wall_time_s` (with self-training, the "
      "teacher's included; other jobs shared the machine). A self-training run's teacher is the model of the run it is "
      "paired with (same features, seed and code path): without nb its teacher dev error equals that run's dev error.\n")
print("| setting | seeds | dev error per seed | mean | difference per seed | mean difference | teacher dev error "
      "| pseudo-labelled rows per task (mean) | training s per seed | best epoch / epochs run |")
print("|---|---|---|---:|---|---:|---|---:|---|---|")


def cells(values, fmt):
    return " / ".join(format(v, fmt) for v in values)


for name in ("nb", "self09", "nb_self09"):
    seeds = sorted((s for s in base if f"{name}_seed{s}" in runs), key=int)
    if not seeds:
        continue
    got = [runs[f"{name}_seed{s}"] for s in seeds]
    dev = [r["avg_dev_error"] for r in got]
    diff = [r["avg_dev_error"] - base[s]["avg_dev_error"] for r, s in zip(got, seeds)]
    mean_diff, sd_diff = mean_sd(diff)
    st = [r.get("self_training") for r in got]
    teacher = cells([x["avg_teacher_dev_error"] for x in st], ".2f") if all(st) else "-"
    pseudo = (f"{np.mean([np.mean(list(x['pseudo_labelled_rows'].values())) for x in st]):.0f}" if all(st) else "-")
    epochs = " / ".join(f"{r['best_epoch']}/{r['epochs_run']}" for r in got)
    print(f"| {name} | {', '.join(seeds)} | {cells(dev, '.2f')} | {mean_sd(dev)[0]:.2f} | {cells(diff, '+.2f')} | "
          f"{mean_diff:+.2f}" + (f" ± {sd_diff:.2f}" if len(seeds) > 1 else "") + f" | {teacher} | {pseudo} | "
          f"{cells([r['training_wall_time_s'] for r in got], '.0f')} | {epochs} |")
EOF
  exit 0
fi
declare -A FLAGS=(
  [nb]="--feature-weighting nb"
  [self09]="--self-training-threshold 0.9"
  [nb_self09]="--feature-weighting nb --self-training-threshold 0.9"
)
ORDER=(nb self09 nb_self09)
run_screen ngram_levers "experiments.ngram --config experiments/configs/best.json --dev-only"
