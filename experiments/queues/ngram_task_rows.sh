#!/bin/bash
# Issue 22: the n-gram model after its private kernel became per-(n-gram, task) rows (task_sparse_matmul: a step
# reads and updates only its batch's tasks' rows; before, it updated every task's columns of the batch's n-grams,
# moving absent tasks' weights by Adam's momentum). Dev only, 16 tasks, paired by seed with the runs of the code
# before: tfidf against experiments/results/ngram_batch/b64_lr1e-3_seed<S>.json, nb against
# experiments/results/ngram_levers/nb_seed<S>.json. The earlier layout moved an absent task's private weights of the
# batch's n-grams by Adam's momentum at every step, which acts like a larger private learning rate; the _lr2 and _lr3
# settings (learning rate 2e-3, 3e-3) ask whether the new layout wants a larger one (chosen on dev). nb_lr3_self09:
# the chosen configuration with self-training at 0.9 (issue 24), paired with nb_lr3. Then, paired with nb_lr3_self09
# (chosen on dev after it): self08 and self095 (the teacher's threshold 0.8, 0.95), tri (n-grams of up to 3 words,
# 500,000 kept) and 400k (400,000 n-grams of up to 2 words). Then tri (trigrams without self-training, paired
# with nb_lr3) and self08_tri (both levers that won on dev, paired with self09_tri). Then, paired with self08_tri
# (the best configuration since): self07_tri and self06_tri (thresholds 0.7, 0.6), self08_tri1m (1,000,000
# n-grams), self08_tri_all (every n-gram of the train split: 3,000,000 allowed, 2,547,328 there) and
# self08_tri_pseudofeat (the student's features learnt from train + its pseudo-labelled rows), self08_tri_drop03
# and _drop05 (dropout on the features, 0.3 and 0.5), then _drop02 (0.2); and self08_tri1m_drop03 (1,000,000 n-grams
# and dropout 0.3, paired with self08_tri1m). Then (issue 24) self08_tri1m_cpu2: the best configuration rerun, to pair
# with on whatever CPU the next runs get (the same seed repeats exactly only on the same kind of CPU), and
# self08_tri1m_tasknb: its private weights reading features scaled by their task's own NB ratios, paired with _cpu2;
# then self08_tri1m_ls01 and _ls02: label smoothing 0.1, 0.2 (teacher and student), nb_lr5_self08_tri1m: learning rate 5e-3, and
# self08x2_tri1m: two rounds of self-training (the student labels the unlabelled reviews again), each paired with _cpu2;
# then self08_tri1m_ls01_priv05 and _priv2: the private weights' learning rate 0.5 and 2 times the shared weights'
# (--private-learning-rate-multiplier), and self075_tri1m_ls01 and self07_tri1m_ls01 (the teacher's threshold 0.75,
# 0.7: label smoothing leaves it less sure), self08_tri1m_ls01_binary (binarised counts, --term-frequency binary) and
# self08_tri1m_ls01_nbs05 (NB ratios smoothed by 0.5, --nb-smoothing), each paired with self08_tri1m_ls01 (the best
# configuration since); then _nbs2 (smoothing 2), paired with it too, and _binary_nbs2 (both), paired with _binary.
# Then self075_tri1m_ls01_binary_priv05: the two levers nearest a gain on ls01 together, on _binary, paired with it;
# then, paired with that (the best configuration since), _priv025 (the private rate x 0.25) and
# self075_quad2m_ls01_binary_priv05 (n-grams of up to 4 words, 2,000,000 kept); then, paired with that (the best
# configuration since), _char5w015 and _char5w03: character 2-5-grams beside the words (--character-ngrams 5), at
# 0.15 and 0.3 of the words' weight (issue 24's lead in the scikit-learn anchor, experiments/lead_char_ngrams.py);
# then, paired with quad2m too, quad4m and quint4m: n-grams of up to 4 and 5 words, 4,000,000 kept (quad2m hit its cap).
# Then quad2m_..._cpu3: the best configuration rerun on the Intel Xeon of session 32 (paired with quad2m), to pair
# the next settings with. Then (session 35) _s35: the best configuration rerun by that session's code (_cpu3 ran
# before d8d1c65 dropped unlabelled edited copies of dev and test reviews: seed 0 keeps 4,832 pseudo-labelled rows
# against 4,834), paired with _cpu3; and paired with it:
# _pw05 (the pseudo-labelled rows weigh half a labelled row in the
# student's loss, --pseudo-label-weight 0.5), _pwconf (each weighs the teacher's margin 2c - 1,
# --pseudo-label-weighting confidence) and self06_..._pwconf (that, with the threshold lowered to 0.6); and _pwbal
# and self09_..._pwbal: every pseudo-labelled row above the threshold (0.75, 0.9), each class weighing in total as
# the task's rarest (--pseudo-label-balance weights).
# Every setting is NgramConfig's defaults plus its flags (the queue reads no config file, so a later best.json
# changes nothing here).
#   nohup bash experiments/queues/ngram_task_rows.sh > runs/ngram_task_rows.log 2>&1 &
#   bash experiments/queues/ngram_task_rows.sh --summary   # the paired table (experiments/results/ngram_task_rows/summary.md)
set -u
cd "$(dirname "$0")/../.."
source experiments/queues/screen_lib.sh
if [ "${1:-}" = "--summary" ]; then
  python - <<'PY'
