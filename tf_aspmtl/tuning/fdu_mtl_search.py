"""A Keras Tuner search on FDU-MTL's train and dev splits: resumable, and shared by several processes if asked."""

from __future__ import annotations

import dataclasses
import functools
import json
import logging
import os
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Mapping

import keras
import keras_tuner
import pandas as pd

from tf_aspmtl.data.fdu_mtl import load_fdu_mtl
from tf_aspmtl.data.pipeline import make_eval_dataset, make_training_dataset
from tf_aspmtl.io_utils import folder_lock, remove_stale_partial_files, write_json_atomic
from tf_aspmtl.preprocessing import MultiTaskPreprocessor, TextVectorizer, embedding_matrix
from tf_aspmtl.training.fit_with_dev_selection import MONITOR
from tf_aspmtl.training.train_config import FDU_MTL_CLASS_NAMES, TrainConfig
from tf_aspmtl.tuning.aspmtl_hypermodel import ASPMTLHyperModel, searched_hyperparameters
from tf_aspmtl.tuning.build_tuner import build_tuner

logger = logging.getLogger("tf_aspmtl.tuning")
SEARCH_SETTINGS = "search_settings.json"
"""The file in a search's project folder that records the settings it was started with."""
RESUMABLE_CHANGES = ("trials", "verbose", "results", "overwrite", "data_dir")
"""Settings that may change when a search is resumed; every other one must match."""
NOT_SEARCHED = {"unlabeled_fraction": 0.0, "lm_pretrain_epochs": 0, "self_training_threshold": 0.0}
"""TrainConfig fields whose training a search does not do (unlabelled rows in the batches, language-model
pretraining, self-training), with their off values: a search config with one on is refused, not searched without it."""


@dataclasses.dataclass
class FduMtlSearch:
    """A finished (or, for a worker, exhausted) search: what :func:`search_fdu_mtl` built and ran.

    Attributes:
        tuner: the keras-tuner tuner (its ``oracle`` holds every trial).
        hypermodel: the :class:`ASPMTLHyperModel` searched.
        hyperparameters: the fixed hyperparameters given to the tuner.
        role: ``"single"``, ``"chief"`` or ``"worker"`` (:func:`distributed_role`).
        project_dir: the project folder (``directory/project_name``).
    """

    tuner: keras_tuner.Tuner
    hypermodel: ASPMTLHyperModel
    hyperparameters: keras_tuner.HyperParameters
    role: str
    project_dir: Path


def distributed_role() -> str:
    """``"single"``, ``"chief"`` or ``"worker"``, from keras-tuner's ``KERASTUNER_*`` environment variables.

    Raises:
        ValueError: ``KERASTUNER_ORACLE_IP`` is set without the port or the tuner id.
    """
    if "KERASTUNER_ORACLE_IP" not in os.environ:
        return "single"
    missing = [v for v in ("KERASTUNER_ORACLE_PORT", "KERASTUNER_TUNER_ID") if v not in os.environ]
    if missing:
        raise ValueError(f"KERASTUNER_ORACLE_IP is set but {missing} are not; set all three on every machine")
    return "chief" if "chief" in os.environ["KERASTUNER_TUNER_ID"] else "worker"


@contextmanager
def project_lock(directory: str | os.PathLike, project_name: str, role: str) -> Iterator[None]:
    """Holds the lock of the tuner project ``directory/project_name`` for a single search or a distributed
    search's chief; a worker takes none.

    Only the chief (or a single search) writes the oracle's files, so two of them on one project would write
    over each other's trials; the workers write their own tuner file and the checkpoints of the trials the chief
    gives them, and run while the chief holds the lock. The lock file, ``.<project_name>.lock``, is beside the
    project folder, not in it: keras-tuner's ``overwrite`` deletes that folder.

    Raises:
        tf_aspmtl.io_utils.FolderBusyError: another live chief or single search holds the project (its pid
            named); the lock of a dead one is taken over.
    """
    if role == "worker":
        yield
        return
    with folder_lock(directory, f".{project_name}.lock", what="tuner project (--project-name)"):
        yield


