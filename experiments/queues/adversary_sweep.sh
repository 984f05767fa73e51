#!/bin/bash
# Issue 23, "a fair chance for the adversary": with lambda 0.05 and gradient reversal a fresh linear probe reads the
# task from ASP-MTL's shared features better than from SP-MTL's. Does a shared space the probe cannot read (near
# chance, 6.25 % for 16 tasks) give lower test error than one it can? Settings (flags of experiments.train; written
# once, in experiments.adversary_sweep.SETTINGS, read from there below):
#   sp           --model sp-mtl                                 the reference every setting is paired with by seed
#   asp          --model asp-mtl                                lambda 0.05, the paper's reversal (today's default)
#   asp_l03      --model asp-mtl --adversarial-weight 0.3
#   asp_l1       --model asp-mtl --adversarial-weight 1
#   conf_l03     ... --adversarial-weight 0.3 --adversarial-objective confusion
#   conf_l1      ... --adversarial-weight 1 --adversarial-objective confusion
#   asp_l1_s01   ... --adversarial-weight 1 --gradient-reversal-scale 0.1   the discriminator learns at full weight,
#                                                                         the encoder gets 0.1 of the reversed gradient
#   asp_l1_warm  ... --adversarial-weight 1 --reversal-warmup-epochs 5     the reversal warmed up (Ganin et al. 2016)
#   asp_mem      --model asp-mtl --discriminator-memory 256     the discriminator also learns from 256 recent shared
#                                                               rows of every task (a batch holds one task)
#   asp_l03_mem  ... --adversarial-weight 0.3 --discriminator-memory 256
#   conf_l03_mem ... --adversarial-weight 0.3 --adversarial-objective confusion --discriminator-memory 256
#   asp_mm10     --model asp-mtl --discriminator-memory 256 --mean-matching-weight 10   each task's mean shared
#                                                               feature pulled to the other tasks' (memory rows)
#   asp_mm100    ... --mean-matching-weight 100
#   asp_mm1000   ... --mean-matching-weight 1000   (added after seed 0 of mm10 and mm100 left the probe above 10 %)
#   asp_proj     --model asp-mtl --shared-mean-projection   the tasks' mean differences projected out of the shared
#                                                           feature (TaskMeanProjection), added when no setting above
#   sp_proj      --model sp-mtl --shared-mean-projection    left the probe <= 10 %; sp_proj without an adversary
# All 16 tasks, the epoch chosen on dev, test read once at the end (not --dev-only: the question is test error).
# Run from a checkout (or a worktree at a fixed commit):
#   nohup bash experiments/queues/adversary_sweep.sh > runs/adversary_sweep.log 2>&1 &
#   SEEDS="0" bash experiments/queues/adversary_sweep.sh      # some seeds only (default: 0 1 2), seed-major
#   ONLY="sp asp_l1_warm" bash experiments/queues/adversary_sweep.sh      # some settings only
# Each run writes experiments/results/adversary_sweep/<name>_seed<S>.json when it finishes; a finished run is
# skipped and a killed one resumes from its run folder (runs/adversary_sweep/<name>_seed<S>), so the same command
# continues the queue in a later session. One run at a time (2 cores; a 16-task run took 8-9 minutes of training in
# experiments/results/tables/runs, so the 42 runs take about 7 hours).
# The table (probe and discriminator accuracy on the shared features, test error, each paired with sp), from every
# finished run; rerun it as runs finish (it probes only new runs):
#   python -m experiments.adversary_sweep     # writes experiments/results/adversary_sweep/table.{md,csv}
set -u
cd "$(dirname "$0")/../.."
source experiments/queues/screen_lib.sh
declare -A FLAGS
ORDER=()
while IFS=$'\t' read -r name flags; do FLAGS[$name]=$flags; ORDER+=("$name"); done < <(
  python -m experiments.adversary_sweep --print-settings)
[ ${#ORDER[@]} -gt 0 ] || { echo "adversary_sweep.sh: could not read the settings from experiments.adversary_sweep"; exit 2; }
run_screen adversary_sweep "experiments.train"
