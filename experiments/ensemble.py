"""An ensemble of trained models (e.g. one configuration, several seeds): per-task dev and test error, and its export.

    python -m experiments.ensemble \\
        --member runs/best/seed0/model/model.keras \\
        --member runs/best/seed1/model/model.keras \\
        --member runs/best/seed2/model/model.keras \\
        --results experiments/results/best/ensemble.json [--export runs/best/ensemble_export]

Loads every ``--member`` (``.keras`` files written by ``model.save``; they
must share tasks and classes, vocabularies may differ) into a
:class:`tf_aspmtl.MultiTaskEnsemble`, whose class probabilities are the mean
of the members'. Scores it, and each member alone, on FDU-MTL dev (the last
200 rows of each train file, as in training) and test, per task. Every listed
member is used: nothing is chosen on test, which is only read to report.

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


def evaluate(ensemble, data_dir: str | None, batch_size: int) -> dict[str, Any]:
    """Per-task dev and test error (%) of the ensemble and of each member, and the rows scored."""
    from tf_aspmtl.data import load_fdu_mtl

    data = load_fdu_mtl(data_dir, tasks=ensemble.task_names, splits=SPLITS)
    scores, rows = {}, {}
    for split in SPLITS:
        frame = data[data["split"] == split].reset_index(drop=True)
        # FDU-MTL labels are class ids (0 negative, 1 positive); the members know classes by their values (the
        # names experiments.train gives them, or 0 and 1), listed in id order.
        pre = ensemble.members[0].preprocessor
        frame["label"] = [pre.classes(t)[int(label)] for t, label in zip(frame["task"], frame["label"])]
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
    lines = [
        f"# Ensemble of {n} models: per-task error (%)",
        "",
        f"`{report['command']}` at commit `{report['commit']}`.",
        "",
        "The ensemble's class probabilities are the mean of its members'. Every listed member is used "
        "(nothing chosen on test). Dev: the last 200 rows of each train file.",
        "",
        "Members:",
        "",
    ]
    lines += [f"{i}. `{m['path']}` ({m['class']})" for i, m in enumerate(members)]
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
    p.add_argument("--member", action="append", required=True, metavar="PATH",
                   help="a member's .keras file (repeat once per member)")
    p.add_argument("--results", default=str(DEFAULT_RESULTS), help="results JSON; the .md goes beside it "
                   "(default: %(default)s)")
    p.add_argument("--export", metavar="DIR", help="also export the ensemble for TF Serving into DIR")
    p.add_argument("--data-dir", help="FDU-MTL folder (else $TF_ASPMTL_FDU_MTL, else ../shared/data/fdu-mtl)")
    p.add_argument("--batch-size", type=int, default=128, help="rows per prediction batch")
    args = p.parse_args(argv)
    if args.batch_size < 1:
        p.error(f"--batch-size must be >= 1; got {args.batch_size}")
    return args


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    logging.getLogger("tf_aspmtl.models.multitask_ensemble").setLevel(logging.INFO)
    args = parse_args(argv)
    command = command_line("experiments.ensemble", argv)
    import tf_aspmtl

    members = []
    try:
        for i, path in enumerate(args.member):
            started = time.monotonic()
            members.append(tf_aspmtl.MultiTaskEnsemble.load_member(path))
            logger.info("member %d/%d loaded from %s (%s, %d tasks) in %.0f s", i + 1, len(args.member), path,
                        type(members[-1]).__name__, members[-1].num_tasks, time.monotonic() - started)
        ensemble = tf_aspmtl.MultiTaskEnsemble(members, name="ensemble")
    except (FileNotFoundError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2

    results = evaluate(ensemble, args.data_dir, args.batch_size)
    member_results = [{"path": path, "class": type(m).__name__, **r}
                      for path, m, r in zip(args.member, members, results.pop("members"))]
    report = {
        **provenance(command),
        "members": list(args.member),
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