def check_resumable(project_dir: str | os.PathLike, settings: Mapping[str, Any], role: str = "single") -> None:
    """Refuses to resume a project started with other settings (:data:`RESUMABLE_CHANGES` aside); records them.

    Args:
        project_dir: the search's project folder.
        settings: what defines the search (JSON-ready).
        role: :func:`distributed_role`; a worker checks but leaves the record to the chief.

    Raises:
        ValueError: naming the settings that differ, ``(old, new)``, or the record that cannot be read.
    """
    path = Path(project_dir) / SEARCH_SETTINGS
    if path.exists():
        try:
            old = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
            raise ValueError(f"{path} (the settings this search was started with) cannot be read ({err}); start the "
                             "search afresh (--overwrite) or give it another project name") from None
        if not isinstance(old, dict):
            raise ValueError(f"{path} (the settings this search was started with) holds no JSON object; start the "
                             "search afresh (--overwrite) or give it another project name")
        changed = {k: (old.get(k), settings.get(k)) for k in sorted(set(old) | set(settings))
                   if k not in RESUMABLE_CHANGES and old.get(k) != settings.get(k)}
        if changed:
            raise ValueError(f"{project_dir} holds a search started with other settings {changed} (old, new); "
                             "resume it with the same arguments, or use another project name, or overwrite it")
    if role != "worker":
        write_json_atomic(path, dict(settings))


def search_data(config: TrainConfig, data_dir: str | os.PathLike | None = None,
                max_rows_per_task: int | None = None) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame | None]:
    """The train and dev rows of ``config.tasks`` (never test) and the word2vec corpus, if its embedding needs one.

    The corpus is :func:`tf_aspmtl.training.run`'s: the tasks' train and unlabelled rows, never dev or test text,
    so a search and a run share the word2vec cache.

    Args:
        config: the search's settings (its tasks and embedding).
        data_dir: FDU-MTL folder (else ``$TF_ASPMTL_FDU_MTL``, else ``../shared/data/fdu-mtl``).
        max_rows_per_task: keep the first rows of each task and split only (smoke tests).

    Returns:
        ``(train, dev, corpus)``: frames of ``task``, ``text``, ``label``, ``split``; ``corpus`` None without
        word2vec.
    """
    uses_word2vec = config.embedding in ("word2vec", "glove+word2vec")
    data = load_fdu_mtl(data_dir, tasks=list(config.tasks),
                        splits=("train", "dev") + (("unlabeled",) if uses_word2vec else ()))
    if max_rows_per_task:
        data = data.groupby(["task", "split"], sort=False).head(max_rows_per_task)
    train, dev = (data[data["split"] == s].reset_index(drop=True) for s in ("train", "dev"))
    corpus = data[data["split"].isin(("train", "unlabeled"))].reset_index(drop=True) if uses_word2vec else None
    return train, dev, corpus


