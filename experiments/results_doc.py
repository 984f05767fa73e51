"""docs/RESULTS.md and README's headline table, from the files under experiments/results/ alone.

Called by ``python -m experiments.tables rebuild`` (never run by hand): the prose here is fixed text that explains
the tables; every number in the page is read from a result file when the page is made.
"""

from __future__ import annotations

import csv
import json
import statistics
from typing import Any

from experiments import best
from experiments.equality import compare
from experiments.result_files import (
    FAMILIES,
    LABELS,
    PAPER_COLUMN,
    PREVIOUS_BEST_LSTM,
    RESULTS,
    load as _load,
    load_previous,
    paper_average,
    plus_minus,
)


def _body(markdown: str) -> str:
    """A generated report without its ``# title``, its own sections moved below this page's (``####``)."""
    lines = markdown.strip().splitlines()
    if lines and lines[0].startswith("# "):
        lines = lines[1:]
    text = "\n".join(lines).strip()
    return "\n".join("#### " + line.lstrip("#").lstrip() if line.startswith("##") else line
                     for line in text.splitlines())


def _listed(values: list[float], digits: int = 1) -> str:
    return " and ".join(f"{v:.{digits}f}" for v in values)


# ------------------------------------------------------------------------------------------------ README
def headline(command: str, runs: dict[str, dict[int, dict[str, Any]]]) -> str:
    """README's short table: the main job, Table 2's means beside the paper's (``runs``: the tables' runs), and the
    best configuration."""
    lines = [f"Made by `{command}`; every figure and how it was made: [docs/RESULTS.md](docs/RESULTS.md).", "",
             "| mean test error over the 16 FDU-MTL tasks, % | ours | paper |", "|---|---:|---:|"]
    main = _load("experiments/results/main_job.json")
    if main:
        lines.append(f"| the main job: ASP-MTL, seed 0, {main['wall_time_s'] / 60:.1f} minutes on 2 CPU cores | "
                     f"{main['avg_test_error']:.2f} | {paper_average('asp_mtl'):.1f} |")
    for family in FAMILIES:
        done = runs.get(family, {})
        if done:
            lines.append(f"| Table 2, {LABELS[family]}, {len(done)} seeds | "
                         f"{plus_minus([r['avg_test_error'] for r in done.values()])} | "
                         f"{paper_average(PAPER_COLUMN[family]):.1f} |")
    chosen = {s: json.loads(best.result_path(s).read_text(encoding="utf-8")) for s in range(10)
              if best.result_path(s).exists()}
    if chosen:
        first = next(iter(chosen.values()))
        what = "the shared/private n-gram model" if best.is_ngram(first) else "an ASP-MTL configuration"
        lines.append(f"| the best configuration chosen on dev ({what}), {len(chosen)} seeds | "
                     f"**{plus_minus([r['avg_test_error'] for r in chosen.values()])}** | – |")
    previous = load_previous(PREVIOUS_BEST_LSTM)
    if previous:
        lines.append(f"| the best LSTM configuration chosen on dev (ASP-MTL, head+tail, confusion, unlabelled rows), "
                     f"{len(previous)} seeds | {plus_minus([r['avg_test_error'] for r in previous.values()])} | – |")
    return "\n".join(lines)


def speed_summary() -> str:
    """README's speed lines, from ``experiments/results/bench_summary.json`` (``python -m experiments.bench_suite``)."""
    bench = _load("experiments/results/bench_summary.json")
    if not bench:
        return "Not measured yet: `python -m experiments.bench_suite` writes `experiments/results/bench_summary.json`."
    f = bench["figures"]
    return (
        f"Measured by `{bench['command']}` (commit `{bench['commit'][:7]}`, {bench['note'] or 'no note'}; every "
        f"figure against its goal: [docs/RESULTS.md](docs/RESULTS.md#speed)): ASP-MTL trains at "
        f"{f['asp_over_plain_b16']:.2f} x plain Keras' examples/s at batch 16, one 16-task epoch takes "
        f"{f['asp_epoch_s']:.0f} s and the main job {f['main_job_s'] / 60:.1f} minutes; the n-gram model trains in "
        f"{f['ngram_train_s']:.0f} s (dev {f['ngram_dev_error']:.2f} %) against scikit-learn's "
        f"{f['sklearn_train_s']:.0f} s (dev {f['sklearn_dev_error']:.2f} %); a served LSTM answers one review in "
        f"{f['serving_lstm_p50_ms']:.2f} ms (p50), the n-gram model in {f['serving_ngram_p50_ms']:.2f} ms.")


def _bench_summary_section() -> list[str]:
    summary = RESULTS / "bench_summary.md"
    if not summary.exists():
        return []
    return ["## Speed", "", "`python -m experiments.bench_suite`: issue 22's figures, each measured beside its anchor "
            "in one run (`experiments/results/bench_summary.json` holds every worker's record).", "",
            summary.read_text(encoding="utf-8").strip(), ""]


