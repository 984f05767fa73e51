"""docs/RESULTS.md and README's generated blocks, from the files under experiments/results/ alone.

Called by ``python -m experiments.tables rebuild`` (never run by hand). The pages' prose is in
``experiments/templates/`` (``RESULTS.md``, ``readme_headline.md``, ``readme_speed.md``); their placeholders read the
result files directly, or the blocks here: what needs computing (means over seeds, paired comparisons, table rows).
"""

from __future__ import annotations

import csv
import json
import statistics
from typing import Any

from experiments import best
from experiments.equality import compare
from experiments.markdown_template import render, with_contents
from experiments.provenance import REPO_ROOT
from experiments.result_files import (
    FAMILIES,
    LABELS,
    PAPER_COLUMN,
    PREVIOUS_BEST_LSTM,
    RESULTS,
    load_previous,
    paper_average,
    plus_minus,
)
from experiments.speed_gaps import speed_gaps, speed_reruns

TEMPLATES = REPO_ROOT / "experiments" / "templates"
BENCH_TARGETS = {"asp-mtl": 0.45, "fs-mtl": 0.9}
"""Training speed goals: examples/s as a share of plain Keras' at the same batch size."""
NAMES = {"plain": "plain Keras", "plain-padded": "plain Keras, padded to 200", "single": "single-task",
         "fs-mtl": "FS-MTL", "sp-mtl": "SP-MTL", "asp-mtl": "ASP-MTL"}


def _json(relative: str) -> Any:
    return json.loads((RESULTS / relative).read_text(encoding="utf-8"))


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


def _met(ok: bool) -> str:
    return "met" if ok else "missed"


# ------------------------------------------------------------------------------------------------ README
def headline(command: str, runs: dict[str, dict[int, dict[str, Any]]]) -> str:
    """README's short table: the main job, Table 2's means beside the paper's (``runs``: the tables' runs; then those
    under the dev-chosen protocol with head+tail truncation, issue 23: the last that protocol's screens chose; the
    one before it is in RESULTS), and the best configurations."""
    def best_runs() -> dict[str, Any]:
        chosen = [json.loads(p.read_text(encoding="utf-8")) for p in map(best.result_path, range(10)) if p.exists()]
        return {"model": "the shared/private n-gram model" if best.is_ngram(chosen[0]) else "an ASP-MTL configuration",
                "seeds": len(chosen), "test_error": plus_minus([r["avg_test_error"] for r in chosen])}

    def previous_best_lstm() -> dict[str, Any]:
        previous = load_previous(PREVIOUS_BEST_LSTM)
        return {"seeds": len(previous), "test_error": plus_minus([r["avg_test_error"] for r in previous.values()])}

    rows = [f"| Table 2, {LABELS[f]}, {len(runs[f])} seeds | {plus_minus([r['avg_test_error'] for r in runs[f].values()])}"
            f" | {paper_average(PAPER_COLUMN[f]):.1f} |" for f in FAMILIES if runs.get(f)]
    rows += [f"| Table 2 under the dev-chosen protocol (word2vec 200-d, up to 30 epochs, head+tail), {LABELS[f]}, "
             f"{len(runs[f + '_w2v_ht'])} seeds | "
             f"{plus_minus([r['avg_test_error'] for r in runs[f + '_w2v_ht'].values()])} "
             f"| {paper_average(PAPER_COLUMN[f]):.1f} |" for f in FAMILIES if runs.get(f + "_w2v_ht")]
    return render(TEMPLATES / "readme_headline.md", RESULTS, {
        "command": command, "paper": _paper, "table2_rows": "\n".join(rows), "best_runs": best_runs,
        "previous_best_lstm": previous_best_lstm})


def speed_summary() -> str:
    """README's speed lines, from ``experiments/results/bench_summary.json`` (``python -m experiments.bench_suite``)."""
    return render(TEMPLATES / "readme_speed.md", RESULTS)


# ------------------------------------------------------------------------------------------------ blocks
def _paper() -> dict[str, float]:
    return {column: paper_average(column) for column in PAPER_COLUMN.values()}


