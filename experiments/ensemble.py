"""An ensemble of trained models (e.g. one configuration, several seeds): per-task dev and test error, and its export.

    python -m experiments.ensemble \\
        --member runs/best/seed0/model/model.keras \\
        --member runs/best/seed1/model/model.keras \\
        --member runs/best/seed2/model/model.keras \\
        --results experiments/results/best/ensemble.json [--export runs/best/ensemble_export]

    python -m experiments.ensemble --select-on-dev \\
        --candidate runs/a/model/model.keras --candidate runs/b/model/model.keras ... \\
        --results experiments/results/ensemble_selection/seed0.json

Loads every ``--member`` (``.keras`` files written by ``model.save``; they
must share tasks and classes, vocabularies may differ) into a
:class:`tf_aspmtl.MultiTaskEnsemble`, whose class probabilities are the mean
of the members'. Scores it, and each member alone, on FDU-MTL dev (the last
200 rows of each train file, as in training) and test, per task. Every listed
member is used: nothing is chosen on test, which is only read to report.

With ``--select-on-dev``, the ``--candidate`` models are pooled instead and
:meth:`tf_aspmtl.MultiTaskEnsemble.select` chooses members and weights on
dev alone (greedy forward selection with replacement on the mean per-task
log loss, Caruana et al. 2004); test is read afterwards, once, for the chosen
ensemble and its members.

Writes ``--results`` (JSON: command, commit, versions, member paths,
per-task dev/test error of the ensemble and of each member, averages) and a
``.md`` beside it. With ``--export DIR``, also writes the ensemble's TF
Serving SavedModels (``DIR/<task>/<version>/``, the same signature and
outputs as a single model's export) and records them in the results.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path
from typing import Any

from experiments.provenance import REPO_ROOT, command_line, provenance, write_atomic, write_json

logger = logging.getLogger("experiments.ensemble")
DEFAULT_RESULTS = REPO_ROOT / "experiments" / "results" / "ensemble.json"
SPLITS = ("dev", "test")


def _errors(scores: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """``{"per_task": {task: {"dev_error", "test_error"}}, "avg_dev_error", "avg_test_error"}`` from per-split scores."""
    tasks = list(scores[SPLITS[0]]["per_task"])
    return {
        "per_task": {t: {f"{s}_error": scores[s]["per_task"][t]["error"] for s in SPLITS} for t in tasks},
        **{f"avg_{s}_error": scores[s]["avg_error"] for s in SPLITS},
    }


def load_split(model, data_dir: str | None, split: str):
    """FDU-MTL rows of ``split`` for ``model``'s tasks, labelled with the class values its preprocessor knows."""
    from tf_aspmtl.data import load_fdu_mtl

    frame = load_fdu_mtl(data_dir, tasks=model.task_names, splits=(split,)).reset_index(drop=True)
    # FDU-MTL labels are class ids (0 negative, 1 positive); the members know classes by their values (the
    # names experiments.train gives them, or 0 and 1), listed in id order.
    pre = getattr(model.members[0], "preprocessor", None)  # an n-gram member has none: its classes are names
    classes = pre.classes if pre is not None else (lambda task: model.class_names[model.task_id(task)])
    frame["label"] = [classes(t)[int(label)] for t, label in zip(frame["task"], frame["label"])]
    return frame


def evaluate(ensemble, data_dir: str | None, batch_size: int) -> dict[str, Any]:
    """Per-task dev and test error (%) of the ensemble and of each member, and the rows scored."""
    scores, rows = {}, {}
    for split in SPLITS:
        frame = load_split(ensemble, data_dir, split)
        started = time.monotonic()
        logger.info("%s: %d rows of %d tasks, %d members", split, len(frame), frame["task"].nunique(),
                    ensemble.num_members)
        scores[split] = ensemble.evaluate_frame(frame, batch_size=batch_size, members=True)
        rows[split] = len(frame)
        logger.info("%s: ensemble error %.2f %% (members %s) in %.0f s", split, scores[split]["avg_error"],
                    ", ".join(f"{m['avg_error']:.2f}" for m in scores[split]["members"]), time.monotonic() - started)
    members = [_errors({s: scores[s]["members"][i] for s in SPLITS}) for i in range(ensemble.num_members)]
    return {"rows": rows, **_errors(scores), "members": members}