# ------------------------------------------------------------------------------------------------ sections
def _refactor_section() -> list[str]:
    before = _load("experiments/results/tables/runs/asp_mtl_seed0.json")
    after = _load("experiments/results/refactor_equality/main_job_after.json")  # the main job when it was done
    steps = _load("experiments/results/bench_refactor_steps.json")
    if not (before and after):
        return []
    same = compare(before, after)
    lines = ["### The same numbers before and after the refactor into the keras-hub shape", "",
             f"The main job right after that refactor (`experiments/results/refactor_equality/main_job_after.json`, "
             f"commit `{after['commit'][:7]}`) and the same settings run before it "
             f"(`experiments/results/tables/runs/asp_mtl_seed0.json`, commit `{before['commit'][:7]}`): tasks whose "
             f"dev error, test error or best epoch differ: {', '.join(same['tasks_differing']) or 'none'} (of {same['tasks']}); "
             f"largest difference over the {same['history_values_compared']} logged epoch values (every loss term "
             f"and metric of every epoch): {same['largest_history_difference']:g} (also `experiments/results/refactor_equality.md`). Their wall times were "
             f"{before['wall_time_s']:.0f} s before and {after['wall_time_s']:.0f} s after."]
    if steps:
        by_api = {api: [r for r in steps["runs"] if r["api"] == api] for api in ("old", "new")}
        old, new = ([r["ms_per_step"] for r in by_api[api]] for api in ("old", "new"))
        lines[-1] += (
            " Training steps of the two code versions, timed alternately on a quiet machine "
            "(`experiments/results/bench_refactor_steps.json`, commands inside; the one-off script is in git "
            f"history), took {_listed(old)} ms a step before (commit `{by_api['old'][0]['commit'][:7]}`) and "
            f"{_listed(new)} ms after (commit `{by_api['new'][0]['commit'][:7]}`)"
            + (": the wall-time gap is the shared machine, not the code." if max(new) <= min(old) else "."))
    redesign = _load("experiments/results/redesign_equality.json")
    if redesign:
        pairs = redesign["pairs"]
        lines += ["", "### The same numbers before and after the House redesign (one Task base, the run in the library)",
                  "", f"`{redesign['command']}`: "
                  + "; ".join(f"{name}, commits `{p['commits'][0][:7]}` and `{p['commits'][1][:7]}`: mean test error "
                              f"{p['avg_test_error'][0]:.2f} and {p['avg_test_error'][1]:.2f} %, largest per-task "
                              f"difference {p['largest_error_difference']:g}, largest epoch-log difference "
                              f"{p['largest_history_difference']:g}" for name, p in pairs.items()) + "."]
    return lines + [""]


def _deterministic_line() -> list[str]:
    bench = _load("experiments/results/bench_deterministic.json")
    if not bench:
        return []
    on = [r["ms_per_step"] for r in bench["runs"] if r["deterministic"]]
    off = [r["ms_per_step"] for r in bench["runs"] if not r["deterministic"]]
    return ["### The cost of `--deterministic`", "",
            f"TensorFlow's op determinism cost {100 * (statistics.mean(on) / statistics.mean(off) - 1):.0f} % more "
            f"time per paper-scale training step on a quiet machine: {_listed(on)} ms against {_listed(off)} ms "
            "without, runs alternated (`experiments/results/bench_deterministic.json`, commands inside).", ""]


def _perturbation_cost() -> str:
    bench = _load("experiments/results/bench_perturbation.json")
    if not bench:
        return ""
    by_kind: dict[str, list[float]] = {}
    for r in bench["runs"]:
        by_kind.setdefault(r["perturbation"], []).append(r["ms_per_step"])
    ratios = {k: [v / base for v, base in zip(by_kind[k], by_kind["none"])] for k in ("adversarial", "virtual")}
    span = {k: f"{min(r):.1f}-{max(r):.1f}x" for k, r in ratios.items()}
    return (f" (a training step costs {span['adversarial']} (AT) / {span['virtual']} (VAT) a plain one, "
            "`experiments/results/bench_perturbation.json`, runs alternated beside one training)")


