"""Do the adversarial and difference terms change the features? And which words move them?

    python -m experiments.analysis \\
        --pair 0 runs/tables/sp_mtl_seed0/model/model.keras runs/tables/asp_mtl_rerun_seed0/model/model.keras \\
        --pair 1 runs/tables/sp_mtl_seed1/model/model.keras runs/tables/asp_mtl_rerun_seed1/model/model.keras \\
        --pair 2 runs/tables/sp_mtl_seed2/model/model.keras runs/tables/asp_mtl_rerun_seed2/model/model.keras

Each ``--pair SEED SP_PATH ASP_PATH`` is an SP-MTL and an ASP-MTL model
trained with the same seed (16 FDU-MTL tasks). For each model, on frozen features
(:func:`tf_aspmtl.analysis.feature_statistics`):

* **task readability of the shared space**: a fresh linear probe (logistic
  regression, fixed ``--probe-seed``) learns the task of a review from its
  shared feature on training reviews (the same first ``--probe-rows`` per task
  for every model) and is scored on the test reviews; chance is 1/16. A
  task-invariant shared space gives a low score. The same probe on the
  private feature is the reference: a task-specific space should read well.
* **the model's own discriminator** accuracy on the test reviews (ASP-MTL).
* **orthogonality**: mean |cosine| between each test review's shared and
  private feature (0 = orthogonal).

Reported per seed, as mean +- sd over seeds, and as the paired difference
ASP - SP per seed with its mean and a 95 % t-interval over the seeds.

Then, on the FIRST pair only, the paper's qualitative point: test reviews
where the two models disagree and ASP-MTL is right, and for a few of them the
words that move the shared and the private feature most (occlusion: the
distance a feature moves when the word is removed). Writes
``<output>.{json,md}`` and ``<output>_words.png`` (default
``experiments/results/analysis``); ``--replot`` redraws the PNG from the JSON.
Test rows are only read to report, never to fit anything.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Any

import keras
import numpy as np

from experiments.provenance import REPO_ROOT, command_line, provenance, write_atomic, write_json
from tf_aspmtl.analysis import feature_statistics, occlusion, plot_occlusion, t_interval95
from tf_aspmtl.data import load_fdu_mtl

logger = logging.getLogger("experiments.analysis")
RESULTS = REPO_ROOT / "experiments" / "results"
SP, ASP = "sp-mtl", "asp-mtl"
WORDS_TITLE = ("Words that move each feature most when removed (darker = larger move); SP-MTL vs ASP-MTL disagree, "
               "ASP-MTL right")
LABELS = {SP: "SP-MTL", ASP: "ASP-MTL"}
# Statistic of one model -> (markdown column, display scale, display format, unit of a difference).
METRICS = {
    "test_error": ("test error %", 1, ".2f", "points"),
    "probe_task_accuracy_shared": ("probe on shared: task accuracy %", 100, ".1f", "pp"),
    "probe_task_accuracy_private": ("probe on private: task accuracy %", 100, ".1f", "pp"),
    "discriminator_accuracy": ("discriminator accuracy %", 100, ".1f", "pp"),
    "mean_abs_cosine_shared_private": ("mean abs cosine(shared, private)", 1, ".3f", ""),
}


def model_statistics(model, name: str, train, test, tasks: list[str], probe_seed: int):
    """:func:`tf_aspmtl.analysis.feature_statistics` of one model, whose tasks must be ``tasks``."""
    if list(model.task_names) != list(tasks):
        raise ValueError(f"{name} has tasks {model.task_names}; expected {tasks} (those of the first model)")
    entry, predictions = feature_statistics(model, train, test, probe_seed, name=name)
    logger.info("%s: %s", name, {k: v for k, v in entry.items() if k in METRICS})
    return entry, predictions


def spread(values) -> dict[str, Any]:
    """Mean, sample sd (None for one value) and n of ``values``."""
    v = np.asarray(values, dtype=float)
    return {"mean": float(v.mean()), "sd": float(v.std(ddof=1)) if len(v) > 1 else None, "n": int(len(v))}


def paired_interval(differences) -> dict[str, Any]:
    """Per-seed differences, their mean and sd, and the 95 % t-interval of the mean over seeds (None for n < 2)."""
    out = {"per_seed": [float(d) for d in differences], **spread(differences), "over": "seeds"}
    out["ci95"] = list(t_interval95(differences)) if out["n"] > 1 else None
    return out


def summarise(pairs: list[dict[str, Any]]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Mean +- sd over seeds of each model's statistics, and the paired ASP - SP differences."""
    aggregate = {name: {key: spread([p[name][key] for p in pairs]) for key in METRICS
                        if all(key in p[name] for p in pairs)} for name in (SP, ASP)}
    keys = [key for key in METRICS if all(key in p["asp_minus_sp"] for p in pairs)]
    return aggregate, {key: paired_interval([p["asp_minus_sp"][key] for p in pairs]) for key in keys}