def search_fdu_mtl(config: TrainConfig, tuner: str, trials: int, directory: str | os.PathLike, project_name: str,
                   settings: Mapping[str, Any], fixed: Mapping[str, float | int] | None = None,
                   reference_first: bool = True, overwrite: bool = False, initial_points: int | None = None,
                   hyperband_factor: int = 3, data_dir: str | os.PathLike | None = None,
                   max_rows_per_task: int | None = None, cache_dir: str | os.PathLike | None = None,
                   verbose: int = 2) -> FduMtlSearch:
    """Searches the hyperparameters of ``config``'s family on FDU-MTL, choosing on the mean dev accuracy.

    Only the train and dev splits are read (and the unlabelled rows for word2vec vectors), never test. Every
    trial reads the same seeded stream of batches, built afresh for it, so a search interrupted and run again
    (keras-tuner reloads ``directory/project_name``, keeps the finished trials and reruns the interrupted one)
    scores every trial as an uninterrupted one would. With ``KERASTUNER_*`` set (:func:`distributed_role`), the
    chief serves the oracle and the workers run the trials.

    Args:
        config: the search's fixed settings (family, tasks, sizes, epochs per trial, patience, seed...).
        tuner: one of :data:`~tf_aspmtl.tuning.TUNERS`.
        trials: trials in all (Hyperband: a cap).
        directory, project_name: keras-tuner's project folder.
        settings: what defines the search, recorded in :data:`SEARCH_SETTINGS` and checked on resumption.
        fixed: hyperparameters held at a value instead of searched.
        reference_first: make the first trial the paper's point.
        overwrite: delete an existing project and start afresh.
        initial_points: Bayesian optimisation's random trials first (default ``max(3, trials // 3)``).
        hyperband_factor: Hyperband's reduction factor.
        data_dir: FDU-MTL folder (else ``$TF_ASPMTL_FDU_MTL``, else ``../shared/data/fdu-mtl``).
        max_rows_per_task: first rows of each task and split only (smoke tests).
        cache_dir: where word2vec vectors are cached (``word_vectors/`` in it; default ``runs/cache``).
        verbose: Keras ``fit`` verbosity.

    Raises:
        ValueError: a fixed name that the family does not search, a setting of ``config`` whose training a search
            does not do (:data:`NOT_SEARCHED`), or a project of other settings.
    """
    allowed = searched_hyperparameters(config.model)
    unknown = sorted(set(fixed or {}) - set(allowed))
    if unknown:
        raise ValueError(f"fixed hyperparameter(s) {unknown} are not searched for {config.model!r}; "
                         f"expected some of {list(allowed)}")
    on = [name for name, off in NOT_SEARCHED.items() if getattr(config, name) != off]
    if on:
        raise ValueError(f"{', '.join(f'TrainConfig.{name}={getattr(config, name)!r}' for name in on)}: a search "
                         f"trains without {'it' if len(on) == 1 else 'them'} (unlabelled rows, language-model "
                         "pretraining and self-training are experiments.train's); leave them off to search")
    role = distributed_role()
    project_dir = Path(directory) / project_name
    with project_lock(directory, project_name, role):  # a second chief (or single search) is refused by name
        if role != "worker":
            for folder in [project_dir, *sorted(project_dir.glob("trial_*"))]:
                for stale in remove_stale_partial_files(folder):
                    logger.warning("removed %s, a file left half written by a process that died", stale)
        if not overwrite:
            check_resumable(project_dir, settings, role)
        keras.utils.set_random_seed(config.seed)
        tasks = list(config.tasks)
        train, dev, corpus = search_data(config, data_dir, max_rows_per_task)
        logger.info("%s: %d train and %d dev rows over %d tasks (test is not read)", role, len(train), len(dev),
                    len(tasks))
        vectorizer = TextVectorizer(max_length=config.max_length, max_tokens=config.max_tokens,
                                    truncation=config.truncation, name="text_vectorizer")
        vectorizer.adapt(train["text"].tolist())
        preprocessor = MultiTaskPreprocessor(tasks, {t: list(FDU_MTL_CLASS_NAMES) for t in tasks},
                                             text_vectorizer=vectorizer, name="preprocessor")
        word_vectors = None
        if config.embedding != "random":
            texts = None if corpus is None else corpus["text"].tolist()
            word_vectors, stats = embedding_matrix(config.embedding, vectorizer, texts, dim=config.embedding_dim,
                                                   seed=config.seed,
                                                   cache_dir=Path(cache_dir or "runs/cache") / "word_vectors")
            logger.info("%s word vectors (%d-d) cover %.1f%% of the vocabulary", config.embedding, config.embedding_dim,
                        100.0 * stats["coverage"])
        hypermodel = ASPMTLHyperModel(
            preprocessor, family=config.model, word_vectors=word_vectors, embedding_dim=config.embedding_dim,
            encoder=config.encoder, difference_normalization=config.difference_normalization,
            adversarial_objective=config.adversarial_objective, optimizer=config.optimizer, seed=config.seed,
            base_config=config,
        )
        hyperparameters = keras_tuner.HyperParameters()
        for name, value in (fixed or {}).items():
            hyperparameters.Fixed(name, value)
        found = build_tuner(
            tuner, hypermodel, max_trials=trials, directory=str(directory), project_name=project_name,
            max_epochs=config.epochs, hyperparameters=hyperparameters, seed=config.seed,
            reference_first=reference_first, overwrite=overwrite and role != "worker",
            num_initial_points=initial_points or min(trials, max(3, trials // 3)), hyperband_factor=hyperband_factor,
        )
        if overwrite and role != "worker":
            write_json_atomic(project_dir / SEARCH_SETTINGS, dict(settings))
        if role == "single":
            done = sum(t.status in ("COMPLETED", "FAILED") for t in found.oracle.trials.values())
            logger.info("search %s: %d of %d trials already done", project_dir, done, trials)
        if role == "chief":
            logger.info("chief: serving the oracle on %s:%s; the tuners run the trials",
                        os.environ["KERASTUNER_ORACLE_IP"], os.environ["KERASTUNER_ORACLE_PORT"])
            found.search(verbose=verbose)
        else:
            # A fresh seeded stream for every trial (see ASPMTLHyperModel.fit): the same data order in every trial,
            # whether or not the search was interrupted.
            train_data = functools.partial(
                make_training_dataset, train, preprocessor.token_ids, tasks, batch_size=config.batch_size,
                sampling=config.sampling, max_length=config.max_length, seed=config.seed,
            )
            dev_ds = make_eval_dataset(dev, preprocessor.token_ids, tasks)
            stop = keras.callbacks.EarlyStopping(monitor=MONITOR, mode="max", patience=config.patience)
            found.search(train_data, epochs=config.epochs, validation_data=dev_ds, callbacks=[stop], verbose=verbose)
    return FduMtlSearch(found, hypermodel, hyperparameters, role, project_dir)
