#!/bin/bash
# Issue 23, first screen: the single-task baseline's protocol, factor by factor, dev only, paired by seed.
# Run from a checkout (or a worktree at a fixed commit):  nohup bash experiments/queues/single_protocol.sh > runs/single_protocol.log 2>&1 &
# Each run writes experiments/results/single_protocol/<name>_seed<S>.json when it finishes; a finished run is
# skipped and a killed one resumes from its run folder (runs/single_protocol/<name>_seed<S>), so the same command
# continues the queue in a later session. One run at a time (2 cores).
set -u
cd "$(dirname "$0")/../.."
source experiments/queues/screen_lib.sh
declare -A FLAGS=(
  [base]=""
  [w2v200]="--embedding word2vec --embedding-dim 200"
  [lr1e-2]="--learning-rate 0.01"
  [dropout05]="--dropout 0.5"
  [long]="--epochs 30 --patience 5"
  [adam]="--optimizer adam"
)
ORDER=(base w2v200 lr1e-2 dropout05 long adam)
run_screen single_protocol "experiments.train --model single --dev-only"