def qualitative(models, predictions, test, n_examples: int, png: Path) -> dict[str, Any]:
    """Disagreements of one pair, and occlusion attributions of the shortest reviews ASP-MTL gets right."""
    truth = test["label"].to_numpy()
    differ = predictions[SP] != predictions[ASP]
    wins = np.flatnonzero(differ & (predictions[ASP] == truth))
    examples = []
    for i in sorted(wins, key=lambda i: len(test["text"].iloc[i])):
        if len(examples) >= 2 * n_examples:
            break
        row = test.iloc[i]
        found = [(name, *occlusion(models[name], row["text"], row["task"])) for name in (SP, ASP)]
        if all(words for _, words, _, _ in found):
            examples += [{"model": name, "task": row["task"], "label": int(row["label"]), "words": words,
                          "shared_occlusion": s.tolist(), "private_occlusion": p.tolist()}
                         for name, words, s, p in found]
    if examples:
        plot_occlusion(examples, png, WORDS_TITLE)
    losses = np.flatnonzero(differ & (predictions[SP] == truth))
    return {"disagreements": {"asp_right": int(len(wins)), "sp_right": int(len(losses))}, "examples": examples}


def parse_args(argv: list[str] | None) -> tuple[argparse.Namespace, list[tuple[int, str, str]]]:
    """The arguments, and the (seed, SP path, ASP path) pairs of ``--pair``."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--pair", nargs=3, action="append", metavar=("SEED", "SP_PATH", "ASP_PATH"),
                   help="an SP-MTL and an ASP-MTL .keras model trained with seed SEED (once per seed)")
    p.add_argument("--replot", action="store_true", help="only redraw the word plot from <output>.json")
    p.add_argument("--probe-rows", type=int, default=400, help="training reviews per task for the probe")
    p.add_argument("--probe-seed", type=int, default=0, help="random_state of every probe")
    p.add_argument("--examples", type=int, default=4, help="reviews shown in the qualitative part (first pair)")
    p.add_argument("--data-dir")
    p.add_argument("--output", default=str(RESULTS / "analysis"), help="output prefix")
    args = p.parse_args(argv)
    if args.replot:
        return args, []
    if not args.pair:
        p.error("--pair SEED SP_PATH ASP_PATH is required (once per seed)")
    pairs = []
    for seed, sp_path, asp_path in args.pair:
        try:
            pairs.append((int(seed), sp_path, asp_path))
        except ValueError:
            p.error(f"--pair SEED must be an integer; got {seed!r}")
    seeds = [seed for seed, _, _ in pairs]
    if len(set(seeds)) != len(seeds):
        p.error(f"each --pair needs its own seed; got seeds {seeds}")
    return args, pairs


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    args, given = parse_args(argv)
    if args.replot:
        plot_occlusion(json.loads(Path(f"{args.output}.json").read_text())["examples"], f"{args.output}_words.png",
                       WORDS_TITLE)
        return 0
    report: dict[str, Any] = provenance(command_line("experiments.analysis", argv))
    pairs: list[dict[str, Any]] = []
    tasks = train = test = None
    for i, (seed, sp_path, asp_path) in enumerate(given):
        logger.info("pair %d/%d, seed %s: loading %s and %s", i + 1, len(given), seed, sp_path, asp_path)
        models = {SP: keras.models.load_model(sp_path, safe_mode=True),
                  ASP: keras.models.load_model(asp_path, safe_mode=True)}
        if tasks is None:
            tasks = list(models[SP].task_names)
            data = load_fdu_mtl(args.data_dir, tasks=tasks, splits=("train", "test"))
            train = data[data["split"] == "train"].groupby("task", sort=False).head(args.probe_rows)
            test = data[data["split"] == "test"]
        entry: dict[str, Any] = {"seed": seed}
        predictions = {}
        for name, path in ((SP, sp_path), (ASP, asp_path)):
            stats, predictions[name] = model_statistics(models[name], f"seed {seed} {name}", train, test, tasks,
                                                        args.probe_seed)
            entry[name] = {"path": str(path), **stats}
        entry["asp_minus_sp"] = {k: entry[ASP][k] - entry[SP][k] for k in METRICS if k in entry[SP] and k in entry[ASP]}
        pairs.append(entry)
        if i == 0:
            logger.info("qualitative part on the first pair (seed %s)", seed)
            report["qualitative_seed"] = seed
            report.update(qualitative(models, predictions, test, args.examples, Path(f"{args.output}_words.png")))
        del models
    report["models"] = [{"seed": s, SP: str(sp), ASP: str(asp)} for s, sp, asp in given]
    report["chance"] = 1.0 / len(tasks)
    report["probe"] = {"train_rows_per_task": args.probe_rows, "train_rows": int(len(train)),
                       "test_rows": int(len(test)), "seed": args.probe_seed, "tasks": tasks}
    report["pairs"] = pairs
    report["aggregate"], report["paired_differences"] = summarise(pairs)
    write_json(Path(f"{args.output}.json"), report)
    write_atomic(Path(f"{args.output}.md"), markdown(report))
    print(markdown(report))
    return 0


def _fmt(key: str, value: float | None, signed: bool = False) -> str:
    if value is None:
        return "–"
    _, scale, fmt, _ = METRICS[key]
    return format(scale * value, ("+" if signed else "") + fmt)


def verdict(report: dict[str, Any]) -> list[str]:
    """Sentences read off the paired intervals: did ASP-MTL's terms change the shared space?"""
    sp, asp = report["pairs"][0][SP], report["pairs"][0][ASP]
    if sp["difference_weight"] == asp["difference_weight"]:
        terms = f"adversarial term (lambda = {asp['adversarial_weight']:g})"
    else:
        terms = (f"adversarial and difference terms (lambda = {asp['adversarial_weight']:g}, gamma = "
                 f"{asp['difference_weight']:g}; SP-MTL: lambda = {sp['adversarial_weight']:g}, gamma = "
                 f"{sp['difference_weight']:g})")
    claims = {"probe_task_accuracy_shared": ("lowered the shared space's task readability",
                                             "raised the shared space's task readability",
                                             "did not measurably change the shared space's task readability",
                                             "the probe's task accuracy on shared features"),
              "mean_abs_cosine_shared_private": ("lowered mean |cos(shared, private)| (more orthogonal)",
                                                 "raised mean |cos(shared, private)| (less orthogonal)",
                                                 "did not measurably change mean |cos(shared, private)|",
                                                 "mean |cos|")}
    lines = []
    for key, (lower, higher, same, what) in claims.items():
        d = report["paired_differences"].get(key)
        if d is None:
            continue
        unit = f" {METRICS[key][3]}" if METRICS[key][3] else ""
        if d["ci95"] is None:
            lines.append(f"With one pair there is no interval over seeds: no claim on {what} "
                         f"(ASP − SP {_fmt(key, d['mean'], True)}{unit}).")
            continue
        lo, hi = d["ci95"]
        claim = lower if hi < 0 else higher if lo > 0 else same
        lines.append(f"ASP-MTL's {terms} {claim}: {what}, ASP − SP, is {_fmt(key, d['mean'], True)}{unit} on "
                     f"average, 95 % t-interval over n = {d['n']} seeds [{_fmt(key, lo, True)}, "
                     f"{_fmt(key, hi, True)}]{unit}, which {'includes' if lo <= 0 <= hi else 'excludes'} 0.")
    disc = report["aggregate"][ASP].get("discriminator_accuracy")
    if disc:
        sd = f" ± {_fmt('discriminator_accuracy', disc['sd'])}" if disc["sd"] is not None else ""
        lines.append(f"ASP-MTL's own discriminator reads the task from its shared features at "
                     f"{_fmt('discriminator_accuracy', disc['mean'])}{sd} % (n = {disc['n']} seeds; chance "
                     f"{100 * report['chance']:.1f} %).")
    return lines