def _refactor_equality() -> dict[str, Any]:
    same = compare(_json("tables/runs/asp_mtl_seed0.json"), _json("refactor_equality/main_job_after.json"))
    return {**same, "tasks_differing": ", ".join(same["tasks_differing"]) or "none"}


def _refactor_steps() -> dict[str, Any]:
    runs = {api: [r for r in _json("bench_refactor_steps.json")["runs"] if r["api"] == api] for api in ("old", "new")}
    old, new = ([r["ms_per_step"] for r in runs[api]] for api in ("old", "new"))
    return {"old": _listed(old), "new": _listed(new), "old_commit": runs["old"][0]["commit"],
            "new_commit": runs["new"][0]["commit"],
            "machine_gap": max(new) <= min(old)}


def _redesign_pairs() -> str:
    pairs = _json("redesign_equality.json")["pairs"]
    return "; ".join(f"{name}, commits `{p['commits'][0][:7]}` and `{p['commits'][1][:7]}`: mean test error "
                     f"{p['avg_test_error'][0]:.2f} and {p['avg_test_error'][1]:.2f} %, largest per-task difference "
                     f"{p['largest_error_difference']:g}, largest epoch-log difference "
                     f"{p['largest_history_difference']:g}" for name, p in pairs.items())


def _deterministic() -> dict[str, Any]:
    runs = _json("bench_deterministic.json")["runs"]
    on = [r["ms_per_step"] for r in runs if r["deterministic"]]
    off = [r["ms_per_step"] for r in runs if not r["deterministic"]]
    return {"extra_percent": 100 * (statistics.mean(on) / statistics.mean(off) - 1), "on": _listed(on),
            "off": _listed(off)}


def _perturbation_cost() -> dict[str, str]:
    by_kind: dict[str, list[float]] = {}
    for r in _json("bench_perturbation.json")["runs"]:
        by_kind.setdefault(r["perturbation"], []).append(r["ms_per_step"])
    ratios = {k: [v / base for v, base in zip(by_kind[k], by_kind["none"])] for k in ("adversarial", "virtual")}
    return {k: f"{min(r):.1f}-{max(r):.1f}x" for k, r in ratios.items()}


def _optimiser_runs() -> dict[tuple[str, int], list[dict[str, Any]]]:
    """ASP-MTL paper-scale runs by (optimiser, length cap); results from before --optimizer existed used Adam."""
    files = sorted(RESULTS.glob("runs_asp/*_seed*.json")) + [RESULTS / "speed_asp_mtl_lazy_adam.json",
                                                             RESULTS / "reproduce_asp-mtl.json"]
    by_setting: dict[tuple[str, int], list[dict[str, Any]]] = {}
    for run in (json.loads(p.read_text(encoding="utf-8")) for p in files):
        by_setting.setdefault((run["config"].get("optimizer", "adam"), run["config"]["max_length"]), []).append(run)
    return by_setting


def _optimiser_rows() -> str:
    names = {"adam": "`keras.optimizers.Adam`", "lazy-adam": "`LazyAdam`"}
    groups = sorted(_optimiser_runs().items(), key=lambda kv: (kv[0][0] != "adam", kv[0][1]))  # Adam first
    return "\n".join(
        f"| {names.get(optimizer, optimizer)} | {length} | "
        f"{', '.join(map(str, sorted(r['config']['seed'] for r in runs)))} | "
        f"{plus_minus([r['avg_dev_error'] for r in runs])} | {plus_minus([r['avg_test_error'] for r in runs])} |"
        for (optimizer, length), runs in groups)


def _lazy_vs_adam() -> dict[str, Any]:
    """LazyAdam against Adam at 200 tokens over the seeds both have (the page says "same seeds")."""
    by_setting = _optimiser_runs()
    adam, lazy = ({r["config"]["seed"]: r for r in by_setting[optimizer, 200]} for optimizer in ("adam", "lazy-adam"))
    seeds = sorted(set(adam) & set(lazy))
    if not seeds:
        raise ValueError("no seed has both an Adam and a LazyAdam run at 200 tokens")
    adam, lazy = [adam[s] for s in seeds], [lazy[s] for s in seeds]
    figures: dict[str, Any] = {}
    for key, name in (("avg_dev_error", "dev"), ("avg_test_error", "test")):
        gain = statistics.mean(r[key] for r in adam) - statistics.mean(r[key] for r in lazy)
        figures.update({name: abs(gain), f"{name}_direction": "lower" if gain > 0 else "higher"})
    every = all(max(r[k] for r in lazy) < min(r[k] for r in adam) for k in ("avg_dev_error", "avg_test_error"))
    return {**figures, "every_seed_better": every}


