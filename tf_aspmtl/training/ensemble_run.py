"""An ensemble of trained models scored on FDU-MTL: every listed member, or members and weights chosen on dev."""

from __future__ import annotations

import logging
import os
import time
from typing import Any, Sequence

import pandas as pd

from tf_aspmtl.data.fdu_mtl import load_fdu_mtl
from tf_aspmtl.models.multitask_ensemble import MultiTaskEnsemble

logger = logging.getLogger("tf_aspmtl.training")
SPLITS = ("dev", "test")
"""What an ensemble is scored on: dev (the last 200 rows of each train file, as in training), then test."""


def ensemble_split(model: MultiTaskEnsemble, split: str, data_dir: str | os.PathLike | None = None) -> pd.DataFrame:
    """FDU-MTL rows of ``split`` for the ensemble's tasks, labelled with the class values its members know.

    FDU-MTL's labels are class ids (0 negative, 1 positive); a member knows its classes by their values (the
    names :func:`tf_aspmtl.training.run` gives them, or 0 and 1), listed in id order.

    Args:
        model: the ensemble (its first member says how its classes are named).
        split: ``"dev"`` or ``"test"`` (or ``"train"``).
        data_dir: FDU-MTL folder (else ``$TF_ASPMTL_FDU_MTL``, else ``../shared/data/fdu-mtl``).
    """
    frame = load_fdu_mtl(data_dir, tasks=model.task_names, splits=(split,)).reset_index(drop=True)
    pre = getattr(model.members[0], "preprocessor", None)  # an n-gram member has none: its classes are names
    classes = pre.classes if pre is not None else (lambda task: model.class_names[model.task_id(task)])
    frame["label"] = [classes(t)[int(label)] for t, label in zip(frame["task"], frame["label"])]
    return frame


def _errors(scores: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """``{"per_task": {task: {"dev_error", "test_error"}}, "avg_dev_error", "avg_test_error"}`` of per-split scores."""
    tasks = list(scores[SPLITS[0]]["per_task"])
    return {"per_task": {t: {f"{s}_error": scores[s]["per_task"][t]["error"] for s in SPLITS} for t in tasks},
            **{f"avg_{s}_error": scores[s]["avg_error"] for s in SPLITS}}


def score_ensemble(ensemble: MultiTaskEnsemble, data_dir: str | os.PathLike | None = None,
                   batch_size: int = 128) -> dict[str, Any]:
    """Per-task dev and test error (%) of the ensemble and of each member, and the rows scored.

    Args:
        ensemble: the ensemble; each member predicts every row once.
        data_dir: FDU-MTL folder.
        batch_size: rows per prediction batch.

    Returns:
        ``{"rows": {split: n}, "per_task", "avg_dev_error", "avg_test_error", "members": [the same of each]}``.
    """
    scores, rows = {}, {}
    for split in SPLITS:
        frame = ensemble_split(ensemble, split, data_dir)
        started = time.monotonic()
        logger.info("%s: %d rows of %d tasks, %d members", split, len(frame), frame["task"].nunique(),
                    ensemble.num_members)
        scores[split] = ensemble.evaluate_frame(frame, batch_size=batch_size, members=True)
        rows[split] = len(frame)
        logger.info("%s: ensemble error %.2f %% (members %s) in %.0f s", split, scores[split]["avg_error"],
                    ", ".join(f"{m['avg_error']:.2f}" for m in scores[split]["members"]), time.monotonic() - started)
    members = [_errors({s: scores[s]["members"][i] for s in SPLITS}) for i in range(ensemble.num_members)]
    return {"rows": rows, **_errors(scores), "members": members}


def run_ensemble(paths: Sequence[str | os.PathLike], data_dir: str | os.PathLike | None = None,
                 select_on_dev: bool = False, max_steps: int = 20,
                 batch_size: int = 128) -> tuple[MultiTaskEnsemble, dict[str, Any]]:
    """Loads the models at ``paths``, makes their ensemble, and scores it and each member on dev and test.

    Without ``select_on_dev`` every model is a member with an equal share (nothing is chosen on test, which is
    only read to report). With it, :meth:`MultiTaskEnsemble.select` chooses members and weights on dev alone
    (greedy forward selection with replacement on the mean per-task log loss) and test is read afterwards, once.

    Args:
        paths: ``.keras`` files of models sharing tasks and classes (vocabularies may differ).
        data_dir: FDU-MTL folder (else ``$TF_ASPMTL_FDU_MTL``, else ``../shared/data/fdu-mtl``).
        select_on_dev: choose members and weights among ``paths`` on dev.
        max_steps: the most picks of the selection (the largest total weight).
        batch_size: rows per prediction batch.

    Returns:
        ``(ensemble, record)``; the record holds ``members`` (their paths), ``weights`` (shares), ``selection``
        (None, or the candidates and the selection's steps), ``tasks``, ``rows``, ``per_task``,
        ``avg_dev_error``, ``avg_test_error``, ``member_results`` and ``members_mean``.

    Raises:
        FileNotFoundError, ValueError: a model that cannot be loaded, or models that cannot be ensembled.
    """
    models = []
    for i, path in enumerate(paths):
        started = time.monotonic()
        models.append(MultiTaskEnsemble.load_member(path))
        logger.info("model %d/%d loaded from %s (%s, %d tasks) in %.0f s", i + 1, len(paths), path,
                    type(models[-1]).__name__, models[-1].num_tasks, time.monotonic() - started)
    paths, selection = [str(p) for p in paths], None
    if select_on_dev:
        dev = ensemble_split(MultiTaskEnsemble(models, name="candidates"), "dev", data_dir)
        logger.info("choosing among %d candidates on %d dev rows", len(models), len(dev))
        ensemble, chosen = MultiTaskEnsemble.select(models, dev, max_steps=max_steps, batch_size=batch_size,
                                                    name="ensemble")
        selection = {"candidates": paths, **chosen.to_dict()}
        paths = [paths[i] for i in chosen.members]
        logger.info("chosen: %s", ", ".join(f"{p} x{w}" for p, w in zip(paths, chosen.weights)))
    else:
        ensemble = MultiTaskEnsemble(models, name="ensemble")
    results = score_ensemble(ensemble, data_dir, batch_size)
    member_results = [{"path": path, "class": type(m).__name__, "weight": w, **r}
                      for path, m, w, r in zip(paths, ensemble.members, ensemble.shares, results.pop("members"))]
    mean = {f"avg_{s}_error": sum(m[f"avg_{s}_error"] for m in member_results) / len(member_results) for s in SPLITS}
    return ensemble, {"members": paths, "weights": ensemble.shares, "selection": selection,
                      "tasks": ensemble.task_names, **results, "member_results": member_results, "members_mean": mean}