def _mean(values: list[float]) -> float:
    return sum(values) / len(values)


def markdown(report: dict[str, Any]) -> str:
    """The results as a short markdown page: per-task test (and dev) error of the ensemble beside its members'."""
    members = report["member_results"]
    n = len(members)
    selection = report.get("selection")
    if selection:
        how = (f"chosen among {len(selection['candidates'])} candidates on dev alone (greedy forward selection "
               "with replacement on the mean per-task log loss; a member's weight is the number of times it was "
               "picked); test was read once, afterwards")
    else:
        how = "every listed member is used (nothing chosen on test)"
    lines = [
        f"# Ensemble of {n} models: per-task error (%)",
        "",
        f"`{report['command']}` at commit `{report['commit']}`.",
        "",
        f"The ensemble's class probabilities are the weighted mean of its members': {how}. Dev: the last 200 rows "
        "of each train file.",
        "",
        "Members (weight):",
        "",
    ]
    lines += [f"{i}. `{m['path']}` ({m['class']}, {m.get('weight', 1 / n):.3f})" for i, m in enumerate(members)]
    if selection:
        lines += ["", "Candidates on dev (their own mean dev error and log loss; times picked):", "",
                  "| candidate | dev error % | dev log loss | picked |", "|---|---:|---:|---:|"]
        for path, score, count in zip(selection["candidates"], selection["candidate_scores"], selection["counts"]):
            lines.append(f"| `{path}` | {score['error']:.2f} | {score['log_loss']:.4f} | {count} |")
        lines += ["", "Steps (dev, the ensemble after each pick): " + "; ".join(
            f"{i + 1}. +{step['candidate']} → {step['error']:.2f} % / {step['log_loss']:.4f}"
            for i, step in enumerate(selection["steps"])) + "."]
    head = ["task", "ensemble test", "ensemble dev"] + [f"m{i} test" for i in range(n)] + ["members' mean test"]
    lines += ["", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for task, errors in report["per_task"].items():
        own = [m["per_task"][task]["test_error"] for m in members]
        cells = [task, f"{errors['test_error']:.2f}", f"{errors['dev_error']:.2f}"]
        cells += [f"{e:.2f}" for e in own] + [f"{_mean(own):.2f}"]
        lines.append("| " + " | ".join(cells) + " |")
    own = [m["avg_test_error"] for m in members]
    cells = ["**average**", f"**{report['avg_test_error']:.2f}**", f"{report['avg_dev_error']:.2f}"]
    lines.append("| " + " | ".join(cells + [f"{e:.2f}" for e in own] + [f"{_mean(own):.2f}"]) + " |")
    lines += ["", f"Average dev error: ensemble {report['avg_dev_error']:.2f}, members "
              + ", ".join(f"{m['avg_dev_error']:.2f}" for m in members) + "."]
    if report.get("export"):
        lines += ["", "Exported (TF Serving, same signature as a single model):", ""]
        lines += [f"- `{e['name']}` version {e['version']}: `{e['path']}`" for e in report["export"]]
    return "\n".join(lines) + "\n"


def write_results(path: Path, report: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    write_json(path, report)
    write_atomic(path.with_suffix(".md"), markdown(report))


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--member", action="append", metavar="PATH",
                   help="a member's .keras file (repeat once per member)")
    p.add_argument("--candidate", action="append", metavar="PATH",
                   help="with --select-on-dev: a candidate's .keras file (repeat once per candidate)")
    p.add_argument("--select-on-dev", action="store_true",
                   help="choose members and weights among the --candidate models on dev")
    p.add_argument("--max-steps", type=int, default=20,
                   help="with --select-on-dev: most picks, i.e. the largest total weight (default: %(default)s)")
    p.add_argument("--results", default=str(DEFAULT_RESULTS), help="results JSON; the .md goes beside it "
                   "(default: %(default)s)")
    p.add_argument("--export", metavar="DIR", help="also export the ensemble for TF Serving into DIR")
    p.add_argument("--data-dir", help="FDU-MTL folder (else $TF_ASPMTL_FDU_MTL, else ../shared/data/fdu-mtl)")
    p.add_argument("--batch-size", type=int, default=128, help="rows per prediction batch")
    args = p.parse_args(argv)
    if args.batch_size < 1:
        p.error(f"--batch-size must be >= 1; got {args.batch_size}")
    if args.select_on_dev:
        if args.member or not args.candidate:
            p.error("--select-on-dev takes --candidate models (and no --member)")
        if args.max_steps < 1:
            p.error(f"--max-steps must be >= 1; got {args.max_steps}")
    elif args.candidate or not args.member:
        p.error("give the members with --member (or --select-on-dev and --candidate to choose them on dev)")
    return args


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    logging.getLogger("tf_aspmtl.models.multitask_ensemble").setLevel(logging.INFO)
    args = parse_args(argv)
    command = command_line("experiments.ensemble", argv)
    import tf_aspmtl

    paths = args.candidate if args.select_on_dev else args.member
    models, selection = [], None
    try:
        for i, path in enumerate(paths):
            started = time.monotonic()
            models.append(tf_aspmtl.MultiTaskEnsemble.load_member(path))
            logger.info("model %d/%d loaded from %s (%s, %d tasks) in %.0f s", i + 1, len(paths), path,
                        type(models[-1]).__name__, models[-1].num_tasks, time.monotonic() - started)
        if args.select_on_dev:
            pool = tf_aspmtl.MultiTaskEnsemble(models, name="candidates")
            dev = load_split(pool, args.data_dir, "dev")
            logger.info("choosing among %d candidates on %d dev rows", len(models), len(dev))
            ensemble, chosen = tf_aspmtl.MultiTaskEnsemble.select(models, dev, max_steps=args.max_steps,
                                                                  batch_size=args.batch_size, name="ensemble")
            selection = {"candidates": list(paths), **chosen.to_dict()}
            paths = [paths[i] for i in chosen.members]
            logger.info("chosen: %s", ", ".join(f"{p} x{w}" for p, w in zip(paths, chosen.weights)))
        else:
            ensemble = tf_aspmtl.MultiTaskEnsemble(models, name="ensemble")
    except (FileNotFoundError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2

    results = evaluate(ensemble, args.data_dir, args.batch_size)
    shares = ensemble.shares
    member_results = [{"path": path, "class": type(m).__name__, "weight": w, **r}
                      for path, m, w, r in zip(paths, ensemble.members, shares, results.pop("members"))]
    report = {
        **provenance(command),
        "members": list(paths),
        "weights": shares,
        "selection": selection,
        "tasks": ensemble.task_names,
        **results,
        "member_results": member_results,
        "members_mean": {f"avg_{s}_error": _mean([m[f"avg_{s}_error"] for m in member_results]) for s in SPLITS},
        "export": None,
    }
    out = Path(args.results)
    write_results(out, report)
    logger.info("ensemble: avg dev error %.2f %%, avg test error %.2f %% (members' mean %.2f %%); wrote %s and %s",
                report["avg_dev_error"], report["avg_test_error"], report["members_mean"]["avg_test_error"], out,
                out.with_suffix(".md"))
    if args.export:
        started = time.monotonic()
        logger.info("exporting %d tasks to %s", ensemble.num_tasks, args.export)
        exported = ensemble.export(args.export, verbose=False)
        report["export"] = [{"name": e.name, "version": e.version, "path": e.path} for e in exported]
        write_results(out, report)
        logger.info("exported %d SavedModels in %.0f s", len(exported), time.monotonic() - started)
    return 0


if __name__ == "__main__":
    sys.exit(main())
