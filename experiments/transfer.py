"""Transfer a trained model's shared space to a new FDU-MTL task (the paper's Table 3).

    python -m experiments.train --tasks <the other 15 tasks> --output-dir runs/src-no-music
    python -m experiments.transfer --source-model runs/src-no-music/model/model.keras --task music --mode bc

``--mode sc``: the source model's shared encoder (frozen) and a new output
layer; ``--mode bc``: that plus a new private encoder for the task (with
``--difference-weight`` the difference term against the frozen shared
feature). The word embedding is copied and frozen too, unless
``--train-shared``. A source of ``python -m experiments.ngram`` (the n-gram model) transfers in ``bc`` mode:
its shared kernel (frozen unless ``--train-shared``) and a new private kernel. The new model trains on the
task's train split, the epoch
is chosen on its dev split (the last 200 rows of the ``.task.train`` file),
and test error is computed once (:func:`tf_aspmtl.training.transfer_run.run_transfer`
does the work). Results go to ``<output-dir>/results.json`` (same form as
``experiments.train``'s) and, with ``--results``, to a path of your choice;
a killed run resumes as the main job does.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

from experiments.cli_types import finite, positive_int
from experiments.provenance import command_line, provenance, write_atomic, write_json
from experiments.result_files import PAPER_DIR
from tf_aspmtl.data import FDU_MTL_TASKS
from tf_aspmtl.io_utils import FolderBusyError
from tf_aspmtl.models.transfer import TRANSFER_MODES
from tf_aspmtl.runtime import configure_threads
from tf_aspmtl.training.transfer_run import run_transfer

logger = logging.getLogger("experiments.transfer")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--source-model", required=True, help=".keras file of a model trained on other tasks")
    p.add_argument("--task", required=True, choices=FDU_MTL_TASKS, help="the new task")
    p.add_argument("--mode", choices=TRANSFER_MODES, default="bc")
    p.add_argument("--train-shared", action="store_true", help="also train the copied embedding and shared encoder")
    p.add_argument("--difference-weight", type=finite(0.0, strict=False), default=0.0,
                   help="gamma between the frozen shared and the new private feature (bc only)")
    p.add_argument("--learning-rate", type=finite(0.0, strict=True), default=1e-3)
    p.add_argument("--batch-size", type=positive_int, default=16)
    p.add_argument("--epochs", type=positive_int, default=15)
    p.add_argument("--patience", type=positive_int, default=3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--data-dir", help="FDU-MTL folder (else $TF_ASPMTL_FDU_MTL, else ../shared/data/fdu-mtl)")
    p.add_argument("--output-dir", help="run folder (default runs/transfer-<task>-<mode>-<time>)")
    p.add_argument("--results", help="also write the results JSON here")
    p.add_argument("--verbose", type=int, default=1 if sys.stdout.isatty() else 2)
    return p.parse_args(argv)


PAPER_TABLE3 = PAPER_DIR / "table3_transfer_error_rates.csv"
PAPER_SOURCE = {"AdversarialSharedPrivateMTL": "asp_mtl", "SharedPrivateMTL": "sp_mtl"}


def transfer_table(results: dict, task: str, mode: str) -> str:
    """A markdown line of dev and test error beside the paper's Table 3 entry (when the source family has one)."""
    paper = ""
    family = PAPER_SOURCE.get(results["source_class"])
    if family and PAPER_TABLE3.exists():
        import pandas as pd

        paper = f"{pd.read_csv(PAPER_TABLE3).set_index('task').loc[task, f'{family}_{mode}']:.1f}"
    r = results["per_task"][task]
    return "\n".join([
        f"# transfer ({mode}) to {task} from {results['source_class']}: error %",
        "", f"`{results['command']}` at commit `{results['commit']}`, {results['wall_time_s']:.0f} s", "",
        "| task | dev error | test error | paper test error |", "|---|---:|---:|---:|",
        f"| {task} | {r['dev_error']:.1f} | {r['test_error']:.1f} | {paper} |", "",
    ])


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    args = parse_args(argv)
    configure_threads(None, None)
    made_by = provenance(command_line("experiments.transfer", argv))
    run_dir = Path(args.output_dir
                   or Path("runs") / f"transfer-{args.task}-{args.mode}-{time.strftime('%Y%m%d-%H%M%S')}")
    try:
        results = run_transfer(args.source_model, args.task, run_dir, mode=args.mode, train_shared=args.train_shared,
                               difference_weight=args.difference_weight, learning_rate=args.learning_rate,
                               batch_size=args.batch_size, epochs=args.epochs, patience=args.patience,
                               seed=args.seed, data_dir=args.data_dir, verbose=args.verbose)
    except (ValueError, FolderBusyError) as err:  # a refused argument or folder; another process in the folder
        print(f"experiments.transfer: error: {err}", file=sys.stderr)
        return 2
    results.update(made_by)
    table = transfer_table(results, args.task, args.mode)
    print(table)
    for path in [run_dir / "results.json"] + ([Path(args.results)] if args.results else []):
        write_json(path, results)
        write_atomic(path.with_suffix(".md"), table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
