"""Per-task temperature scaling of trained FDU-MTL models: ECE and log loss on test, before and after.

    python -m experiments.calibration --model best-ngram=runs/ngram/seed0/model/model.keras \\
        --model main-job-asp-mtl=runs/main-job/model/model.keras --output experiments/results/calibration.json

For each model: one temperature per task fitted on the dev split (the last
200 rows of each ``.task.train`` file; :meth:`tf_aspmtl.models.Task.calibrate`),
then, on the test split, the expected calibration error (15 equal-width
bins of the top probability) and the log loss per task, before and after,
and whether any predicted label changed (none may). Writes the JSON file
(``ece_before_mean``, ``ece_after_mean`` in percent, per model and per
task) and a reliability diagram beside it (``.png``). The models' epochs
were chosen on dev before; this reads test once more for the same weights.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import numpy as np

from experiments.provenance import command_line, provenance, write_json
from tf_aspmtl.calibration import expected_calibration_error, log_loss, reliability
from tf_aspmtl.data import load_fdu_mtl
from tf_aspmtl.models import Task


def _rows(model: Task, frame) -> tuple[dict[str, list], list]:
    """Raw rows and raw labels (FDU-MTL's label i is the task's class i)."""
    labels = [model.preprocessor.classes(t)[int(v)] for t, v in zip(frame["task"], frame["label"])]
    return {"text": frame["text"].astype(str).tolist(), "task": frame["task"].tolist()}, labels


def calibrate_and_score(model: Task, dev, test) -> dict[str, Any]:
    """Temperatures fitted on ``dev``; ECE (%) and log loss per task on ``test`` before and after."""
    model.calibrate(*_rows(model, dev))
    x, labels = _rows(model, test)
    ids = model.task_ids(x["task"])
    y = model.encode_labels(x["task"], labels)
    before = model.predict(x, calibrated=False, verbose=0)
    after = model.predict(x, verbose=0)
    per_task = {}
    for k, task in enumerate(model.task_names):
        rows = ids == k
        per_task[task] = {
            "temperature": model.temperatures[k],
            "ece_before": expected_calibration_error(before[rows], y[rows]),
            "ece_after": expected_calibration_error(after[rows], y[rows]),
            "log_loss_before": log_loss(before[rows], y[rows]),
            "log_loss_after": log_loss(after[rows], y[rows]),
        }
    mean = lambda key: float(np.mean([r[key] for r in per_task.values()]))  # noqa: E731
    return {
        "ece_before_mean": mean("ece_before"), "ece_after_mean": mean("ece_after"),
        "log_loss_before_mean": mean("log_loss_before"), "log_loss_after_mean": mean("log_loss_after"),
        "labels_changed": int((before.argmax(1) != after.argmax(1)).sum()), "test_rows": int(len(y)),
        "per_task": per_task,
        "reliability_before": reliability(before, y), "reliability_after": reliability(after, y),
    }


def plot(results: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    models = results["models"]
    fig, axes = plt.subplots(1, len(models), figsize=(5 * len(models), 4.5), squeeze=False)
    for ax, (name, r) in zip(axes[0], models.items()):
        for key, style in (("reliability_before", "o-"), ("reliability_after", "s-")):
            bins = r[key]
            ax.plot([b["confidence"] for b in bins], [b["accuracy"] for b in bins], style,
                    label=f"{key.split('_')[1]} (ECE {r['ece_' + key.split('_')[1] + '_mean']:.2f} %)")
        ax.plot([0.5, 1], [0.5, 1], "k:", label="perfect")
        ax.set(title=f"{name}: test, all tasks", xlabel="confidence (top probability)", ylabel="accuracy",
               xlim=(0.45, 1.0), ylim=(0.45, 1.0))
        ax.legend(loc="upper left")
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", action="append", required=True, metavar="NAME=PATH", help="a trained .keras model")
    p.add_argument("--data-dir", help="FDU-MTL folder (else $TF_ASPMTL_FDU_MTL, else ../shared/data/fdu-mtl)")
    p.add_argument("--output", required=True, help="results JSON (the reliability diagram is written beside it)")
    args = p.parse_args(argv)
    named = []
    for item in args.model:
        name, sep, path = item.partition("=")
        if not sep or not name or not path:
            p.error(f"--model {item!r}: expected NAME=PATH")
        named.append((name, path))
    results: dict[str, Any] = {**provenance(command_line("experiments.calibration", argv)), "models": {}}
    for name, path in named:
        model = Task.load(path)
        data = load_fdu_mtl(args.data_dir, tasks=model.task_names, splits=("dev", "test"))
        dev, test = data[data["split"] == "dev"], data[data["split"] == "test"]
        results["models"][name] = {"path": path, **calibrate_and_score(model, dev, test)}
        r = results["models"][name]
        print(f"{name}: ECE {r['ece_before_mean']:.2f} % -> {r['ece_after_mean']:.2f} %, log loss "
              f"{r['log_loss_before_mean']:.4f} -> {r['log_loss_after_mean']:.4f}, labels changed {r['labels_changed']}")
    output = Path(args.output)
    write_json(output, results)
    plot(results, output.with_suffix(".png"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
