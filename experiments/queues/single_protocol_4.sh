#!/bin/bash
# Issue 23, fourth screen: does head+tail truncation close more of the single-task gap? The dev-chosen single-task
# protocol of the third screen (single_protocol_3.sh: "w2v_long", in-domain word2vec 200-d, 30 epochs with patience
# 5) keeps the first 200 tokens of a longer review; head+tail keeps its first and last tokens instead (where reviews
# tend to give their verdict), which lowered ASP-MTL's dev error by 0.76 points (s16_head_tail against asp_mtl in
# experiments/configs/best.json's screen). "w2v_long_ht" is w2v_long with --truncation head+tail, paired by seed with
# w2v_long rerun on this screen's CPU kind (a seed's numbers depend on the CPU's vector instructions; the third
# screen ran on a CPU without AVX-512). "base" and "ht" (today's baseline, with and without head+tail) come after
# them, to show the factor alone. Dev only.
# Run from a checkout (or a worktree at a fixed commit):  nohup bash experiments/queues/single_protocol_4.sh > runs/single_protocol_4.log 2>&1 &
# Each run writes experiments/results/single_protocol_4/<name>_seed<S>.json when it finishes; a finished run is
# skipped and a killed one resumes from its run folder (runs/single_protocol_4/<name>_seed<S>), so the same command
# continues the queue in a later session. One run at a time (2 cores). SEEDS="0" or ONLY="w2v_long" run some only.
set -u
cd "$(dirname "$0")/../.."
source experiments/queues/screen_lib.sh
W2V_LONG="--embedding word2vec --embedding-dim 200 --epochs 30 --patience 5"
declare -A FLAGS=(
  [w2v_long]="$W2V_LONG"
  [w2v_long_ht]="$W2V_LONG --truncation head+tail"
  [base]=""
  [ht]="--truncation head+tail"
)
ORDER=(w2v_long w2v_long_ht base ht)
run_screen single_protocol_4 "experiments.train --model single --dev-only"
