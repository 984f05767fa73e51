"""Train a model family on FDU-MTL with model.fit, select on dev, report dev and test error.

    python -m experiments.train --model asp-mtl              # short run, a few minutes
    python -m experiments.train --model asp-mtl --paper-scale # the paper's sizes, hours on 2 cores

Model selection (the best epoch) uses the development split only: the last
200 rows of each ``.task.train`` file. Test error is computed once, with the
selected weights. Results go to ``<output-dir>/results.json`` and
``results.md``; ``--results`` also writes them to a path of your choice
(for example under ``experiments/results/``).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import sys
import time
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

import keras
import pandas as pd
import tensorflow as tf

from experiments.distributed import STRATEGIES, distribute_datasets, is_chief, make_strategy, worker_run_dir
from experiments.provenance import command_line, provenance, write_atomic, write_json
from tf_aspmtl.data import FDU_MTL_TASKS, load_fdu_mtl
from tf_aspmtl.data.pipeline import make_eval_dataset, make_training_dataset
from tf_aspmtl.layers.encoders import ENCODERS
from tf_aspmtl.models import MODEL_FAMILIES, MultiTaskClassifier, get_model_family
from tf_aspmtl.optimizers import OPTIMIZERS, get_optimizer
from tf_aspmtl.preprocessing import TextVectorizer, glove_embedding_matrix
from tf_aspmtl.runtime import configure_cpu_threads

logger = logging.getLogger("experiments.train")
MONITOR = "val_mean_task_accuracy"
FDU_MTL_CLASS_NAMES = ("negative", "positive")  # label 0 and 1 of every FDU-MTL task


@dataclass(frozen=True)
class TrainConfig:
    """Everything that defines a run; defaults are the short run."""

    model: str = "asp-mtl"
    tasks: tuple[str, ...] = FDU_MTL_TASKS
    encoder: str = "lstm"
    embedding: str = "glove"  # or "random"
    embedding_dim: int = 50
    hidden_dim: int = 64
    max_length: int = 64
    max_tokens: int = 30000
    batch_size: int = 16
    epochs: int = 1
    patience: int = 3
    learning_rate: float = 1e-3
    optimizer: str = "lazy-adam"  # or "adam" (dense updates of the whole embedding every step)
    adversarial_weight: float = 0.05
    difference_weight: float = 0.01
    difference_normalization: str = "normalized"
    adversarial_objective: str = "reversal"
    dropout: float = 0.0
    sampling: str = "proportional"
    unlabeled_fraction: float = 0.0
    seed: int = 0
    paper_scale: bool = False


PAPER_SCALE = {"hidden_dim": 100, "max_length": 200, "batch_size": 16, "epochs": 15, "patience": 3}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", choices=sorted(MODEL_FAMILIES), default="asp-mtl")
    p.add_argument("--tasks", default="all", help="comma-separated task names, or 'all' (the 16 FDU-MTL tasks)")
    p.add_argument("--encoder", choices=sorted(ENCODERS))
    p.add_argument("--embedding", choices=["glove", "random"])
    p.add_argument("--hidden-dim", type=int)
    p.add_argument("--max-length", type=int, help="tokens kept per text (the rest is cut)")
    p.add_argument("--batch-size", type=int)
    p.add_argument("--epochs", type=int)
    p.add_argument("--patience", type=int, help="epochs without dev improvement before stopping")
    p.add_argument("--learning-rate", type=float)
    p.add_argument("--optimizer", choices=sorted(OPTIMIZERS),
                   help="lazy-adam (default): Adam that updates only the embedding rows a batch used; adam: Keras' Adam")
    p.add_argument("--intra-op-threads", type=int,
                   help="TensorFlow intra-op threads (default TF's; 1 with --inter-op-threads <cores> is faster for "
                        "sp-mtl and asp-mtl on a small CPU, see experiments.bench)")
    p.add_argument("--inter-op-threads", type=int, help="TensorFlow inter-op threads (default TF's)")
    p.add_argument("--adversarial-weight", type=float, help="lambda (asp-mtl)")
    p.add_argument("--difference-weight", type=float, help="gamma (asp-mtl)")
    p.add_argument("--difference-normalization", choices=["normalized", "sum"])
    p.add_argument("--adversarial-objective", choices=["reversal", "confusion"],
                   help="reversal: the paper's gradient reversal; confusion: encoder pushes D toward uniform")
    p.add_argument("--dropout", type=float)
    p.add_argument("--sampling", choices=["proportional", "uniform"])
    p.add_argument("--unlabeled-fraction", type=float, help="share of unlabelled rows per batch (adversary only)")
    p.add_argument("--seed", type=int)
    p.add_argument("--paper-scale", action="store_true", help=f"the paper's sizes: {PAPER_SCALE}")
    p.add_argument("--config", help="JSON file of TrainConfig fields (e.g. written by experiments.tune)")
    p.add_argument("--data-dir", help="FDU-MTL folder (else $TF_ASPMTL_FDU_MTL, else ../shared/data/fdu-mtl)")
    p.add_argument("--output-dir", help="run folder (default runs/<model>-<time>)")
    p.add_argument("--results", help="also write the results JSON here (a .md table is written beside it)")
    p.add_argument("--verbose", type=int, default=1 if sys.stdout.isatty() else 2,
                   help="Keras fit verbosity: 1 progress bar (default in a terminal), 2 a line per epoch, 0 none")
    p.add_argument("--strategy", choices=STRATEGIES, default="default",
                   help="multi-worker: tf.distribute.MultiWorkerMirroredStrategy over the workers in $TF_CONFIG "
                        "(see experiments/distributed.py)")
    return p.parse_args(argv)


def resolve_config(args: argparse.Namespace) -> TrainConfig:
    """Defaults, then ``--paper-scale``, then ``--config``, then explicit flags."""
    values: dict[str, Any] = {}
    if args.paper_scale:
        values.update(PAPER_SCALE, paper_scale=True)
    if args.config:
        with open(args.config, encoding="utf-8") as f:
            loaded = json.load(f)
        loaded.pop("provenance", None)  # where the config came from (e.g. experiments.tune), not a setting
        known = {f.name for f in fields(TrainConfig)}
        unknown = sorted(set(loaded) - known)
        if unknown:
            raise ValueError(f"{args.config}: unknown field(s) {unknown}; expected some of {sorted(known)}")
        values.update(loaded)
    for f in fields(TrainConfig):
        flag = getattr(args, f.name, None)
        if flag is not None and f.name not in ("tasks", "paper_scale"):
            values[f.name] = flag
    if args.tasks != "all":
        values["tasks"] = tuple(t.strip() for t in args.tasks.split(",") if t.strip())
    elif "tasks" in values:
        values["tasks"] = tuple(values["tasks"])
    config = replace(TrainConfig(), **values)
    unknown_tasks = sorted(set(config.tasks) - set(FDU_MTL_TASKS))
    if unknown_tasks:
        raise ValueError(f"Unknown task(s) {unknown_tasks}; expected some of {list(FDU_MTL_TASKS)}")
    return config


def build_model(
    config: TrainConfig, task_names: list[str], vectorizer: TextVectorizer, word_vectors=None
) -> MultiTaskClassifier:
    """The family named by ``config.model``, compiled, with ``word_vectors`` loaded if given."""
    kwargs: dict[str, Any] = dict(
        vocabulary_size=vectorizer.vocabulary_size,
        embedding_dim=config.embedding_dim,
        encoder=config.encoder,
        hidden_dim=config.hidden_dim,
        dropout=config.dropout,
        preprocessor=vectorizer,
        per_task_metrics=True,
        class_names=[list(FDU_MTL_CLASS_NAMES)] * len(task_names),
    )
    if config.model == "asp-mtl":
        kwargs.update(
            adversarial_weight=config.adversarial_weight,
            difference_weight=config.difference_weight,
            difference_normalization=config.difference_normalization,
            adversarial_objective=config.adversarial_objective,
        )
    model = get_model_family(config.model)(task_names, name=config.model.replace("-", "_"), **kwargs)
    if word_vectors is not None:
        model.set_word_vectors(word_vectors)
    model.compile(optimizer=get_optimizer(config.optimizer, config.learning_rate))
    return model


def fit_and_select(model, train_ds, steps, dev_ds, config: TrainConfig, run_dir: Path, verbose: int):
    """Fits with dev-based checkpointing and early stopping; loads the best dev weights."""
    run_dir.mkdir(parents=True, exist_ok=True)
    best = run_dir / "best.weights.h5"
    log = run_dir / "history.csv"
    # A resumed run (BackupAndRestore) must not replace the best weights of
    # the epochs it already ran with worse ones.
    earlier = pd.read_csv(log)[MONITOR].max() if log.exists() and best.exists() else None
    callbacks = [
        keras.callbacks.BackupAndRestore(str(run_dir / "backup")),
        keras.callbacks.ModelCheckpoint(
            str(best), monitor=MONITOR, mode="max", save_best_only=True, save_weights_only=True,
            initial_value_threshold=None if earlier is None else float(earlier),
        ),
        keras.callbacks.EarlyStopping(monitor=MONITOR, mode="max", patience=config.patience),
        keras.callbacks.CSVLogger(str(log), append=True),
    ]
    history = model.fit(
        train_ds, steps_per_epoch=steps, epochs=config.epochs, validation_data=dev_ds,
        callbacks=callbacks, verbose=verbose,
    )
    model.load_weights(str(best))
    full = pd.read_csv(log)  # every epoch, including those before a resume
    best_epoch = int(full[MONITOR].idxmax()) + 1
    return {k: [float(v) for v in full[k]] for k in full.columns if k != "epoch"}, best_epoch


def task_errors(model: MultiTaskClassifier, dataset) -> dict[str, float]:
    """Error (%) of every task of ``model`` on ``dataset``."""
    logs = model.evaluate(dataset, return_dict=True, verbose=0)
    return {t: 100.0 * (1.0 - float(logs[f"acc_{t}"])) for t in model.task_names}


def run(
    config: TrainConfig, data_dir: str | None, run_dir: Path, command: str, verbose: int = 2,
    strategy: tf.distribute.Strategy | None = None,
) -> dict[str, Any]:
    """Trains, selects on dev, evaluates on test; returns the results record.

    With a ``strategy`` (``--strategy multi-worker``) the model is built in its
    scope and the datasets are split as ``experiments.distributed`` explains.
    """
    keras.utils.set_random_seed(config.seed)
    started = time.time()
    made_by = provenance(command)  # the code as it was when the run started
    tasks = list(config.tasks)
    splits = ("train", "dev", "test") + (("unlabeled",) if config.unlabeled_fraction > 0 else ())
    data = load_fdu_mtl(data_dir, tasks=tasks, splits=splits)
    train, dev, test = (data[data["split"] == s] for s in ("train", "dev", "test"))
    unlabeled = data[data["split"] == "unlabeled"] if config.unlabeled_fraction > 0 else None
    logger.info("data: %d train, %d dev, %d test rows over %d tasks", len(train), len(dev), len(test), len(tasks))

    vectorizer = TextVectorizer(max_length=config.max_length, max_tokens=config.max_tokens, name="preprocessor")
    vectorizer.adapt(train["text"].tolist())
    word_vectors, coverage = None, None
    if config.embedding == "glove":
        if config.embedding_dim != 50:
            raise ValueError(f"--embedding glove ships 50-d vectors; got embedding_dim={config.embedding_dim}")
        word_vectors, coverage = glove_embedding_matrix(vectorizer, seed=config.seed)
    logger.info("vocabulary %d words; GloVe coverage %s", vectorizer.vocabulary_size, coverage)

    groups = [[t] for t in tasks] if config.model == "single" else [tasks]
    per_task: dict[str, dict[str, float]] = {}
    histories: dict[str, Any] = {}
    for group in groups:
        label = "+".join(group) if len(group) < 4 else f"{len(group)} tasks"
        group_dir = run_dir / ("model" if len(groups) == 1 else f"model-{group[0]}")
        done = group_dir / "group_results.json"
        if done.exists():  # finished before an interruption: keep its results
            logger.info("%s already trained; reusing %s", label, done)
            finished = json.loads(done.read_text())
            per_task.update(finished["per_task"])
            histories[label] = finished["history"]
            continue
        logger.info("training %s on %s", config.model, label)
        sub = lambda df: df[df["task"].isin(group)]  # noqa: E731
        train_ds, steps = make_training_dataset(
            sub(train), vectorizer, group, batch_size=config.batch_size, sampling=config.sampling,
            unlabeled=None if unlabeled is None else sub(unlabeled),
            unlabeled_fraction=config.unlabeled_fraction, max_length=config.max_length, seed=config.seed,
        )
        dev_ds = make_eval_dataset(sub(dev), vectorizer, group)
        test_ds = make_eval_dataset(sub(test), vectorizer, group)
        train_ds, dev_ds, test_ds = distribute_datasets(strategy, train_ds, dev_ds, test_ds)
        with strategy.scope() if strategy else contextlib.nullcontext():
            model = build_model(config, group, vectorizer, word_vectors)
        history, best_epoch = fit_and_select(model, train_ds, steps, dev_ds, config, group_dir, verbose)
        dev_err, test_err = task_errors(model, dev_ds), task_errors(model, test_ds)
        group_results = {
            t: {"dev_error": dev_err[t], "test_error": test_err[t], "best_epoch": best_epoch} for t in group
        }
        per_task.update(group_results)
        histories[label] = history
        model.save(group_dir / "model.keras")
        write_json(done, {"per_task": group_results, "history": history})

    avg = lambda key: sum(r[key] for r in per_task.values()) / len(per_task)  # noqa: E731
    return {
        "model": config.model,
        "short_run": not config.paper_scale,
        "per_task": per_task,
        "avg_dev_error": avg("dev_error"),
        "avg_test_error": avg("test_error"),
        "config": asdict(config),
        "glove_coverage": coverage,
        "history": histories,
        "wall_time_s": time.time() - started,
        **made_by,
    }


def results_table(results: dict[str, Any]) -> str:
    """A markdown table of dev and test error per task, with the paper's number when known."""
    paper = _paper_errors(results["model"])
    lines = [
        f"# {results['model']}: error % (dev selects the epoch; test reported once)",
        "",
        f"`{results['command']}` at commit `{results['commit']}`, {results['wall_time_s']:.0f} s"
        + (" (short run: not the paper's scale)" if results["short_run"] else ""),
        "",
        "| task | dev error | test error | paper test error |",
        "|---|---:|---:|---:|",
    ]
    for task, r in results["per_task"].items():
        ref = paper.get(task)
        lines.append(f"| {task} | {r['dev_error']:.1f} | {r['test_error']:.1f} | {'' if ref is None else f'{ref:.1f}'} |")
    ref_avg = [paper[t] for t in results["per_task"] if t in paper]
    ref_txt = f"{sum(ref_avg) / len(ref_avg):.1f}" if len(ref_avg) == len(results["per_task"]) else ""
    lines.append(f"| **average** | **{results['avg_dev_error']:.1f}** | **{results['avg_test_error']:.1f}** | {ref_txt} |")
    return "\n".join(lines) + "\n"


