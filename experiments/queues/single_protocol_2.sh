#!/bin/bash
# Issue 23, second screen: the single-task baseline's protocol options the library gained after the first screen
# (single_protocol.sh): Adagrad at the paper's two learning rates, the paper's uniform [-0.1, 0.1] initialisation,
# and frozen word vectors (the default 50-d GloVe, and the in-domain 200-d word2vec of the first screen's w2v200).
# Each factor alone on today's baseline, dev only, paired by seed with this screen's own base runs: the single-task
# family now seeds every task's model alike (a restarted run retrains a task exactly), so the first screen's base
# runs (single_protocol/base_seed<S>) differ from today's baseline in every task but the first.
# Run from a checkout (or a worktree at a fixed commit):  nohup bash experiments/queues/single_protocol_2.sh > runs/single_protocol_2.log 2>&1 &
# Each run writes experiments/results/single_protocol_2/<name>_seed<S>.json when it finishes; a finished run is
# skipped and a killed one resumes from its run folder (runs/single_protocol_2/<name>_seed<S>), so the same command
# continues the queue in a later session. One run at a time (2 cores). SEEDS="0" runs only those seeds.
set -u
cd "$(dirname "$0")/../.."
source experiments/queues/screen_lib.sh
declare -A FLAGS=(
  [base]=""
  [adagrad]="--optimizer adagrad --learning-rate 0.1"
  [adagrad_lr1e-2]="--optimizer adagrad --learning-rate 0.01"
  [uniform]="--initializer uniform"
  [frozen]="--freeze-embeddings"
  [w2v200_frozen]="--embedding word2vec --embedding-dim 200 --freeze-embeddings"
)
ORDER=(base adagrad adagrad_lr1e-2 uniform frozen w2v200_frozen)
run_screen single_protocol_2 "experiments.train --model single --dev-only"