def _held_out_repeats() -> dict[str, int]:
    """Unlabelled reviews the best configuration's seed-0 run dropped as repeats of a dev or test review, its
    ``self_training.dropped_repeats_of_dev_or_test`` summed over the tasks: now (exact or edited copies) and in the
    run that dropped exact repeats only."""
    def dropped(relative: str) -> int:
        return sum(_json(relative)["self_training"]["dropped_repeats_of_dev_or_test"].values())

    now, exact = dropped("best/best_seed0.json"), dropped("best/previous_exact_repeats/best_seed0.json")
    return {"now": now, "exact": exact, "edited": now - exact}


def _cap_time_ratio() -> dict[str, float]:
    base = _json("speed_asp_mtl_lazy_adam.json")["wall_time_s"]
    return {str(n): _json(f"runs_asp/maxlen{n}_lazy-adam_seed0.json")["wall_time_s"] / base for n in (400, 100)}


def _train_speed_rows() -> str:
    return "\n".join(f"| {NAMES.get(m['name'], m['name'])} | {m['batch_size']} | {m['examples_per_s']:,.0f} | "
                     f"{m['tokens_per_s']:,.0f} | {m['ratio_to_plain_keras']:.2f} | {m['peak_rss_mb']:,.0f} | "
                     f"{m['padding_ratio']:.2f} |" for m in _json("bench_train.json")["models"])


def _train_speed_goals() -> str:
    models = _json("bench_train.json")["models"]
    lines = []
    for name, share in BENCH_TARGETS.items():
        ratios = [m["ratio_to_plain_keras"] for m in models if m["name"] == name]
        lines.append(f"- {NAMES[name]} >= {share}x plain Keras: {', '.join(f'{r:.2f}x' for r in ratios)} "
                     f"({_met(min(ratios) >= share)}).")
    ours = [m for m in models if not m["name"].startswith("plain")]
    padding, rss = max(m["padding_ratio"] for m in ours), max(m["peak_rss_mb"] for m in ours) / 1024
    lines.append(f"- <= 1.25 padded tokens per real token: {padding:.2f} ({_met(padding <= 1.25)}); "
                 f"peak RSS <= 3 GB: {rss:.1f} GB ({_met(rss <= 3)}).")
    return "\n".join(lines)


def _profile_rows() -> str:
    lines = []
    for name, key in (("`keras.optimizers.Adam`", "adam"), ("`LazyAdam`", "lazy_adam")):
        p = _json(f"profile_asp_mtl_{key}.json")
        parts, total = p["summary"]["by_part_ms"], p["summary"]["op_ms_total"]
        lstm = sum(op["share"] for op in p["summary"]["top_ops"] if op["op_type"] in ("BlockLSTM", "BlockLSTMGrad"))
        lines.append(f"| {name} | {1000 * p['wall_s'] / p['config']['steps']:.1f} | "
                     + " | ".join(f"{100 * parts[k] / total:.0f} %" for k in ("forward", "backward", "optimizer"))
                     + f" | {100 * lstm:.0f} % |")
    return "\n".join(lines)


def _serving_rows() -> str:
    lines = []
    for v in _json("bench_serving.json")["variants"]:
        export = (f"length-sorted chunks of {v['chunk_rows']} rows (default)" if v["chunk_rows"]
                  else "whole batch (`--chunk-rows 0`)")
        threads = "TF default" if v["threads"] == "default" else v["threads"].replace(",", ", ")
        rounds = ", ".join(f"{x:,.0f}" for x in v["batch64_reviews_per_s_all_rounds"])
        lines.append(f"| {export} | {threads} | {v['p50_ms']:.1f} ms | {v['p99_ms']:.1f} ms | "
                     f"{v['batch64_reviews_per_s']:,.0f} ({rounds}) |")
    return "\n".join(lines)


