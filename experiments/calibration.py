"""Per-task temperature scaling of trained FDU-MTL models: ECE and log loss on test, before and after.

    python -m experiments.calibration --model best-ngram=runs/ngram/seed0/model/model.keras \\
        --model main-job-asp-mtl=runs/main-job/model/model.keras --output experiments/results/calibration.json

For each model: one temperature per task fitted on the dev split (the last
200 rows of each ``.task.train`` file; :func:`tf_aspmtl.training.calibration_run.run_calibration`),
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

from experiments.provenance import command_line, provenance, write_json
from tf_aspmtl.training.calibration_run import plot_reliability, run_calibration


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
        if name in dict(named):
            p.error(f"--model {item!r}: the name {name!r} is given twice (each model's figures are kept by name)")
        named.append((name, path))
    results: dict[str, Any] = {**provenance(command_line("experiments.calibration", argv)), "models": {}}
    for name, path in named:
        r = results["models"][name] = run_calibration(path, args.data_dir)
        print(f"{name}: ECE {r['ece_before_mean']:.2f} % -> {r['ece_after_mean']:.2f} %, log loss "
              f"{r['log_loss_before_mean']:.4f} -> {r['log_loss_after_mean']:.4f}, labels changed {r['labels_changed']}")
    output = Path(args.output)
    write_json(output, results)
    plot_reliability(results["models"], output.with_suffix(".png"))
    return 0


if __name__ == "__main__":
    sys.exit(main())