import json
from pathlib import Path

from experiments.ngram_screens import SCREEN_BASELINES
from experiments.provenance import cpu_kind
from tf_aspmtl.analysis import mean_sd

HERE = Path("experiments/results/ngram_task_rows")
BEFORE = {"tfidf": "experiments/results/ngram_batch/b64_lr1e-3_seed{}.json",
          "nb": "experiments/results/ngram_levers/nb_seed{}.json"}
AGAINST_CODE_BEFORE = ("tfidf", "tfidf_lr2", "tfidf_lr3", "nb", "nb_lr2", "nb_lr3")
# Every later setting is paired with the one it changes one thing of: experiments.ngram_screens.SCREEN_BASELINES.
PAIRED_WITH = {name[len("rows_"):]: base[len("rows_"):] for name, base in SCREEN_BASELINES.items()
               if name.startswith("rows_") and name[len("rows_"):] not in AGAINST_CODE_BEFORE}
partners: dict[str, list[str]] = {}
for name, partner in PAIRED_WITH.items():
    partners.setdefault(partner, []).append(name)
pairs = "; ".join(f"{', '.join(names)}: {partner}" for partner, names in partners.items())
print("# The n-gram model with per-task private rows: against the code before (issue 22), then its levers (issue 24)\n")
print("Made by `bash experiments/queues/ngram_task_rows.sh --summary` from `experiments/results/ngram_task_rows/*.json` "
      "(each file holds its command). Dev error % (16 tasks, test not read), same seed and data order; "
      "difference = setting - the run it is paired with, negative = better: for tfidf* and nb* (lr 1e-3 to 3e-3) the "
      f"same setting on the code before; for the later settings the setting they change one thing of ({pairs}). "
      "The last column names each run's kind of CPU (the `machine` field of each file; not recorded by the earlier runs): the best configuration's rerun on an Intel Xeon (_cpu3) repeats every task's dev error of its AMD EPYC runs, seed for seed. Training seconds are each run's `training_wall_time_s` "
      "(dev evaluation and the per-epoch training state included; other jobs may have shared the machine: the "
      "speed figure is `experiments.bench_suite`'s).\n")