LEVER_OPTIONS = [
    ("max pooling of the LSTM states (instead of the last one)",
     '`LSTMEncoder(pooling="max")`; encoders `"lstm-max"`, `"bilstm-max"`', "`--encoder lstm-max`"),
    ("which tokens a review longer than `max_length` keeps: the first, the last, or a quarter head + three quarters "
     "tail (Sun et al. 2019)", '`TextVectorizer(truncation="tail")`, `MultiTaskPreprocessor.from_frame(..., '
     'truncation=)`', "`--truncation head+tail`"),
    ("dropout on the features the heads read", "`MultiTaskClassifier(dropout=)`", "`--dropout 0.3`"),
    ("in-domain word vectors: word2vec on the tasks' train + unlabelled text, alone or beside GloVe",
     '`tf_aspmtl.preprocessing.embedding_matrix("glove+word2vec", ...)`',
     "`--embedding glove+word2vec --embedding-dim 150`"),
    ("language-model pretraining of the encoders on train + unlabelled text, then fine-tuning",
     "`tf_aspmtl.training.pretrain_language_model`, `apply_pretrained_encoders`", "`--lm-pretrain-epochs 3`"),
    ("self-training: a dev-selected teacher labels the unlabelled reviews it is sure of, a fresh student trains on "
     "train + those", "`tf_aspmtl.training.pseudo_label`, `teacher_pseudo_labels`", "`--self-training-threshold 0.9`"),
    ("adversarial (AT) or virtual adversarial (VAT) perturbations of the word vectors, Miyato et al. 2017{cost}",
     '`MultiTaskClassifier(embedding_perturbation="adversarial"/"virtual")`',
     "`--embedding-perturbation virtual --unlabeled-fraction 0.25`"),
    ("unlabelled text in the adversary; the confusion objective", '`make_training_dataset(unlabeled=)`; '
     '`adversarial_objective="confusion"`', "`--unlabeled-fraction 0.25`, `--adversarial-objective confusion`"),
    ("another model: the shared/private split in a linear model of word n-grams",
     "`tf_aspmtl.SharedPrivateNgramClassifier`", "`python -m experiments.ngram --dev-only`"),
    ("seed ensembles; ensembles chosen on dev among several configurations (reported apart)",
     "`tf_aspmtl.MultiTaskEnsemble`, `MultiTaskEnsemble.select(candidates, dev_frame)`",
     "`python -m experiments.ensemble`"),
]


def _levers_section(blocks: dict[str, str]) -> list[str]:
    lines = ["## Levers beyond the paper, screened on dev", "",
             "Each lever is a library option. `python -m experiments.tables run levers` screens it first on four "
             "tasks (books, electronics, dvd, kitchen_housewares), `python -m experiments.tables run screen16` on "
             "all 16: the paper-scale ASP-MTL with one change, seeds 0-2, `--dev-only` (the test split is never "
             "read), paired by seed with its baseline. The 4-task screen's winner did not carry over to 16 tasks "
             "(row `4-task winner on 16 tasks`), which is why the 16-task screen exists.", "",
             "| lever | library option | command-line flag |", "|---|---|---|"]
    lines += [f"| {what.format(cost=_perturbation_cost())} | {option} | {flag} |" for what, option, flag in LEVER_OPTIONS]
    if "levers" in blocks:
        lines += ["", "`rebuild` writes `experiments/results/tables/levers.{csv,md}`:", "", _body(blocks["levers"])]
    return lines + [""]


def _best_section(blocks: dict[str, str]) -> list[str]:
    if "best" not in blocks:
        return []
    lines = ["## The best configuration", "",
             "`python -m experiments.tables choose-best` picks it on dev: among the 16-task screen's settings that "
             "finished seeds 0-2, Table 2's ASP-MTL itself and the shared/private n-gram model's 16-task screens "
             "(`python -m experiments.ngram --dev-only`), the one with the lowest mean dev error (to 3 decimals; a "
             "tie keeps the current choice), written to `experiments/configs/best.json` with every candidate's mean "
             "dev error in its `provenance`. `python -m experiments.best` trains it over seeds 0-2 on the 16 tasks "
             "(a seed the screen already trained is copied and only tested), exports it, times serving and scores "
             "the seed ensemble; its files are `experiments/results/best/`.", ""]
    chosen = best.result_path(0)
    if chosen.exists() and best.is_ngram(json.loads(chosen.read_text(encoding="utf-8"))):
        lines += ["The chosen model is the shared/private n-gram model (`tf_aspmtl.SharedPrivateNgramClassifier`): "
                  "logistic regression on sublinear tf-idf of words and word pairs, with one weight matrix shared by "
                  "all tasks and one private to each (Daumé III's feature augmentation: the shared/private split "
                  "with linear encoders). It learns from the labelled train rows only, so it compares fairly with "
                  "the paper's supervised numbers. Its seeds only change the data order (the weights start at zero): "
                  "their spread says the model is stable, not that other data would give the same.", ""]
    previous = _load("experiments/results/best/previous_best_lstm.json")
    if previous:
        lines += ["Earlier best configurations, each replaced when a candidate had a lower mean dev error, were "
                  "ASP-MTL with head+tail truncation, then head+tail + the confusion objective + 25 % unlabelled "
                  "rows in the adversary (the best LSTM configuration, beside the n-gram model below; its figures: "
                  "`experiments/results/best/previous_best_lstm.json`, from the result files of commit "
                  f"`{previous['source_commit'][:7]}`). Their whole result folders are in git history under "
                  "`experiments/results/superseded/`.", ""]
    lines += [_body(blocks["best"]), ""]
    if "ngram" in blocks:
        lines += ["### The n-gram model's screen, paired with the best LSTM configuration", "", _body(blocks["ngram"]),
                  ""]
    return lines


