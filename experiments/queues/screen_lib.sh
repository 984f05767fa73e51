# Sourced by the screen queues: run_screen runs, one at a time, every setting of ORDER (or of ${ONLY}, some of its
# settings, space-separated; flags in the associative array FLAGS) for each seed of ${SEEDS:-0 1 2} (seed-major, so early seeds complete whole comparisons first)
# whose result file is missing; a killed run resumes from its run folder when the queue is started again.
#   run_screen NAME "COMMAND AND FIXED FLAGS"
# writes experiments/results/NAME/<setting>_seed<S>.json from the run folder runs/NAME/<setting>_seed<S>.
run_screen() {
  local screen=$1 command=$2 seed name out
  for name in ${ONLY:-"${ORDER[@]}"}; do  # every name checked before the first run
    [ -n "${FLAGS[$name]+set}" ] || { echo "run_screen: no setting $name in $screen (settings: ${ORDER[*]})"; exit 2; }
  done
  for seed in ${SEEDS:-0 1 2}; do
    for name in ${ONLY:-"${ORDER[@]}"}; do
      out="experiments/results/${screen}/${name}_seed${seed}.json"
      [ -f "$out" ] && continue
      echo "== $(date -u +%FT%TZ) ${name} seed ${seed}"
      # shellcheck disable=SC2086
      python -m $command --seed "$seed" ${FLAGS[$name]} --output-dir "runs/${screen}/${name}_seed${seed}" \
        --results "$out" --verbose 2 || exit 1
    done
  done
  echo "== $(date -u +%FT%TZ) queue finished"
}