def _serving_goals() -> dict[str, str]:
    bench = _json("bench_serving.json")
    default = [v for v in bench["variants"] if v["chunk_rows"]]
    return {"p50": _met(min(v["p50_ms"] for v in default) <= bench["goals"]["p50_ms"]),
            "throughput": _met(max(v["batch64_reviews_per_s"] for v in default)
                               >= bench["goals"]["batch64_reviews_per_s"])}


def _chunk_gain() -> dict[str, float]:
    variants = _json("bench_serving.json")["variants"]
    whole = {v["threads"]: v["batch64_reviews_per_s"] for v in variants if not v["chunk_rows"]}
    gains = [v["batch64_reviews_per_s"] / whole[v["threads"]]
             for v in variants if v["chunk_rows"] and v["threads"] in whole]
    return {"min": min(gains), "max": max(gains)}


def _chunk_sizes() -> str:
    by_rows = {v["chunk_rows"]: v for v in _json("bench_serving_chunk_sizes.json")["variants"]}
    return ", ".join(f"{rows} rows {v['batch64_reviews_per_s']:,.0f} reviews/s" for rows, v in sorted(by_rows.items()))


def _tuning() -> dict[str, Any]:
    with (RESULTS / "tune_asp_4tasks.csv").open(encoding="utf-8") as f:
        trials = [row for row in csv.DictReader(f) if row["status"] == "COMPLETED"]
    acc = {row["trial_id"]: 100 * float(row["objective"]) for row in trials}
    reference = next(row for row in trials if row["is_reference"] == "True")
    others = [acc[row["trial_id"]] for row in trials if row is not reference]

    def split(column: str) -> str:
        low = [acc[r["trial_id"]] for r in trials if float(r[column]) < 0.1]
        high = [acc[r["trial_id"]] for r in trials if float(r[column]) >= 0.1]
        return (f"{statistics.mean(low):.1f} % / {statistics.mean(high):.1f} % on average "
                f"({len(low)} / {len(high)} trials)")

    epochs = _json("tune_asp_4tasks.json")["settings"]["epochs"]
    return {"lambda": float(reference["adversarial_weight"]), "gamma": float(reference["difference_weight"]),
            "trial": reference["trial_id"], "accuracy": acc[reference["trial_id"]],
            "rank": 1 + sum(a > acc[reference["trial_id"]] for a in acc.values()), "trials": len(trials),
            "others": len(others), "others_min": min(others), "others_max": max(others),
            "lambda_split": split("adversarial_weight"), "gamma_split": split("difference_weight"),
            "at_last_epoch": sum(int(float(r["best_epoch"])) == epochs for r in trials)}


def _tuning_seeds_table() -> str:
    configs = _json("tune_asp_4tasks_seeds.json")["configs"]
    seeds = sorted({r["seed"] for c in configs.values() for r in c["runs"]})
    lines = ["| | " + " | ".join(f"seed {s}" for s in seeds) + " | mean ± sd |", "|---|" + "---:|" * (len(seeds) + 1)]
    for name, c in configs.items():
        by_seed = {r["seed"]: 100 * r["val_mean_task_accuracy"] for r in c["runs"]}
        hp = c["hyperparameters"]
        lines.append(f"| {name}: lambda {hp['adversarial_weight']:.3f}, gamma {hp['difference_weight']:.3f} | "
                     + " | ".join(f"{by_seed[s]:.1f}" if s in by_seed else "–" for s in seeds)
                     + f" | {100 * c['mean']:.1f} ± {100 * c['sd']:.1f} |")
    return "\n".join(lines)


SINGLE_PROTOCOL_FACTORS = {"w2v200": "in-domain word2vec, 200-d (train + unlabelled text)", "long": "30 epochs, patience 5",
                           "lr1e-2": "learning rate 1e-2", "adam": "Keras Adam instead of LazyAdam",
                           "dropout05": "dropout 0.5"}


SINGLE_PROTOCOL_2_FACTORS = {"adagrad": "Adagrad, learning rate 0.1", "adagrad_lr1e-2": "Adagrad, learning rate 0.01",
                             "uniform": "uniform [-0.1, 0.1] initialisation", "frozen": "frozen GloVe vectors",
                             "w2v200_frozen": "frozen in-domain word2vec, 200-d"}


