#!/bin/bash
# Issue 24 ("where the shared/private idea pays"): does the n-gram model's shared kernel carry to a task it never saw
# (the paper's Table 3 question, for the best model)? For each held-out task T and seed S, with the best
# configuration's features and settings (experiments/configs/best.json) but no self-training (train rows only, so the
# two runs on T learn from the same rows):
#   src_no_T:  the model on the other 15 tasks (dev only: test never read);
#   bc_T:      python -m experiments.transfer --mode bc from it: its shared kernel, frozen, and a new private kernel
#              for T, the epoch chosen on T's dev split, test read once;
#   single_T:  the same model on T alone, its epoch chosen on T's dev split, test read once.
# Paired by task and seed (bc - single, negative: the shared kernel helps). ~2 min a task here (2 cores).
#   nohup bash experiments/queues/ngram_transfer.sh > runs/ngram_transfer.log 2>&1 &   (SEEDS="0", ONLY="books dvd")
#   bash experiments/queues/ngram_transfer.sh --summary   # experiments/results/ngram_transfer/summary.md
# Each run writes experiments/results/ngram_transfer/<run>_seed<S>.json when it finishes; finished runs are skipped
# and a killed one resumes from its folder (runs/ngram_transfer/<run>_seed<S>).
set -u
cd "$(dirname "$0")/../.."
OUT=experiments/results/ngram_transfer
if [ "${1:-}" = "--summary" ]; then
  python - <<'PY'
import json
from pathlib import Path

from tf_aspmtl.analysis import mean_sd
from tf_aspmtl.analysis.seed_comparison import summarize_differences
from tf_aspmtl.data.paths import FDU_MTL_TASKS

HERE = Path("experiments/results/ngram_transfer")
rows, diffs, seeds, per_seed = [], [], [], {}
for task in FDU_MTL_TASKS:
    for seed in (0, 1, 2):
        bc, single = HERE / f"bc_{task}_seed{seed}.json", HERE / f"single_{task}_seed{seed}.json"
        if not (bc.exists() and single.exists()):
            continue
        b, s = (json.loads(p.read_text())["per_task"][task] for p in (bc, single))
        diffs.append(b["test_error"] - s["test_error"])
        per_seed.setdefault(seed, []).append(diffs[-1])
        rows.append(f"| {task} | {seed} | {s['dev_error']:.2f} | {b['dev_error']:.2f} | {s['test_error']:.2f} | "
                    f"{b['test_error']:.2f} | {diffs[-1]:+.2f} |")
print("# The n-gram model's shared kernel carried to a held-out task\n")
print("Made by `bash experiments/queues/ngram_transfer.sh --summary` from `experiments/results/ngram_transfer/*.json` "
      "(each file holds its command). The best configuration's features and settings without self-training; single: "
      "the model on the held-out task alone; bc: `python -m experiments.transfer --mode bc` from the model trained on "
      "the other 15 tasks (its shared kernel frozen, a new private kernel). Error %; dev chose every epoch; test read "
      "once per run. Difference = bc - single (negative: the shared kernel helps), paired by task and seed.\n")
if diffs:
    summary = summarize_differences(diffs, sorted(per_seed), [mean_sd(v)[0] for _, v in sorted(per_seed.items())])
    low, high = summary["ci95"]
    seeds = sorted(per_seed)
    interval = (f" [{low:+.2f}, {high:+.2f}] (95 % t-interval over the {len(seeds)} seeds' means)" if low == low
                else " (one seed: no interval, nothing shown)")
    print(f"Over {len(diffs)} task x seed pairs (seeds {', '.join(map(str, seeds))}; per seed, mean over its tasks: "
          f"{', '.join(f'{d:+.2f}' for d in summary['per_seed_mean_over_tasks'])}): mean of the per-seed means "
          f"**{summary['mean']:+.2f}**{interval}; bc better in "
          f"{summary['a_better_pairs']}, single in {summary['b_better_pairs']} pairs.\n")
print("| task | seed | single dev | bc dev | single test | bc test | bc - single (test) |")
print("|---|---:|---:|---:|---:|---:|---:|")
print("\n".join(rows) if rows else "| (no pair has finished) | | | | | | |")
PY
  exit 0
fi
FLAGS="--feature-weighting nb --learning-rate 3e-3 --ngrams 4 --max-features 2000000 --label-smoothing 0.1
       --term-frequency binary --private-learning-rate-multiplier 0.5"
TRAINING="--learning-rate 3e-3 --batch-size 64 --epochs 20 --patience 3"
TASKS=(books electronics dvd kitchen_housewares apparel camera_photo health_personal_care music toys_games video baby
       magazines software sports_outdoors imdb MR)
for task in ${ONLY:-}; do  # checked before any run: an unknown name would hold out nothing
  printf '%s\n' "${TASKS[@]}" | grep -qx -- "$task" || { echo "ngram_transfer.sh: no task $task (tasks: ${TASKS[*]})"; exit 2; }
done
mkdir -p "$OUT" runs/ngram_transfer
for seed in ${SEEDS:-0 1 2}; do
  for task in ${ONLY:-"${TASKS[@]}"}; do
    others=$(printf '%s\n' "${TASKS[@]}" | grep -vx "$task" | paste -sd,)
    src="runs/ngram_transfer/src_no_${task}_seed${seed}"
    for run in "src_no_${task}" "bc_${task}" "single_${task}"; do
      out="$OUT/${run}_seed${seed}.json"
      [ -f "$out" ] && continue
      echo "== $(date -u +%FT%TZ) ${run} seed ${seed}"
      case $run in
        src_no_*) # shellcheck disable=SC2086
          python -m experiments.ngram --dev-only --seed "$seed" $FLAGS --tasks "$others" --output-dir "$src" \
            --results "$out" --verbose 2 || exit 1 ;;
        bc_*) # shellcheck disable=SC2086
          python -m experiments.transfer --source-model "$src/model/model.keras" --task "$task" --mode bc $TRAINING \
            --seed "$seed" --output-dir "runs/ngram_transfer/${run}_seed${seed}" --results "$out" --verbose 2 || exit 1 ;;
        single_*) # shellcheck disable=SC2086
          python -m experiments.ngram --seed "$seed" $FLAGS --tasks "$task" \
            --output-dir "runs/ngram_transfer/${run}_seed${seed}" --results "$out" --verbose 2 || exit 1 ;;
      esac
    done
  done
done
echo "== $(date -u +%FT%TZ) queue finished"