def _length_and_optimiser() -> list[str]:
    files = sorted(RESULTS.glob("runs_asp/*_seed*.json")) + [RESULTS / "speed_asp_mtl_lazy_adam.json",
                                                             RESULTS / "reproduce_asp-mtl.json"]
    runs = [json.loads(p.read_text(encoding="utf-8")) for p in files if p.exists()]
    if not runs:
        return []

    def setting(run: dict[str, Any]) -> tuple[str, int]:  # results from before --optimizer existed used Keras' Adam
        return run["config"].get("optimizer", "adam"), run["config"]["max_length"]

    by_setting: dict[tuple[str, int], list[dict[str, Any]]] = {}
    for r in runs:
        by_setting.setdefault(setting(r), []).append(r)
    groups = {key: {"seeds": sorted(r["config"]["seed"] for r in members),
                    "dev_mean": statistics.mean(r["avg_dev_error"] for r in members),
                    "test_mean": statistics.mean(r["avg_test_error"] for r in members),
                    "dev": plus_minus([r["avg_dev_error"] for r in members]),
                    "test": plus_minus([r["avg_test_error"] for r in members])} for key, members in by_setting.items()}
    names = {"adam": "`keras.optimizers.Adam`", "lazy-adam": "`LazyAdam`"}
    lines = ["## Length cap and optimiser (ASP-MTL, 16 tasks, paper scale)", "",
             "`experiments.train --model asp-mtl --paper-scale` with one setting changed at a time; each run's "
             "command is in its JSON (`experiments/results/runs_asp/`, `speed_asp_mtl_lazy_adam.json`, "
             "`reproduce_asp-mtl.json`). Mean error over the 16 tasks, mean ± sd over seeds, %:", "",
             "| optimiser | length cap | seeds | dev error | test error |", "|---|---:|---|---:|---:|"]
    for (optimizer, length), g in sorted(groups.items(), key=lambda kv: (kv[0][0] != "adam", kv[0][1])):
        lines.append(f"| {names.get(optimizer, optimizer)} | {length} | {', '.join(map(str, g['seeds']))} | "
                     f"{g['dev']} | {g['test']} |")
    adam, lazy = groups.get(("adam", 200)), groups.get(("lazy-adam", 200))
    if adam and lazy:
        every = all(max(r[k] for r in by_setting["lazy-adam", 200]) < min(r[k] for r in by_setting["adam", 200])
                    for k in ("avg_dev_error", "avg_test_error"))
        dev, test = adam["dev_mean"] - lazy["dev_mean"], adam["test_mean"] - lazy["test_mean"]
        lines += ["", f"- LazyAdam against Keras' Adam, same seeds: mean dev error {abs(dev):.2f} points "
                      f"{'lower' if dev > 0 else 'higher'}, mean test error {abs(test):.2f} points "
                      f"{'lower' if test > 0 else 'higher'}"
                  + ("; every LazyAdam seed beat every Adam seed on dev and on test." if every else ".")
                  + " A guess, not tested: with dense Adam every embedding row keeps moving on momentum after its "
                    "words were last seen, so GloVe vectors of words a batch did not contain drift."]
    seed0 = {setting(r)[1]: r for r in runs if setting(r)[0] == "lazy-adam" and r["config"]["seed"] == 0}
    base = seed0.get(200)
    for length in (400, 100):
        other = seed0.get(length)
        if base and other:
            lines.append(f"- A {length}-token cap against 200, seed 0: dev error {other['avg_dev_error']:.2f} against "
                         f"{base['avg_dev_error']:.2f}, for {other['wall_time_s'] / base['wall_time_s']:.1f} times "
                         "the training time.")
    return lines + [""]


BENCH_TARGETS = {"asp-mtl": 0.45, "fs-mtl": 0.9}
"""Training speed goals: examples/s as a share of plain Keras' at the same batch size."""
NAMES = {"plain": "plain Keras", "plain-padded": "plain Keras, padded to 200", "single": "single-task",
         "fs-mtl": "FS-MTL", "sp-mtl": "SP-MTL", "asp-mtl": "ASP-MTL"}