SINGLE_PROTOCOL_3_FACTORS = {
    "combo": "the four that helped together: word2vec 200-d, 30 epochs / patience 5, learning rate 1e-2, Adam",
    "combo_drop": "the same and dropout 0.5",
    "w2v_long": "word2vec 200-d, 30 epochs / patience 5 (today's LazyAdam at 1e-3)"}


def _cpu(run: dict) -> str | None:
    """The CPU model a run file records (None before runs recorded it)."""
    return (run.get("machine") or {}).get("cpu_model")


def _protocol_rows(folder_name: str, factors: dict[str, str], references: dict[str, str] | None = None) -> str:
    """A single-task protocol screen: each factor's dev error per seed and its paired gain over the screen's own
    ``base`` runs, or over the setting ``references`` names for it (same seed, same machine), rows only for runs
    that exist."""
    folder = RESULTS / folder_name
    runs = {p.stem: json.loads(p.read_text(encoding="utf-8")) for p in folder.glob("*_seed*.json")}
    rows = []
    for name, what in [("base", "today's single-task protocol (base)"), *factors.items()]:
        dev = [runs[f"{name}_seed{s}"]["avg_dev_error"] for s in (0, 1, 2) if f"{name}_seed{s}" in runs]
        if not dev:
            continue
        reference = (references or {}).get(name, "base")
        pairs = [(runs[f"{reference}_seed{s}"], runs[f"{name}_seed{s}"]) for s in (0, 1, 2)
                 if f"{name}_seed{s}" in runs and f"{reference}_seed{s}" in runs]
        # A seed's numbers may follow the CPU's kernels: a pair known to have run on two CPU models is left out
        # (runs from before the record, without one, are kept).
        same_cpu = [(a, b) for a, b in pairs if None in (_cpu(a), _cpu(b)) or _cpu(a) == _cpu(b)]
        gains = [a["avg_dev_error"] - b["avg_dev_error"] for a, b in same_cpu]
        other = (f"; {len(pairs) - len(same_cpu)} seed(s) of {reference} ran on another CPU, left out"
                 if len(same_cpu) < len(pairs) else "")
        gain = ("–" if name == "base" else
                f"no {reference} run of its seeds on the same CPU yet{other}" if not gains
                else f"{plus_minus(gains)} ({sum(g > 0 for g in gains)} of {len(gains)} seeds better{other})")
        rows.append(f"| {what} | {' / '.join(f'{d:.2f}' for d in dev)} | {plus_minus(dev)} | {gain} |")
    return "\n".join(rows) or "| – | no run has finished yet | – | – |"


SINGLE_PROTOCOL_4_FACTORS = {
    "w2v_long": "word2vec 200-d, 30 epochs / patience 5 (the dev-chosen protocol), first 200 tokens",
    "w2v_long_ht": "the same, first and last tokens (head+tail)",
    "ht": "today's single-task protocol, head+tail"}
SINGLE_PROTOCOL_4_REFERENCES = {"w2v_long_ht": "w2v_long"}
"""The fourth screen pairs head+tail with the same setting without it."""


WIDE_DEEP_SETTINGS = {"wd": "wide path at the deep path's rate", "wd_wide03": "wide path at 0.3 x that rate",
                      "wd_wide3": "wide path at 3 x that rate", "wd_wide10": "wide path at 10 x that rate",
                      "wd_wide10_nb": "wide path at 10 x that rate, NB-scaled n-grams",
                      "wd_wide10_nb_vat": "the same, with VAT on the word vectors"}


def _wide_deep_rows() -> str:
    """Issue 24's wide-and-deep screen: dev error per seed beside the n-gram model's dev-only run of the same seed."""
    rows = []
    for name, what in WIDE_DEEP_SETTINGS.items():
        cells, diffs = [], []
        for seed in (0, 1, 2):
            ours, ngram = RESULTS / "wide_deep_screen" / f"{name}_seed{seed}.json", RESULTS / "ngram" / f"sp_ngram_dev_seed{seed}.json"
            if ours.exists() and ngram.exists():
                a, b = (json.loads(f.read_text(encoding="utf-8"))["avg_dev_error"] for f in (ours, ngram))
                cells.append(f"seed {seed}: {a:.2f} (n-gram {b:.2f}, {a - b:+.2f})")
                diffs.append(a - b)
        if cells:
            rows.append(f"| {name} | {what} | {'; '.join(cells)} | {plus_minus(diffs)} |")
    return "\n".join(rows) or "| – | no run has finished yet | – | – |"


