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
from dataclasses import fields
from pathlib import Path
from typing import Any

import keras
import tensorflow as tf

from experiments.cli_types import non_negative_int, positive_float, positive_int, weight
from experiments.provenance import REPO_ROOT, command_line, provenance, write_atomic, write_json
from experiments.result_files import PAPER_COLUMN, paper_table
from tf_aspmtl.data import FDU_MTL_TASKS
from tf_aspmtl.distribute import STRATEGIES, is_chief, make_strategy, worker_run_dir
from tf_aspmtl.initializers import WEIGHT_INITIALIZERS
from tf_aspmtl.layers.encoders import ENCODERS
from tf_aspmtl.models import MODEL_FAMILIES
from tf_aspmtl.optimizers import OPTIMIZERS
from tf_aspmtl.preprocessing.text_vectorizer import TRUNCATIONS
from tf_aspmtl.runtime import DEFAULT_THREADS, configure_threads
from tf_aspmtl.training import QUICK, TrainConfig, results_markdown, run
from tf_aspmtl.io_utils import DiskWriteError, FolderBusyError
from tf_aspmtl.training.run_folder import RunFolderError
from tf_aspmtl.training.train_config import EMBEDDINGS

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
    p.add_argument("--model", choices=sorted(MODEL_FAMILIES))
    p.add_argument("--tasks", default="all", help="comma-separated task names, or 'all' (the 16 FDU-MTL tasks)")
    p.add_argument("--encoder", choices=sorted(ENCODERS))
    p.add_argument("--embedding", choices=EMBEDDINGS,
                   help="initial word vectors: glove (50-d, the default), word2vec (trained on the tasks' train and "
                        "unlabelled text, never dev or test; cached under runs/cache/word_vectors), glove+word2vec "
                        "(both, concatenated) or random")
    p.add_argument("--embedding-dim", type=positive_int,
                   help="word vector size: 50 for glove; the word2vec size for word2vec; > 50 for glove+word2vec "
                        "(50 GloVe dims + the rest word2vec, e.g. 150)")
    p.add_argument("--freeze-embeddings", action=argparse.BooleanOptionalAction,
                   help="keep the pretrained word vectors (--embedding glove, word2vec or glove+word2vec) fixed "
                        "during training; --no-freeze-embeddings (the default) fine-tunes them")
    p.add_argument("--hidden-dim", type=positive_int)
    p.add_argument("--max-length", type=positive_int, help="tokens kept per text (the rest is cut)")
    p.add_argument("--truncation", choices=TRUNCATIONS,
                   help="which tokens a longer text keeps: head (the first --max-length, the default), tail (the "
                        "last) or head+tail (the first quarter and the last three quarters)")
    p.add_argument("--batch-size", type=positive_int)
    p.add_argument("--epochs", type=positive_int)
    p.add_argument("--patience", type=positive_int, help="epochs without dev improvement before stopping")
    p.add_argument("--learning-rate", type=positive_float)
    p.add_argument("--optimizer", choices=sorted(OPTIMIZERS),
                   help="lazy-adam (default): Adam that updates only the embedding rows a batch used; adam: Keras' "
                        "Adam; adagrad: Keras' Adagrad (the paper's predecessor's; its grid had learning rates "
                        "0.1 and 0.01)")
    p.add_argument("--initializer", choices=WEIGHT_INITIALIZERS,
                   help="how the weights start: default (Keras' defaults: Glorot kernels, orthogonal recurrent "
                        "kernels, random word vectors U(-0.05, 0.05)) or uniform (the paper's: every kernel and "
                        "random word vectors U(-0.1, 0.1)); biases keep their zeros (forget gate: 1) either way")
    p.add_argument("--intra-op-threads", type=positive_int,
                   help=f"TensorFlow intra-op threads (default {DEFAULT_THREADS[0]}; with {DEFAULT_THREADS[1]} inter-op "
                        "threads the shared and private LSTMs run one per core, the fastest on 2 cores)")
    p.add_argument("--inter-op-threads", type=positive_int, help=f"TensorFlow inter-op threads (default {DEFAULT_THREADS[1]})")
    p.add_argument("--deterministic", action="store_true",
                   help="TensorFlow op determinism on top of the fixed thread settings: the same command gives "
                        "bit-identical results files (apart from times)")
    p.add_argument("--adversarial-weight", type=weight, help="lambda (asp-mtl)")
    p.add_argument("--difference-weight", type=weight, help="gamma (asp-mtl)")
    p.add_argument("--difference-normalization", choices=["normalized", "sum"])
    p.add_argument("--adversarial-objective", choices=["reversal", "confusion"],
                   help="reversal: the paper's gradient reversal; confusion: encoder pushes D toward uniform")
    p.add_argument("--dropout", type=float)
    p.add_argument("--sampling", choices=["proportional", "uniform"])
    p.add_argument("--unlabeled-fraction", type=float,
                   help="share of unlabelled rows per batch (they feed the adversary, the difference term and "
                        "--embedding-perturbation virtual, never the task loss)")
    p.add_argument("--seed", type=int)
    p.add_argument("--lm-pretrain-epochs", type=non_negative_int,
                   help="first pretrain the LSTM encoders as a language model for this many epochs on the tasks' "
                        "train and unlabelled text (never dev or test; cached under runs/cache/pretrain); 0: off (default)")
    p.add_argument("--lm-init", choices=["all", "shared"],
                   help="encoders the pretrained language model initialises: all (shared and private, the default) "
                        "or shared")
    p.add_argument("--self-training-threshold", type=weight,
                   help="self-training: train a teacher as usual (model*/teacher), label the tasks' unlabelled rows "
                        "it is this sure of (in (0.5, 1]; never dev or test rows; as many of each class per task), "
                        "then train the reported model on train + those rows; 0: off (default)")
    p.add_argument("--self-training-max-per-task", type=non_negative_int,
                   help="most pseudo-labelled rows per task, the most confident (0: no cap, the default)")
    p.add_argument("--embedding-perturbation", choices=["none", "adversarial", "virtual"],
                   help="perturbed word vectors (Miyato et al. 2017) and their loss term: adversarial (AT: the task "
                        "loss of the labelled rows at the worst-case perturbation) or virtual (VAT: the KL between "
                        "the clean and perturbed predictions on every row, so it also uses the batch's unlabelled "
                        "rows when --unlabeled-fraction > 0); none (default). Either makes a paper-scale training "
                        "step 2.1-2.5 times slower: two more passes through the encoders "
                        "(experiments/results/bench_perturbation.json)")
    p.add_argument("--perturbation-weight", type=weight, help="weight of the perturbation's loss term (default 1)")
    p.add_argument("--perturbation-norm", type=positive_float,
                   help="epsilon: L2 norm of each text's perturbation over all its real tokens' word vectors "
                        "(default 1; GloVe 50-d vectors have norms of about 4-6 per word)")
    p.add_argument("--ngram-max-features", type=positive_int,
                   help="wide-deep: most word n-grams of the wide path, learnt from the train split (default 200000)")
    p.add_argument("--ngrams", type=positive_int, help="wide-deep: longest n-gram of the wide path, in words (default 2)")
    p.add_argument("--wide-learning-rate-multiplier", type=positive_float,
                   help="wide-deep: the wide path's learning rate relative to --learning-rate (default 1)")
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
    """The paper's defaults, then ``--quick``, then ``--config``, then explicit flags; checked."""
    values: dict[str, Any] = {}
    if args.quick:
        values.update(QUICK, paper_scale=False)
    overrides: dict[str, Any] = {}
    for f in fields(TrainConfig):
        flag = getattr(args, f.name, None)
        if flag is not None and f.name not in ("tasks", "paper_scale"):
            overrides[f.name] = flag
    if args.tasks != "all":
        overrides["tasks"] = tuple(t.strip() for t in args.tasks.split(",") if t.strip())
    if args.config:
        config = TrainConfig.from_json_file(args.config, **values)
        config = TrainConfig.from_dict({**config.to_dict(), **overrides}, where="command line")
    else:
        config = TrainConfig.from_dict({**values, **overrides}, where="command line")
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
        f"  docker run -p 8501:8501 -v {mount}:/models -t tensorflow/serving "
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