def _speed_section() -> list[str]:
    bench = _load("experiments/results/bench_train.json")
    if not bench:
        return []
    lines = ["## Training speed on 2 CPU cores", "",
             f"`{bench['command']}` trains each model on the same seeded batches of real FDU-MTL text (16 tasks, one "
             "task per batch, length-bucketed, 200-token cap; embedding 50, hidden 100, 30,000 words), each in its "
             "own process, rounds over all models with the fastest kept (`experiments/results/bench_train.json`). "
             "\"plain\" is what a user would write instead, `Sequential([Embedding, LSTM, Dense])` + `fit` with "
             "`keras.optimizers.Adam`, fed the same batches; \"padded to 200\" pads every text as users usually do. "
             f"1-minute load average at the start: {bench['load_average_1_5_15'][0]:.1f}.", "",
             "| model | batch | examples/s | real tokens/s | x plain Keras | peak RSS (MB) | padded/real tokens |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for m in bench["models"]:
        lines.append(f"| {NAMES.get(m['name'], m['name'])} | {m['batch_size']} | {m['examples_per_s']:,.0f} | "
                     f"{m['tokens_per_s']:,.0f} | {m['ratio_to_plain_keras']:.2f} | {m['peak_rss_mb']:,.0f} | "
                     f"{m['padding_ratio']:.2f} |")
    epoch = bench.get("asp_mtl_epoch")
    if epoch:
        lines += ["", f"One full 16-task ASP-MTL epoch at batch {epoch['batch_size']} ({epoch['steps']:,} steps): "
                      f"**{epoch['epoch_s']:.1f} s**."]
    for name, share in BENCH_TARGETS.items():
        ratios = [m["ratio_to_plain_keras"] for m in bench["models"] if m["name"] == name]
        if ratios:
            lines.append(f"- {NAMES[name]} >= {share}x plain Keras: {', '.join(f'{r:.2f}x' for r in ratios)} "
                         f"({'met' if min(ratios) >= share else 'missed'}).")
    ours = [m for m in bench["models"] if not m["name"].startswith("plain")]
    padding, rss = max(m["padding_ratio"] for m in ours), max(m["peak_rss_mb"] for m in ours) / 1024
    lines += [f"- <= 1.25 padded tokens per real token: {padding:.2f} ({'met' if padding <= 1.25 else 'missed'}); "
              f"peak RSS <= 3 GB: {rss:.1f} GB ({'met' if rss <= 3 else 'missed'}).", ""]
    return lines + _profile_section() + _what_made_it_fast(bench)


def _profile_section() -> list[str]:
    profiles = {name: _load(f"experiments/results/profile_asp_mtl_{key}.json")
                for name, key in (("`keras.optimizers.Adam`", "adam"), ("`LazyAdam`", "lazy_adam"))}
    profiles = {k: v for k, v in profiles.items() if v}
    if not profiles:
        return []
    lines = ["### Where a step's time goes", "",
             "`python -m experiments.profile_train` records ASP-MTL training steps with TensorFlow's profiler (the "
             "trace opens in TensorBoard's Profile tab) and sums op time by part of the step into "
             "`experiments/results/profile_asp_mtl_{lazy_adam,adam}.{json,md}` (shares of compute-thread op time):", "",
             "| optimiser | ms a step (wall, under the profiler) | forward | backward | optimiser | BlockLSTM + BlockLSTMGrad |",
             "|---|---:|---:|---:|---:|---:|"]
    for name, p in profiles.items():
        parts, total = p["summary"]["by_part_ms"], p["summary"]["op_ms_total"]
        lstm = sum(op["share"] for op in p["summary"]["top_ops"] if op["op_type"] in ("BlockLSTM", "BlockLSTMGrad"))
        lines.append(f"| {name} | {1000 * p['wall_s'] / p['config']['steps']:.1f} | "
                     + " | ".join(f"{100 * parts[k] / total:.0f} %" for k in ("forward", "backward", "optimizer"))
                     + f" | {100 * lstm:.0f} % |")
    return lines + [""]


def _what_made_it_fast(bench: dict[str, Any]) -> list[str]:
    lazy, adam = _load("experiments/results/speed_asp_mtl_lazy_adam.json"), _load("experiments/results/reproduce_asp-mtl.json")
    before, after = (_load(f"experiments/results/speed_{w}_fused_lstm.json") for w in ("before", "after"))
    padding = {m["name"]: m["padding_ratio"] for m in bench["models"] if m["batch_size"] == 16}
    lines = ["### What made it fast", ""]
    lines.append("- **Sparse embedding updates.** Keras' Adam turns the embedding's sparse gradient dense and rewrites "
                 "all its weights and both moments every step (the optimiser's share above); `LazyAdam` updates only "
                 "the rows a batch used, and `SparseReadEmbedding` gathers rows with the variable's `sparse_read`, "
                 "because after a sparse update every whole-variable read copies the table."
                 + (f" The same paper-scale ASP-MTL run (seed 0) gave mean dev error {lazy['avg_dev_error']:.1f} % and "
                    f"test error {lazy['avg_test_error']:.1f} % in {lazy['wall_time_s']:.0f} s with LazyAdam "
                    "(`speed_asp_mtl_lazy_adam.json`) against "
                    f"{adam['avg_dev_error']:.1f} % and {adam['avg_test_error']:.1f} % in {adam['wall_time_s']:.0f} s "
                    "with Adam (`reproduce_asp-mtl.json`)." if lazy and adam else ""))
    lines.append("- **Thread pools.** 1 intra-op and 2 inter-op threads "
                 "(`tf_aspmtl.runtime.configure_cpu_threads`): small matrix products gain little from two cores, "
                 "while the shared and private LSTMs, which do not depend on each other, run one per core.")
    lines.append("- **Fused LSTM.** The encoders run TensorFlow's `BlockLSTM` kernel (one op for the whole sequence) "
                 "instead of the `tf.while_loop` of small ops that `keras.layers.LSTM` runs on CPU; outputs and "
                 "gradients equal Keras' LSTM to 1e-5 (`tests/test_encoders.py`)."
                 + (f" The same 4-task, 3-epoch ASP-MTL run gave a mean dev error of {before['avg_dev_error']:.1f} % "
                    f"before the change and {after['avg_dev_error']:.1f} % after "
                    "(`speed_{before,after}_fused_lstm.json`)." if before and after else ""))
    lines.append("- **One private encoder per step**, chosen with `tf.switch_case`.")
    if "single" in padding and "plain-padded" in padding:
        lines.append(f"- **Length buckets**: {padding['single']:.2f} padded tokens per real token at batch 16 "
                     f"against {padding['plain-padded']:.2f} when padding to 200.")
    return lines + [""]


def _serving_section() -> list[str]:
    bench = _load("experiments/results/bench_serving.json")
    if not bench:
        return []
    model = bench.get("exported_model", {}).get("model", {})
    lines = ["## Serving speed", "",
             f"`{bench['command']}` times the loaded SavedModel in-process on the {bench['reviews']['count']} real "
             f"{', '.join(bench['reviews']['tasks'])} test reviews (mean {bench['reviews']['mean_whitespace_tokens']:.0f} "
             "words), each variant in its own process, best of the rounds (`experiments/results/bench_serving.json`). "
             f"The export is the 16-task ASP-MTL of the paper's size ({model.get('encoder', '').upper()}, hidden "
             f"{model.get('hidden_dim')}, {model.get('max_length')} tokens, {model.get('vocabulary_size'):,} words) "
             f"trained by `{bench['training_run']['command']}`; 1-minute load average "
             f"{bench['machine_load_average_1min']['before']}.", "",
             "| export | TF threads (intra, inter) | p50, one review | p99 | batch of 64: reviews/s, best round (all rounds) |",
             "|---|---|---:|---:|---:|"]
    for v in bench["variants"]:
        export = (f"length-sorted chunks of {v['chunk_rows']} rows (default)" if v["chunk_rows"]
                  else "whole batch (`--chunk-rows 0`)")
        threads = "TF default" if v["threads"] == "default" else v["threads"].replace(",", ", ")
        rounds = ", ".join(f"{x:,.0f}" for x in v["batch64_reviews_per_s_all_rounds"])
        lines.append(f"| {export} | {threads} | {v['p50_ms']:.1f} ms | {v['p99_ms']:.1f} ms | "
                     f"{v['batch64_reviews_per_s']:,.0f} ({rounds}) |")
    goals = bench.get("goals", {})
    default = [v for v in bench["variants"] if v["chunk_rows"]]
    if goals and default:
        p50, rate = min(v["p50_ms"] for v in default), max(v["batch64_reviews_per_s"] for v in default)
        lines += ["", f"Goals: p50 <= {goals['p50_ms']:g} ms ({'met' if p50 <= goals['p50_ms'] else 'missed'}) and "
                      f">= {goals['batch64_reviews_per_s']:,.0f} reviews/s at batch 64 "
                      f"({'met' if rate >= goals['batch64_reviews_per_s'] else 'missed'} by the best round of the "
                      "default export)."]
    whole = {v["threads"]: v["batch64_reviews_per_s"] for v in bench["variants"] if not v["chunk_rows"]}
    gains = [v["batch64_reviews_per_s"] / whole[v["threads"]] for v in default if v["threads"] in whole]
    if gains:
        lines += ["", "An LSTM runs every row of a batch to the batch's longest text, and reviews run from a few "
                      "tokens to the cap. The serving graph sorts a batch by length and runs it in chunks, each only "
                      "as far as its own longest review, then puts the rows back in order "
                      "(`tf_aspmtl.serving.task_logits`; each row's probabilities are unchanged, "
                      f"`tests/test_serving_chunks.py`): {min(gains):.1f} to {max(gains):.1f} times the whole-batch "
                      "throughput in the same run."]
    sizes = _load("experiments/results/bench_serving_chunk_sizes.json")
    if sizes:
        by_rows = {v["chunk_rows"]: v for v in sizes["variants"]}
        lines[-1] += (" Chunk sizes side by side (`experiments/results/bench_serving_chunk_sizes.json`, best of "
                      f"{len(sizes['batch64_reviews_per_s_all_rounds'])} rounds): "
                      + ", ".join(f"{rows} rows {v['batch64_reviews_per_s']:,.0f} reviews/s"
                                  for rows, v in sorted(by_rows.items())) + ".")
    lines += ["", "TF Serving's request handling and JSON decoding come on top of these in-process figures."]
    return lines + [""]


def _tuning_section() -> list[str]:
    summary = _load("experiments/results/tune_asp_4tasks.json")
    path = RESULTS / "tune_asp_4tasks.csv"
    if not (summary and path.exists()):
        return []
    with path.open(encoding="utf-8") as f:
        trials = [row for row in csv.DictReader(f) if row["status"] == "COMPLETED"]
    acc = {row["trial_id"]: 100 * float(row["objective"]) for row in trials}
    reference = next(row for row in trials if row["is_reference"] == "True")
    others = [acc[row["trial_id"]] for row in trials if row is not reference]
    rank = 1 + sum(a > acc[reference["trial_id"]] for a in acc.values())
    settings = summary["settings"]

    def split(column: str) -> str:
        low = [acc[r["trial_id"]] for r in trials if float(r[column]) < 0.1]
        high = [acc[r["trial_id"]] for r in trials if float(r[column]) >= 0.1]
        return f"{statistics.mean(low):.1f} % / {statistics.mean(high):.1f} % on average ({len(low)} / {len(high)} trials)"

    at_last = sum(int(float(r["best_epoch"])) == settings["epochs"] for r in trials)
    lines = ["## A search of lambda and gamma against the paper's choice", "",
             f"`{summary['command']}`: {settings['tuner']} search of lambda and gamma (both 1e-3 .. 1, log scale) for "
             f"ASP-MTL on {len(settings['tasks'])} tasks, small but real settings ({', '.join(settings['fix'])}, "
             f"{settings['max_length']} tokens, batch {settings['batch_size']}, {settings['epochs']} epochs, seed "
             f"{settings['seed']}); dev accuracy only, test never read. Files: `experiments/results/tune_asp_4tasks"
             ".{csv,png,best.json,json}`. That search did not give every trial the same data order (trials of one "
             "process read one `tf.data` object, reshuffled on each new iterator); `experiments.tune` now builds the "
             "stream afresh for every trial. These figures are from the old search.", "",
             "![dev accuracy against lambda and gamma](../experiments/results/tune_asp_4tasks.png)", "",
             "| | mean dev accuracy over the tasks |", "|---|---:|",
             f"| the paper's point, lambda {float(reference['adversarial_weight']):g}, gamma "
             f"{float(reference['difference_weight']):g} (trial {reference['trial_id']}) | "
             f"**{acc[reference['trial_id']]:.1f} %**, rank {rank} of {len(trials)} |",
             f"| the other {len(others)} trials | {min(others):.1f} .. {max(others):.1f} % |",
             f"| trials with lambda < 0.1 / >= 0.1 | {split('adversarial_weight')} |",
             f"| trials with gamma < 0.1 / >= 0.1 | {split('difference_weight')} |", "",
             f"{at_last} of the {len(trials)} trials had their best dev accuracy at the last epoch: the search ranks "
             "how fast the settings learn in a few epochs, not where they converge."]
    seeds = _load("experiments/results/tune_asp_4tasks_seeds.json")
    if seeds:
        configs = seeds["configs"]
        all_seeds = sorted({r["seed"] for c in configs.values() for r in c["runs"]})
        lines += ["", "Retrained with more seeds under the same settings (`experiments/results/tune_asp_4tasks_seeds"
                      ".json`, commands inside), mean dev accuracy %:", "",
                  "| | " + " | ".join(f"seed {s}" for s in all_seeds) + " | mean ± sd |",
                  "|---|" + "---:|" * (len(all_seeds) + 1)]
        for name, c in configs.items():
            by_seed = {r["seed"]: 100 * r["val_mean_task_accuracy"] for r in c["runs"]}
            hp = c["hyperparameters"]
            lines.append(f"| {name}: lambda {hp['adversarial_weight']:.3f}, gamma {hp['difference_weight']:.3f} | "
                         + " | ".join(f"{by_seed[s]:.1f}" if s in by_seed else "–" for s in all_seeds)
                         + f" | {100 * c['mean']:.1f} ± {100 * c['sd']:.1f} |")
        diff = seeds["paired_difference_trial09_minus_paper_points"]
        lines += ["", f"Paired difference (trial 09 − paper): {diff['mean']:+.1f} ± {diff['sd']:.1f} points over "
                      f"{len(diff['per_seed'])} seeds."]
    return lines + [""]


OTHER_FILES = [
    ("table2_reproduction.{json,md,png}", "an earlier one-seed reproduction of Table 2 with Keras' dense Adam "
                                          "(by `experiments/reproduce.py`, in git history)"),
    ("reproduce_{single,fs-mtl,sp-mtl,asp-mtl}.{json,md}", "the runs of that reproduction"),
    ("extend_asp-mtl_confusion_unlabeled.{json,md}", "ASP-MTL with the confusion objective and unlabelled rows, one "
                                                     "seed"),
    ("rerun_equality_*.md", "Table 2 runs retrained with later code for the feature analysis: the same numbers"),
    ("tables/runs/*.{json,md}", "every run of the tables, with its command, commit, versions and epoch history"),
    ("paper/", "the paper's Tables 2 and 3 as printed"),
]


def main_job_block(results: dict[str, Any]) -> str:
    """The main job's paragraph: its command, mean test error beside the paper's, best epoch and wall time."""
    return (
        f"`{results['command']}` (commit `{results['commit'][:12]}`; the file is "
        f"`experiments/results/main_job.json`): mean test error **{results['avg_test_error']:.2f} %** "
        f"(paper's ASP-MTL: {paper_average('asp_mtl'):.1f}; dev {results['avg_dev_error']:.2f} %), best epoch "
        f"{next(iter(results['per_task'].values()))['best_epoch']}, **{results['wall_time_s'] / 60:.1f} minutes** "
        f"of wall time on this 2-core machine (threads intra {results.get('threads', {}).get('intra_op')}, inter "
        f"{results.get('threads', {}).get('inter_op')}"
        + (f"; 1-minute load average at the end {results['load_average_1m']:.1f}" if "load_average_1m" in results
           else "") + ")."
    )


def results_markdown(blocks: dict[str, str], command: str) -> str:
    """The whole of docs/RESULTS.md (``blocks``: the generated tables and reports, by name)."""
    main = _load("experiments/results/main_job.json")
    lines = ["# Results", "",
             f"Generated by `{command}` from the files under `experiments/results/`; do not edit by hand (the prose "
             "is in `experiments/results_doc.py`). Each section names its files and the commands that made them. "
             "Errors are %, lower is better, means over the tasks; dev chose every epoch and setting, test was only "
             "reported. \"This machine\" is a shared 2-core CPU machine.", ""]
    if main:
        lines += ["## The main job", "", "`python -m experiments.train`: the paper-scale ASP-MTL on all 16 tasks.", "",
                  main_job_block(main), ""] + _refactor_section() + _deterministic_line()
    if "table2" in blocks:
        lines += ["## The paper's Table 2 over seeds", "",
                  "`python -m experiments.tables run table2 ablations` trains every family and every ablation of "
                  "ASP-MTL with seeds 0, 1 and 2, one `experiments.train` process at a time (the library's defaults: "
                  "LazyAdam 1e-3, hidden 100, 200 tokens, GloVe 6B 50-d, batch 16, at most 15 epochs, patience 3); "
                  "it skips finished runs and resumes a killed one. Runs of one seed share initial weights and data "
                  "order, so families are compared paired: per seed and task, then a mean with its 95 % interval "
                  "over the seed x task pairs.", "", _body(blocks["table2"]), "",
                  "![test error per task, ours and the paper's](../experiments/results/tables/table2.png)", ""]
    if "ablations" in blocks:
        lines += ["## Ablations of ASP-MTL", "", "The same settings and seeds, paired against ASP-MTL.", "",
                  _body(blocks["ablations"]), ""]
    if "table3" in blocks:
        lines += ["## Transfer to a held-out task (the paper's Table 3)", "",
                  "`python -m experiments.tables run table3` trains, for each of the 16 tasks, SP-MTL and ASP-MTL on "
                  "the other 15, then `python -m experiments.transfer --source-model ... --task <task> --mode sc|bc` "
                  "on the held-out task (its train split; dev chooses the epoch; test reports).", "",
                  _body(blocks["table3"]), "",
                  "![transfer, ours and the paper's](../experiments/results/tables/table3.png)", ""]
    analysis = RESULTS / "analysis.md"
    if analysis.exists():
        lines += ["## Do the adversarial and difference terms change the features?", "",
                  "`python -m experiments.analysis --pair SEED SP.keras ASP.keras` probes frozen features of same-seed "
                  "SP-MTL and ASP-MTL 16-task models: a fresh logistic-regression probe of the task on the shared "
                  "feature (and on the private one), the model's own discriminator, and the mean |cosine| between "
                  "shared and private features, then paired differences over seeds; for test reviews where the two "
                  "disagree it shows the words whose removal moves each feature most "
                  "(`experiments/results/analysis_words.png`). Its report, `experiments/results/analysis.md`:", "",
                  _body(analysis.read_text(encoding="utf-8")), ""]
    lines += _levers_section(blocks) + _best_section(blocks)
    for pool, intro in (("lstm", "Among the 16-task LSTM models the tables trained (`python -m "
                                 "experiments.select_ensembles`; `experiments/results/ensemble_selection/`):"),
                        ("with-ngram", "With the n-gram model and the best LSTM configuration among the candidates "
                                       "(`--pool with-ngram`; `experiments/results/ensemble_selection_with_ngram/`):")):
        if f"ensemble-selection-{pool}" in blocks:
            if pool == "lstm" or "ensemble-selection-lstm" not in blocks:
                lines += ["## Ensembles chosen on dev (reported apart)", "",
                          "`python -m experiments.ensemble --select-on-dev --candidate A.keras ...` lets dev choose "
                          "members and weights among trained models.", ""]
            lines += [intro, "", _body(blocks[f"ensemble-selection-{pool}"]), ""]
    lines += _length_and_optimiser() + _speed_section() + _serving_section() + _tuning_section()
    lines += _bench_summary_section()
    lines += ["## Other result files", "", "Under `experiments/results/`:", ""]
    lines += [f"- `{name}`: {what}." for name, what in OTHER_FILES]
    return "\n".join(lines).rstrip() + "\n"
