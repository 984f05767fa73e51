"""Int task values read from data are task names (as learnt), not ids; ids come under "task_id"."""

import numpy as np
import pandas as pd
import pytest
import tensorflow as tf

from tf_aspmtl.models import SharedPrivateNgramClassifier
from tf_aspmtl.preprocessing import MultiTaskPreprocessor

TEXTS = ["good book", "bad book", "good film", "bad film", "dull film"]


def _frame(tasks) -> pd.DataFrame:
    # The tasks have distinct classes, so a row given to the wrong task has a label it does not know.
    return pd.DataFrame({"text": TEXTS, "task": tasks, "label": ["pos", "neg", "up", "down", "up"]})


@pytest.mark.parametrize("first, second", [(1, 0), (7, 0), (np.int64(3), np.int64(12))])
def test_int_tasks_are_looked_up_by_their_names(first, second):
    frame = _frame([first, first, second, second, second])
    pre = MultiTaskPreprocessor.from_frame(frame, max_length=4)
    assert pre.task_names == [str(first), str(second)]
    texts, task_ids, labels = pre.rows({"text": frame["text"], "task": frame["task"]}, frame["label"])
    assert task_ids.tolist() == [0, 0, 1, 1, 1]
    assert labels.tolist() == [1, 0, 1, 0, 1]
    graph = pre({"text": tf.constant(TEXTS[:2]), "task": tf.constant([int(second), int(first)])})
    assert graph["task_id"].numpy().tolist() == [1, 0]


def test_ids_are_read_as_ids_under_task_id():
    pre = MultiTaskPreprocessor.from_frame(_frame([1, 1, 0, 0, 0]), max_length=4)
    graph = pre({"text": tf.constant(TEXTS[:2]), "task_id": tf.constant([1, 0])})
    assert graph["task_id"].numpy().tolist() == [1, 0]


def test_an_int_that_names_no_task_is_refused_when_task_names_are_integers():
    pre = MultiTaskPreprocessor.from_frame(_frame([7, 7, 0, 0, 0]), max_length=4)
    with pytest.raises(ValueError) as info:
        pre.task_ids(["7", 1])
    for part in ("Row 1", "column 'task'", "task 1 names no task", "'task_id'"):
        assert part in str(info.value), str(info.value)
    with pytest.raises(tf.errors.InvalidArgumentError, match="Unknown task name"):
        pre({"text": tf.constant(["a"]), "task": tf.constant([1])})


def test_ints_stay_ids_when_no_task_name_is_an_integer():
    pre = MultiTaskPreprocessor.from_frame(_frame(["books", "books", "dvd", "dvd", "dvd"]), max_length=4)
    assert pre.task_ids([1, "books", np.int32(0)]).tolist() == [1, 0, 0]
    assert pre({"text": tf.constant(["a", "b"]), "task": tf.constant([1, 0])})["task_id"].numpy().tolist() == [1, 0]


def test_a_model_predicts_int_task_rows_as_the_tasks_of_those_names():
    frame = _frame([1, 1, 0, 0, 0]).assign(label=["pos", "neg", "up", "down", "flat"])  # task "0": 3 classes
    model = SharedPrivateNgramClassifier.from_frame(frame, max_features=20)
    by_int = model.predict({"text": TEXTS, "task": [1, 1, 0, 0, 0]}, verbose=0)
    by_name = model.predict({"text": TEXTS, "task": ["1", "1", "0", "0", "0"]}, verbose=0)
    np.testing.assert_allclose(by_int, by_name)
    assert (by_int[:2, 2] == 0).all() and (by_int[2:, 2] > 0).all()  # task "1" has no third class


def test_classes_keyed_by_int_task_values_fix_the_classes_of_those_tasks():
    # The frame's int tasks are the tasks "7" and "0"; classes= keyed by the same ints (as LabelMap and
    # load_multitask_table take them) names those tasks, not "no entry for task(s) ['7', '0']".
    frame = _frame([7, 7, 0, 0, 0])
    pre = MultiTaskPreprocessor.from_frame(frame, max_length=4, classes={7: ["pos", "neg"], 0: ["up", "down"]})
    assert pre.task_names == ["7", "0"]
    assert pre.classes("7") == ["pos", "neg"] and pre.classes("0") == ["up", "down"]


def test_an_int_task_id_out_of_range_is_refused_in_the_graph_by_name():
    # Ids passed as tensors skipped task_ids' check: a gather then failed with "indices[0] = 5 is not in [0, 2)"
    # on a CPU, or read zeros on a GPU.
    frame = pd.DataFrame({"text": ["good", "bad", "fine", "poor"], "task": ["a", "a", "b", "b"],
                          "label": ["pos", "neg", "pos", "neg"]})
    pre = MultiTaskPreprocessor.from_frame(frame, max_length=4)
    assert pre.graph_task_ids(tf.constant([1, 0]), ids=True).numpy().tolist() == [1, 0]
    for bad in ([0, 5], [-1]):
        with pytest.raises(tf.errors.InvalidArgumentError, match=r"a task id is outside \[0, 2\)"):
            pre.graph_task_ids(tf.constant(bad), ids=True)
