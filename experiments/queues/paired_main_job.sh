#!/bin/bash
# A change that alters arithmetic, judged paired: the main job at two commits, same seeds, same data order.
#   git worktree add --detach ../before <commit>; git worktree add --detach ../after <commit>
#   nohup bash experiments/queues/paired_main_job.sh NAME ../before ../after > runs/NAME.log 2>&1 &
# Each run writes experiments/results/NAME/{before,after}_seed<S>.json in its own checkout (the file names no
# absolute path), copied into this checkout when it finishes; a finished run is skipped and a killed one resumes
# from its run folder, so the same command continues in a later session. One run at a time (2 cores). Judge on
# dev (the test errors are reported, never used to choose).
set -u
# The checkouts are read from the caller's folder, before moving to this one; a path that is not a folder stops the
# queue (an empty one would make `cd` a no-op: that side would run this checkout's code).
name=$1; before=$(cd "$2" && pwd) || exit 2; after=$(cd "$3" && pwd) || exit 2; results=experiments/results/$name
cd "$(dirname "$0")/../.."
mkdir -p "$results"
for seed in ${SEEDS:-0 1 2}; do
  for side in before after; do
    out="$results/${side}_seed${seed}.json"
    [ -f "$out" ] && continue
    checkout=$before; [ "$side" = after ] && checkout=$after
    echo "== $(date -u +%FT%TZ) $side seed $seed ($(git -C "$checkout" rev-parse --short HEAD))"
    (cd "$checkout" && mkdir -p "$results" && python -m experiments.train --seed "$seed" \
      --output-dir "runs/$name/${side}_seed${seed}" --results "$out" --verbose 2) || exit 1
    if [ "$checkout" != "$(pwd)" ]; then  # copied here; a copy that fails stops the queue
      { cp "$checkout/${out%.json}.md" "$results/" && cp "$checkout/$out" "$out"; } || exit 1
    fi
  done
done
echo "== $(date -u +%FT%TZ) queue finished"