print("| setting | seed | dev, paired run | dev | difference | best epoch, paired / this | training s, paired / this | CPU, paired / this |")
print("|---|---|---:|---:|---:|---|---|---|")
for name in (*AGAINST_CODE_BEFORE, *PAIRED_WITH):
    partner = PAIRED_WITH.get(name)
    before = str(HERE / f"{partner}_seed{{}}.json") if partner else BEFORE[name.split("_")[0]]
    diffs = []
    for seed in (0, 1, 2):
        after_path, before_path = HERE / f"{name}_seed{seed}.json", Path(before.format(seed))
        if not (after_path.exists() and before_path.exists()):
            continue
        a, b = (json.loads(p.read_text()) for p in (after_path, before_path))
        diffs.append(a["avg_dev_error"] - b["avg_dev_error"])
        print(f"| {name} | {seed} | {b['avg_dev_error']:.2f} | {a['avg_dev_error']:.2f} | {diffs[-1]:+.2f} | "
              f"{b['best_epoch']} / {a['best_epoch']} | {b['training_wall_time_s']:.0f} / {a['training_wall_time_s']:.0f} | "
              f"{cpu_kind(b.get('machine', {}))} / {cpu_kind(a.get('machine', {}))} |")
    if diffs:
        mean, sd = mean_sd(diffs)
        print(f"| {name} | mean of {len(diffs)} | | | {mean:+.2f}" + (f" ± {sd:.2f}" if len(diffs) > 1 else "") + " | | | |")
PY
  exit 0
fi
# Each setting's flags: experiments.ngram_screens.SCREEN_SETTINGS["rows_<setting>"] (written once, there; choose-best reads it).
declare -A FLAGS
while IFS=$'\t' read -r name flags; do FLAGS[$name]=$flags; done < <(python -c '
from experiments.ngram_screens import SCREEN_SETTINGS
for name, flags in SCREEN_SETTINGS.items():
    if name.startswith("rows_"):
        print(name[len("rows_"):], " ".join(flags), sep="\t")' 2>/dev/null)
[ ${#FLAGS[@]} -gt 0 ] || { echo "ngram_task_rows.sh: could not read the settings from experiments.ngram"; exit 2; }
ORDER=(tfidf nb tfidf_lr3 nb_lr3 tfidf_lr2 nb_lr2 nb_lr3_self09 nb_lr3_self08 nb_lr3_self095 nb_lr3_self09_tri nb_lr3_self09_400k nb_lr3_tri nb_lr3_self08_tri
       nb_lr3_self07_tri nb_lr3_self06_tri nb_lr3_self08_tri_pseudofeat nb_lr3_self08_tri1m
       nb_lr3_self08_tri_all nb_lr3_self08_tri_drop03 nb_lr3_self08_tri_drop05
       nb_lr3_self08_tri_drop02 nb_lr3_self08_tri1m_drop03 nb_lr3_self08_tri1m_cpu2 nb_lr3_self08_tri1m_tasknb
       nb_lr3_self08_tri1m_ls01 nb_lr5_self08_tri1m nb_lr3_self08x2_tri1m nb_lr3_self08_tri1m_ls02
       nb_lr3_self08_tri1m_ls01_priv05 nb_lr3_self08_tri1m_ls01_priv2 nb_lr3_self075_tri1m_ls01
       nb_lr3_self07_tri1m_ls01 nb_lr3_self08_tri1m_ls01_binary nb_lr3_self08_tri1m_ls01_nbs05
       nb_lr3_self08_tri1m_ls01_nbs2 nb_lr3_self08_tri1m_ls01_binary_nbs2
       nb_lr3_self075_tri1m_ls01_binary_priv05 nb_lr3_self075_tri1m_ls01_binary_priv025
       nb_lr3_self075_quad2m_ls01_binary_priv05 nb_lr3_self075_quad2m_ls01_binary_priv05_char5w015
       nb_lr3_self075_quad2m_ls01_binary_priv05_char5w03 nb_lr3_self075_quad4m_ls01_binary_priv05
       nb_lr3_self075_quint4m_ls01_binary_priv05 nb_lr3_self075_quad2m_ls01_binary_priv05_cpu3
       nb_lr3_self075_quad2m_ls01_binary_priv05_s35
       nb_lr3_self075_quad2m_ls01_binary_priv05_pw05 nb_lr3_self075_quad2m_ls01_binary_priv05_pwconf
       nb_lr3_self06_quad2m_ls01_binary_priv05_pwconf nb_lr3_self075_quad2m_ls01_binary_priv05_pwbal
       nb_lr3_self09_quad2m_ls01_binary_priv05_pwbal)
run_screen ngram_task_rows "experiments.ngram --dev-only"
