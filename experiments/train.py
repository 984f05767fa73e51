"""The main job: train a model family on FDU-MTL with model.fit, select on dev, report dev and test error.

    python -m experiments.train                      # the paper's ASP-MTL on the 16 tasks (about 10 minutes)
    python -m experiments.train --export exports     # ... then write TF Serving models of it
    python -m experiments.train --quick              # a one-minute smoke test of the pipeline
    python -m experiments.train --model sp-mtl --seed 1
    python -m experiments.train --model wide-deep    # ASP-MTL plus the n-gram linear path, one set of heads

A command line over :func:`tf_aspmtl.training.run`, which does the work:
model selection (the best epoch) on the development split only (the last
200 rows of each ``.task.train`` file), test error computed once with the
selected weights. The run folder (``--output-dir``) holds ``results.json``
and ``results.md``, the model (``model/model.keras``), TensorBoard logs
(``model/logs``: every loss term, the discriminator's accuracy, each task's
dev accuracy) and the training state; ``--results`` also writes the results
to a path of your choice.

Killed? Run the same command with the same ``--output-dir``: it says what it
resumed from and ends with the numbers of a run that was never killed (same
seed and thread settings; ``--deterministic`` fixes both). A diverging run
(NaN or infinite loss) stops at once with a non-zero exit and writes no results.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

import keras
import tensorflow as tf

from experiments.cli_types import positive_int
from experiments.provenance import REPO_ROOT, command_line, provenance, write_atomic, write_json
from experiments.result_files import PAPER_COLUMN, paper_table
from tf_aspmtl.data import FDU_MTL_TASKS, DataNotFoundError
from tf_aspmtl.distribute import STRATEGIES, is_chief, make_strategy, worker_run_dir
from tf_aspmtl.export.ops import TF_SERVING_VERSION
from tf_aspmtl.initializers import WEIGHT_INITIALIZERS
from tf_aspmtl.runtime import DEFAULT_THREADS, configure_threads
from tf_aspmtl.training import QUICK, TrainConfig, results_markdown, run
from tf_aspmtl.io_utils import DiskWriteError, FolderBusyError
from tf_aspmtl.training.config_arguments import add_config_arguments, config_from_arguments
from tf_aspmtl.training.run_folder import RunFolderError
from tf_aspmtl.training.train_config import TRAIN_CONFIG_CHOICES, TRAIN_CONFIG_HELP

logger = logging.getLogger("experiments.train")
CACHE_DIR = REPO_ROOT / "runs" / "cache"
"""Word2vec vectors and language-model pretrainings, keyed by a hash of everything that defines them, so reruns,
resumed runs and other runs that share them reuse them; under runs/, which git ignores."""
FAULT_ENV = "EXPERIMENTS_TRAIN_FAULT"
"""Test hook: ``mid-epoch:N``, ``epoch-end:N``, ``after-training`` or ``during-evaluation`` makes the
process SIGKILL itself there (tests/test_faults.py kills runs at each point and checks the reruns)."""


def _fault(point: str) -> None:
    if os.environ.get(FAULT_ENV) == point:
        os.kill(os.getpid(), signal.SIGKILL)


class _FaultInjection(keras.callbacks.Callback):
    """SIGKILLs the process in the middle of epoch N or right after its end (after its checkpoint)."""

    def on_train_batch_end(self, batch, logs=None):
        if batch == 2:
            _fault(f"mid-epoch:{self._epoch + 1}")

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_epoch_end(self, epoch, logs=None):
        _fault(f"epoch-end:{epoch + 1}")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--tasks", default="all", help="comma-separated task names, or 'all' (the 16 FDU-MTL tasks)")
    fields = p.add_argument_group("training settings (TrainConfig's fields; unset: the paper's, or --config's)")
    add_config_arguments(fields, TrainConfig, TRAIN_CONFIG_HELP, TRAIN_CONFIG_CHOICES, skip=("tasks", "paper_scale"))
    p.add_argument("--intra-op-threads", type=positive_int,
                   help=f"TensorFlow intra-op threads (default {DEFAULT_THREADS[0]}; with {DEFAULT_THREADS[1]} inter-op "
                        "threads the shared and private LSTMs run one per core, the fastest on 2 cores)")
    p.add_argument("--inter-op-threads", type=positive_int, help=f"TensorFlow inter-op threads (default {DEFAULT_THREADS[1]})")
    p.add_argument("--deterministic", action="store_true",
                   help="TensorFlow op determinism on top of the fixed thread settings: the same command gives "
                        "bit-identical results files (apart from times)")
    p.add_argument("--quick", action="store_true", help=f"a smoke test, not the paper's numbers: {QUICK}")
    p.add_argument("--paper-scale", action="store_true", help="the paper's sizes (the default; kept for old commands)")
    p.add_argument("--config", help="JSON file of TrainConfig fields (e.g. written by experiments.tune)")
    p.add_argument("--data-dir", help="FDU-MTL folder (else $TF_ASPMTL_FDU_MTL, else ../shared/data/fdu-mtl)")
    p.add_argument("--output-dir", help="run folder (default runs/<model>-<time>); the same folder resumes a run")
    p.add_argument("--results", help="also write the results JSON here (a .md table is written beside it)")
    p.add_argument("--dev-only", action="store_true",
                   help="never read the test split: report dev error only (for screening and tuning runs)")
    p.add_argument("--export", metavar="DIR", help="then write TF Serving SavedModels of every task under DIR")
    p.add_argument("--verbose", type=int, default=1 if sys.stdout.isatty() else 2,
                   help="training output: 1 Keras' progress bar (default in a terminal), 2 one short line per epoch "
                        "(loss terms, mean dev accuracy, time; the default otherwise), 0 none")
    p.add_argument("--strategy", choices=STRATEGIES, default="default",
                   help="multi-worker: tf.distribute.MultiWorkerMirroredStrategy over the workers in $TF_CONFIG "
                        "(see tf_aspmtl/distribute.py)")
    args = p.parse_args(argv)
    if args.quick and args.paper_scale:
        p.error("--quick and --paper-scale contradict each other")
    return args


def resolve_config(args: argparse.Namespace) -> TrainConfig:
    """The paper's defaults, then ``--quick``, then ``--config``, then explicit flags; checked (the message names
    the flag of a refused value)."""
    values: dict[str, Any] = {**QUICK, "paper_scale": False} if args.quick else {}
    if args.config:
        values = TrainConfig.from_json_file(args.config, **values).to_dict()
    tasks = {} if args.tasks == "all" else {"tasks": tuple(t.strip() for t in args.tasks.split(",") if t.strip())}
    config = config_from_arguments(args, TrainConfig, values, **tasks)
    unknown_tasks = sorted(set(config.tasks) - set(FDU_MTL_TASKS))
    if unknown_tasks:
        raise ValueError(f"Unknown task(s) {unknown_tasks}; expected some of {list(FDU_MTL_TASKS)}")
    return config


def paper_errors(model: str) -> dict[str, float]:
    """The paper's Table 2 test error % per task of a family (none for a model the paper does not have)."""
    column = PAPER_COLUMN.get(model.replace("-", "_"))
    return {} if column is None else paper_table()[column].to_dict()