def _temperatures() -> dict[str, str]:
    """Per calibrated model (``calibration.json``): the range of its tasks' dev-fitted temperatures, and how many
    are below 1 (a temperature below 1 sharpens: the raw probabilities were under-confident)."""
    ranges = {}
    for name, model in _json("calibration.json")["models"].items():
        t = [task["temperature"] for task in model["per_task"].values()]
        ranges[name] = f"{min(t):.2f} to {max(t):.2f} ({sum(x < 1 for x in t)} of {len(t)} tasks below 1)"
    return ranges


def _adversary_sweep() -> str:
    """Issue 23's adversary sweep: its table (``python -m experiments.adversary_sweep``), once a run has finished."""
    table = RESULTS / "adversary_sweep" / "table.md"
    if not table.exists():
        return "No run of the sweep has been probed yet."
    return _body(table.read_text(encoding="utf-8"))


def results_markdown(blocks: dict[str, str], command: str) -> str:
    """The whole of docs/RESULTS.md (``blocks``: the generated tables and reports, by name)."""
    reports = {name: (lambda text=text: _body(text)) for name, text in blocks.items()}
    return with_contents(render(TEMPLATES / "RESULTS.md", RESULTS, {
        **reports, "command": command, "paper": _paper, "refactor_equality": _refactor_equality,
        "refactor_steps": _refactor_steps, "redesign_pairs": _redesign_pairs, "deterministic": _deterministic,
        "perturbation_cost": _perturbation_cost,
        "analysis": lambda: _body((RESULTS / "analysis.md").read_text(encoding="utf-8")),
        "adversary_sweep": _adversary_sweep, "temperatures": _temperatures, "speed_gaps": speed_gaps, "speed_reruns": speed_reruns,
        "best_is_ngram": lambda: best.is_ngram(json.loads(best.result_path(0).read_text(encoding="utf-8"))),
        "optimiser_rows": _optimiser_rows, "lazy_vs_adam": _lazy_vs_adam, "held_out_repeats": _held_out_repeats, "cap_time_ratio": _cap_time_ratio,
        "train_speed_rows": _train_speed_rows, "train_speed_goals": _train_speed_goals, "padding_at_16": lambda: {
            m["name"]: m["padding_ratio"] for m in _json("bench_train.json")["models"] if m["batch_size"] == 16},
        "profile_rows": _profile_rows, "serving_rows": _serving_rows, "serving_goals": _serving_goals,
        "chunk_gain": _chunk_gain, "chunk_sizes": _chunk_sizes, "tuning": _tuning,
        "tuning_seeds_table": _tuning_seeds_table, "single_protocol_rows": lambda: _protocol_rows("single_protocol", SINGLE_PROTOCOL_FACTORS),
        "single_protocol_2_rows": lambda: _protocol_rows("single_protocol_2", SINGLE_PROTOCOL_2_FACTORS),
        "single_protocol_3_rows": lambda: _protocol_rows("single_protocol_3", SINGLE_PROTOCOL_3_FACTORS),
        "single_protocol_4_rows": lambda: _protocol_rows("single_protocol_4", SINGLE_PROTOCOL_4_FACTORS,
                                                         SINGLE_PROTOCOL_4_REFERENCES),
        "wide_deep_rows": _wide_deep_rows,
        "ngram_batch": lambda: _body((RESULTS / "ngram_batch" / "summary.md").read_text(encoding="utf-8")),
        "ngram_levers": lambda: _body((RESULTS / "ngram_levers" / "summary.md").read_text(encoding="utf-8")),
        "ngram_task_rows": lambda: _body((RESULTS / "ngram_task_rows" / "summary.md").read_text(encoding="utf-8")),
        "ngram_transfer": lambda: _body((RESULTS / "ngram_transfer" / "summary.md").read_text(encoding="utf-8"))}))
