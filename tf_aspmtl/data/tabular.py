"""Users' own multi-task text data: :func:`load_multitask_table` reads a CSV, TSV, parquet file or a DataFrame
and encodes its labels.

Reading and checking the table is :mod:`tf_aspmtl.data.table_reader`'s job; the classes and their ids are
:mod:`tf_aspmtl.data.label_map`'s (:class:`LabelMap` and :func:`tasks_and_classes` are importable from here too).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Hashable, Mapping, Sequence

import numpy as np
import pandas as pd

from tf_aspmtl.data.label_map import LabelMap, plain_scalar, tasks_and_classes
from tf_aspmtl.data.table_reader import TableSource, check_cells, check_columns, read_table

logger = logging.getLogger(__name__)

__all__ = ["LabelMap", "load_multitask_table", "tasks_and_classes"]


def _encode_labels(
    source: TableSource,
    tasks: list[str],
    labels: list,
    label_map: LabelMap,
    label_column: str,
    task_column: str,
    splits: list[str] | None = None,
    train_split: str | None = None,
) -> np.ndarray:
    """Encodes every row's label with `label_map`, naming the first bad row.

    Args:
        source: TableSource. The table, for messages.
        tasks: list of str. Task of each row.
        labels: list. Label of each row.
        label_map: LabelMap. The mapping.
        label_column: str. Label column name, for messages.
        task_column: str. Task column name, for messages.
        splits: list of str or None. Split of each row, given when
            `label_map` was learnt from the rows of split `train_split` only;
            a task or label unknown to it on another split's row is then
            reported as seen only outside the training rows.
        train_split: str or None. Name of the training split.

    Returns:
        np.ndarray of int64 ids.

    Raises:
        ValueError: a row's task or label is unknown to `label_map` (a label
            matches the class with its text form: see `LabelMap`).
    """
    ids = np.empty(len(labels), dtype=np.int64)
    known = set(label_map.tasks)
    advice = "pass classes= (or label_map=) to declare every task's labels"
    for row, (task, label) in enumerate(zip(tasks, labels)):
        outside = splits is not None and splits[row] != train_split
        if task not in known:
            if outside:
                raise ValueError(
                    f"{source.where(row)}: field {task_column!r}: task {task!r} has no "
                    f"training rows (this row's split is {splits[row]!r}, not "
                    f"{train_split!r}); the training rows have tasks {label_map.tasks}; "
                    f"{advice}"
                )
            raise ValueError(
                f"{source.where(row)}: field {task_column!r}: unknown task {task!r}; "
                f"expected one of {label_map.tasks}"
            )
        label = plain_scalar(label)
        found = label_map.find(task, label)
        if found is None:
            if outside:
                raise ValueError(
                    f"{source.where(row)}: field {label_column!r}: label {label!r} of task "
                    f"{task!r} appears only outside the training rows (this row's split is "
                    f"{splits[row]!r}, not {train_split!r}); the training rows of {task!r} "
                    f"have labels {label_map.classes(task)}; {advice}"
                )
            raise ValueError(
                f"{source.where(row)}: field {label_column!r}: unknown label {label!r} "
                f"for task {task!r}{label_map.why_not(task, label)}; expected one of {label_map.classes(task)}"
            )
        ids[row] = found
    return ids


def load_multitask_table(
    source: str | os.PathLike | pd.DataFrame,
    text_column: str = "text",
    label_column: str = "label",
    task_column: str = "task",
    split_column: str | None = None,
    label_map: LabelMap | None = None,
    classes: Mapping[str, Sequence[Hashable]] | None = None,
    train_split: str = "train",
    encode_labels: bool = True,
) -> tuple[pd.DataFrame, LabelMap]:
    """Loads a multi-task text-classification table and encodes its labels.

    CSV/TSV files must be UTF-8 (a leading BOM is allowed). Their cells are
    read as strings with no NA guessing, so labels such as "NA" or "0" stay
    strings; an empty cell is an error. A .csv cell may be quoted (and then
    hold commas and line breaks); a .tsv/.tab file has no quoting: one line
    is one row and a cell is read as it is, quotes included. Task names
    become strings. Any number of tasks and of classes per task is accepted.

    Unless `label_map` or `classes` is given, the classes are learnt from
    the data: from every row if there is no `split_column`, else from the
    rows of split `train_split` only, and a task or label that appears only
    on other splits' rows (dev, test, ...) is an error rather than a class
    the model never trains on.

    Args:
        source: path to a .csv, .tsv/.tab or .parquet file, or a DataFrame.
        text_column: str. Column holding the texts.
        label_column: str. Column holding the labels (strings or ints).
        task_column: str. Column holding the task names.
        split_column: str or None. Optional column holding split names.
        label_map: LabelMap or None. Mapping to use; None builds one from
            `classes` or else from the data with `LabelMap.from_frame`
            (sorted labels).
        classes: mapping from task name to the sequence of its labels, or
            None. The full label set, as for `LabelMap(classes)` (a label's
            id is its position); allows labels absent from the training
            rows. Not together with `label_map`. A cell matches the class
            with its text form (the cell "1" is the class 1).
        train_split: str. With `split_column`, the split whose rows the
            classes are learnt from.
        encode_labels: bool. True: the label column holds class ids; False:
            each row's class value (checked all the same), what a model's
            `fit` and `MultiTaskPreprocessor.from_frame` take.

    Returns:
        (frame, label_map): frame has columns task (str), text (str), label
        (int64 ids, or the class values with `encode_labels=False`) and, if
        `split_column` is given, split (str).

    Raises:
        FileNotFoundError: `source` names a missing file.
        ValueError: unsupported file, bytes that are not UTF-8, a row with
            more fields than the header, missing column, no rows, a missing
            or blank text/label/task/split, a task or label unknown to
            `label_map`/`classes` or seen only outside the `train_split`
            rows, or no `train_split` row to learn classes from; the
            message names the file (or "<DataFrame>"), the 1-based data row
            (and file line for CSV/TSV) and the field.

    Example:
        >>> table = pd.DataFrame({"task": ["a", "a", "b"], "text": ["x", "y", "z"],
        ...                       "label": ["pos", "neg", "NA"]})
        >>> frame, label_map = load_multitask_table(table)
        >>> frame["label"].tolist(), label_map.classes("a")
        ([1, 0, 0], ['neg', 'pos'])
    """
    if label_map is not None and classes is not None:
        raise ValueError("Pass either label_map or classes, not both")
    if classes is not None:
        label_map = LabelMap(classes)
    columns = {"task": task_column, "text": text_column, "label": label_column}
    if split_column is not None:
        columns["split"] = split_column
    source = read_table(source, list(columns.values()))
    check_columns(source, columns)
    check_cells(source, columns)
    frame = source.frame
    tasks = [str(plain_scalar(t)) for t in frame[task_column].tolist()]
    labels = frame[label_column].tolist()
    splits = None
    if split_column is not None:
        splits = [str(plain_scalar(s)) for s in frame[split_column].tolist()]
    learnt_from_train = label_map is None and splits is not None
    if label_map is None:
        rows = range(len(tasks))
        if learnt_from_train:
            rows = [i for i, split in enumerate(splits) if split == train_split]
            if not rows:
                found = sorted(set(splits))
                raise ValueError(
                    f"{source.name}: field {split_column!r}: none of the {len(splits)} rows "
                    f"has split {train_split!r} (splits found: {found}), so there are no training "
                    f"rows to learn the classes from; pass train_split= naming the "
                    f"training split, or classes= (or label_map=)"
                )
        learnt = pd.DataFrame(
            {"task": [tasks[i] for i in rows], "label": [labels[i] for i in rows]}
        )
        try:
            label_map = LabelMap.from_frame(learnt)
        except ValueError as error:
            raise ValueError(f"{source.name}: field {label_column!r}: {error}") from None
    out = pd.DataFrame(
        {
            "task": pd.Series(tasks, dtype=str),
            "text": pd.Series(frame[text_column].tolist(), dtype=str),
            "label": _encode_labels(
                source,
                tasks,
                labels,
                label_map,
                label_column,
                task_column,
                splits if learnt_from_train else None,
                train_split,
            ),
        }
    )
    if not encode_labels:
        out["label"] = pd.Series([label_map.classes(t)[i] for t, i in zip(out["task"], out["label"])], dtype=object)
    if splits is not None:
        out["split"] = pd.Series(splits, dtype=str)
    logger.info("Loaded %d rows, %d tasks from %s", len(out), len(label_map.tasks), source.name)
    return out, label_map
