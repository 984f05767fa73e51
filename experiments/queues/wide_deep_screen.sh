#!/bin/bash
# Issue 24, wide-and-deep screen: the wide-and-deep model (ASP-MTL's encoders, with the best LSTM configuration's
# settings, plus the n-gram shared/private linear path; python -m experiments.train --model wide-deep), dev only,
# seeds 0 1 2, against the n-gram best configuration's dev-only runs of the same seeds
# (experiments/results/ngram/sp_ngram_dev_seed<S>.json; experiments/configs/best.json), one wide learning rate each:
#   wd         the wide path at the deep path's rate (LazyAdam 1e-3)
#   wd_wide03  the wide path at 0.3 times it (the deep path learns more before the wide one fits the train rows)
#   wd_wide3   the wide path at 3 times it
#   wd_wide10  at 10 times it (added after seed 0 of the others: dev error fell as the wide rate rose)
#   wd_wide10_nb  at 10 times it, its n-gram tf-idf scaled by naive-Bayes log-count ratios learnt from the train
#              split's labels (--wide-feature-weighting nb: the n-gram model's setting that beat tf-idf on dev)
#   wd_wide10_nb_vat  wd_wide10_nb with virtual adversarial training on the word vectors (--embedding-perturbation
#              virtual: VAT, the LSTM lever that won most on dev, s16_best_vat), issue 24's last named lever; paired
#              with wd_wide10_nb (session 32: seed 0 first, SEEDS=0 ONLY=wd_wide10_nb_vat)
# Run from a checkout (or a worktree at a fixed commit):  nohup bash experiments/queues/wide_deep_screen.sh > runs/wide_deep_screen.log 2>&1 &
# Each run writes experiments/results/wide_deep_screen/<name>_seed<S>.json when it finishes; a finished run is
# skipped and a killed one resumes from its run folder (runs/wide_deep_screen/<name>_seed<S>), so the same command
# continues the queue in a later session. One run at a time (2 cores); SEEDS="0" runs only those seeds. At the end it prints each setting's dev error
# beside the n-gram model's, paired by seed (also with: bash experiments/queues/wide_deep_screen.sh --summary).
set -u
cd "$(dirname "$0")/../.."
source experiments/queues/screen_lib.sh
DEEP="--model wide-deep --truncation head+tail --adversarial-objective confusion --unlabeled-fraction 0.25"
declare -A FLAGS=(
  [wd]=""
  [wd_wide03]="--wide-learning-rate-multiplier 0.3"
  [wd_wide3]="--wide-learning-rate-multiplier 3"
  [wd_wide10]="--wide-learning-rate-multiplier 10"
  [wd_wide10_nb]="--wide-learning-rate-multiplier 10 --wide-feature-weighting nb"
  [wd_wide10_nb_vat]="--wide-learning-rate-multiplier 10 --wide-feature-weighting nb --embedding-perturbation virtual"
)
ORDER=(wd wd_wide03 wd_wide3 wd_wide10 wd_wide10_nb wd_wide10_nb_vat)

summary() {
  python - "${ORDER[@]}" <<'EOF'
import json, sys
from pathlib import Path

print("Difference: wide-and-deep - n-gram best configuration, dev error points (negative: wide-and-deep better).\n")
print("| setting | seed | wide-and-deep dev % | n-gram dev % | difference |\n|---|---:|---:|---:|---:|")
for name in sys.argv[1:]:
    diffs = []
    for seed in (0, 1, 2):
        ours, ngram = (Path(p) for p in (f"experiments/results/wide_deep_screen/{name}_seed{seed}.json",
                                         f"experiments/results/ngram/sp_ngram_dev_seed{seed}.json"))
        if not (ours.exists() and ngram.exists()):
            continue
        a, b = (json.loads(p.read_text())["avg_dev_error"] for p in (ours, ngram))
        diffs.append(a - b)
        print(f"| {name} | {seed} | {a:.2f} | {b:.2f} | {a - b:+.2f} |")
    if diffs:
        print(f"| {name} | mean of {len(diffs)} | | | {sum(diffs) / len(diffs):+.2f} |")
EOF
}

if [ "${1:-}" = "--summary" ]; then summary; exit 0; fi
run_screen wide_deep_screen "experiments.train --dev-only $DEEP"
summary