def markdown(report: dict[str, Any]) -> str:
    keys = [k for k in METRICS if any(k in p[name] for p in report["pairs"] for name in (SP, ASP))]
    n = len(report["pairs"])
    lines = [f"# Do the terms change the features? ({len(report['probe']['tasks'])} FDU-MTL tasks, test reviews, "
             f"{n} seed(s))", "",
             f"Made by `{report['command']}` at commit `{report['commit']}`. Each pair is an SP-MTL and an ASP-MTL "
             f"model trained with the same seed. Probe: logistic regression from frozen features to the task, fitted "
             f"on the same {report['probe']['train_rows']} training reviews for every model, scored on "
             f"{report['probe']['test_rows']} test reviews (chance {100 * report['chance']:.1f} %).", "",
             "| seed | model | " + " | ".join(METRICS[k][0] for k in keys) + " |",
             "|---|---|" + "---:|" * len(keys)]
    for p in report["pairs"]:
        for name in (SP, ASP):
            lines.append(f"| {p['seed']} | {LABELS[name]} | " + " | ".join(_fmt(k, p[name].get(k)) for k in keys) + " |")
    for name in (SP, ASP):
        agg = report["aggregate"][name]
        cells = ["–" if k not in agg else _fmt(k, agg[k]["mean"]) if agg[k]["sd"] is None
                 else f"{_fmt(k, agg[k]['mean'])} ± {_fmt(k, agg[k]['sd'])}" for k in keys]
        lines.append(f"| mean ± sd (n = {n}) | {LABELS[name]} | " + " | ".join(cells) + " |")
    seeds = [p["seed"] for p in report["pairs"]]
    lines += ["", f"Paired differences ASP-MTL − SP-MTL (same seed); mean and 95 % t-interval over n = {n} seeds:",
              "", "| difference | " + " | ".join(f"seed {s}" for s in seeds) + " | mean | 95 % t-interval |",
              "|---|" + "---:|" * (len(seeds) + 2)]
    for key, d in report["paired_differences"].items():
        ci = "–" if d["ci95"] is None else f"[{_fmt(key, d['ci95'][0], True)}, {_fmt(key, d['ci95'][1], True)}]"
        unit = f" ({METRICS[key][3]})" if METRICS[key][3] else ""
        lines.append(f"| {METRICS[key][0]}{unit} | " + " | ".join(_fmt(key, v, True) for v in d["per_seed"])
                     + f" | {_fmt(key, d['mean'], True)} | {ci} |")
    for sentence in verdict(report):
        lines += ["", sentence]
    lines += ["", f"Qualitative part, on the first pair only (seed {report.get('qualitative_seed')}):", ""]
    if "disagreements" in report:
        d = report["disagreements"]
        lines.append(f"Test reviews where the two models disagree: ASP-MTL is right on {d['asp_right']}, "
                     f"SP-MTL on {d['sp_right']}.")
    for e in report.get("examples", []):
        top_s = [w for _, w in sorted(zip(e["shared_occlusion"], e["words"]), reverse=True)[:5]]
        top_p = [w for _, w in sorted(zip(e["private_occlusion"], e["words"]), reverse=True)[:5]]
        lines.append(f"- {e['model']}, {e['task']} (label {e['label']}): shared moved most by {top_s}; "
                     f"private by {top_p}")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