def serving_instructions(run_dir: Path, export_dir: str | None, config: TrainConfig) -> str:
    """What to run to serve the trained model (printed at the end of the main job)."""
    model_path = run_dir / ("model" if config.model != "single" else f"model-{config.tasks[0]}") / "model.keras"
    lines = ["", "To serve it with TensorFlow Serving:"]
    if export_dir is None:
        lines.append(f"  python -m export --model {model_path} --output exports")
        export_dir = "exports"
    mount = export_dir if Path(export_dir).is_absolute() else f"$PWD/{export_dir}"
    lines += [
        f"  docker run --rm -p 8501:8501 -p 8500:8500 -v {mount}:/models tensorflow/serving:{TF_SERVING_VERSION} "
        "--model_config_file=/models/models.config",
        f"  curl -d '{{\"instances\": [\"a gripping, well written story\"]}}' "
        f"http://localhost:8501/v1/models/{config.tasks[0]}:predict",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    args = parse_args(argv)
    try:
        config = resolve_config(args)
    except ValueError as err:
        print(f"experiments.train: error: {err}", file=sys.stderr)
        return 2
    intra, inter = configure_threads(args.intra_op_threads, args.inter_op_threads, strict=args.deterministic)
    if args.deterministic:
        tf.config.experimental.enable_op_determinism()
    strategy = make_strategy(args.strategy)
    run_dir = Path(args.output_dir or Path("runs") / f"{config.model}-{time.strftime('%Y%m%d-%H%M%S')}")
    run_dir = worker_run_dir(run_dir) if strategy else run_dir
    if not config.paper_scale:
        logger.info(
            "quick run (%d epoch(s), hidden %d, max length %d): a smoke test of the pipeline, not the paper's "
            "numbers; drop --quick for those", config.epochs, config.hidden_dim, config.max_length,
        )
    try:
        return _train(args, config, run_dir, strategy, intra, inter, argv)
    except (RunFolderError, FolderBusyError) as err:
        print(f"experiments.train: error: {err} (the folder is --output-dir)", file=sys.stderr)
        return 2
    except DiskWriteError as err:
        print(f"experiments.train: error: {err}", file=sys.stderr)
        return 1
    except DataNotFoundError as err:
        print(f"experiments.train: error: {err} (--data-dir)", file=sys.stderr)
        return 2


def _train(args: argparse.Namespace, config: TrainConfig, run_dir: Path, strategy, intra: int, inter: int,
           argv: list[str] | None) -> int:
    """Runs, writes the results files, exports; the errors main() reports as one line propagate."""
    made_by = provenance(command_line("experiments.train", argv))  # the code as it was when the run started
    faults = [_FaultInjection()] if os.environ.get(FAULT_ENV) else []
    results = run(config, run_dir, args.data_dir, dev_only=args.dev_only, strategy=strategy,
                  verbose=args.verbose, cache_dir=CACHE_DIR, callbacks=faults, checkpoint_hook=_fault)
    results.update(made_by)
    results["deterministic"] = bool(args.deterministic)
    results["threads"] = {"intra_op": intra, "inter_op": inter}
    results["load_average_1m"] = os.getloadavg()[0]  # what else ran shows here (2 = both cores busy)
    table = results_markdown(results, paper_errors(config.model))
    print(table)
    targets = [run_dir / "results.json"] + ([Path(args.results)] if args.results and (strategy is None or is_chief()) else [])
    for path in targets:
        write_json(path, results)
        write_atomic(path.with_suffix(".md"), table)
        logger.info("wrote %s and %s", path, path.with_suffix(".md"))
    if strategy is None or is_chief():
        if args.export:
            from tf_aspmtl.export import export_model

            for group_model in sorted(run_dir.glob("model*/model.keras")):
                model = keras.models.load_model(group_model, compile=False)
                for item in export_model(model, args.export):
                    logger.info("exported %s version %d to %s", item.name, item.version, item.path)
        print(serving_instructions(run_dir, args.export, config))
    return 0


if __name__ == "__main__":
    sys.exit(main())
