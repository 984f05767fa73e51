"""An ensemble of trained models (e.g. one configuration, several seeds): per-task dev and test error, and its export.

    python -m experiments.ensemble \\
        --member runs/best/seed0/model/model.keras \\
        --member runs/best/seed1/model/model.keras \\
        --member runs/best/seed2/model/model.keras \\
        --results experiments/results/best/ensemble.json [--export runs/best/ensemble_export]

    python -m experiments.ensemble --select-on-dev \\
        --candidate runs/a/model/model.keras --candidate runs/b/model/model.keras ... \\
        --results experiments/results/ensemble_selection/seed0.json

A command line over :func:`tf_aspmtl.training.ensemble_run.run_ensemble`.
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

from experiments.provenance import REPO_ROOT, command_line, provenance, repo_relative, write_atomic, write_json
from tf_aspmtl.training.ensemble_run import run_ensemble

logger = logging.getLogger("experiments.ensemble")
DEFAULT_RESULTS = REPO_ROOT / "experiments" / "results" / "ensemble.json"


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
    args = parse_args(argv)
    made_by = provenance(command_line("experiments.ensemble", argv))
    try:
        ensemble, record = run_ensemble(args.candidate if args.select_on_dev else args.member, args.data_dir,
                                        select_on_dev=args.select_on_dev, max_steps=args.max_steps,
                                        batch_size=args.batch_size)
    except (FileNotFoundError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    report = {**made_by, **record, "export": None}
    out = Path(args.results)
    write_results(out, report)
    logger.info("ensemble: avg dev error %.2f %%, avg test error %.2f %% (members' mean %.2f %%); wrote %s and %s",
                report["avg_dev_error"], report["avg_test_error"], report["members_mean"]["avg_test_error"], out,
                out.with_suffix(".md"))
    if args.export:
        started = time.monotonic()
        logger.info("exporting %d tasks to %s", ensemble.num_tasks, args.export)
        exported = ensemble.export(args.export, verbose=False)
        report["export"] = [{"name": e.name, "version": e.version, "path": repo_relative(str(e.path))}
                            for e in exported]
        write_results(out, report)
        logger.info("exported %d SavedModels in %.0f s", len(exported), time.monotonic() - started)
    return 0


if __name__ == "__main__":
    sys.exit(main())