PAPER_COLUMNS = {"single": "lstm", "fs-mtl": "fs_mtl", "sp-mtl": "sp_mtl", "asp-mtl": "asp_mtl"}
"""Table 2 column of each family (the single-task column is the paper's LSTM)."""
PAPER_TABLE = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "paper" / "table2_error_rates.csv"


def paper_table() -> pd.DataFrame | None:
    """The paper's Table 2 (test error %) indexed by task, or None without ../shared."""
    return pd.read_csv(PAPER_TABLE).set_index("task") if PAPER_TABLE.exists() else None


def _paper_errors(model: str) -> dict[str, float]:
    table = paper_table()
    return {} if table is None else table[PAPER_COLUMNS[model]].to_dict()


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    args = parse_args(argv)
    config = resolve_config(args)
    configure_cpu_threads(args.intra_op_threads, args.inter_op_threads)  # before any TensorFlow op
    strategy = make_strategy(args.strategy)
    run_dir = Path(args.output_dir or Path("runs") / f"{config.model}-{time.strftime('%Y%m%d-%H%M%S')}")
    run_dir = worker_run_dir(run_dir) if strategy else run_dir
    if not config.paper_scale:
        logger.info(
            "short run (%d epoch(s), hidden %d, max length %d): a smoke test of the pipeline, not the paper's "
            "numbers; add --paper-scale for those", config.epochs, config.hidden_dim, config.max_length,
        )
    command = command_line("experiments.train", argv)
    results = run(config, args.data_dir, run_dir, command, verbose=args.verbose, strategy=strategy)
    table = results_table(results)
    print(table)
    targets = [run_dir / "results.json"] + ([Path(args.results)] if args.results and (strategy is None or is_chief()) else [])
    for path in targets:
        write_json(path, results)
        write_atomic(path.with_suffix(".md"), table)
        logger.info("wrote %s and %s", path, path.with_suffix(".md"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
