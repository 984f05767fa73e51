"""One rule matches a label to a class, whatever the route: its text form ("1" is the class 1; True and 1.0 are not)."""

import numpy as np
import pandas as pd
import pytest

from tf_aspmtl.data import LabelMap, load_multitask_table
from tf_aspmtl.preprocessing import TaskPreprocessor

CLASSES = {"a": [0, 1]}


def _by_table(label) -> int:
    frame = pd.DataFrame({"task": ["a"], "text": ["x"], "label": pd.Series([label], dtype=object)})
    table, _ = load_multitask_table(frame, classes=CLASSES)
    return int(table["label"][0])


def _by_preprocessor(label) -> int:
    return int(TaskPreprocessor(["a"], CLASSES).encode_labels(["a"], [label])[0])


def _by_label_map(label) -> int:
    return int(LabelMap(CLASSES).encode("a", [label])[0])


@pytest.mark.parametrize("route", [_by_table, _by_preprocessor, _by_label_map])
@pytest.mark.parametrize("label", ["1", 1, np.int64(1), b"1"])
def test_every_route_takes_the_text_form_of_a_class(route, label):
    assert route(label) == 1


@pytest.mark.parametrize("route", [_by_table, _by_preprocessor, _by_label_map])
@pytest.mark.parametrize("label", [True, 1.0, np.float64(1.0), "01", " 1"])
def test_every_route_refuses_a_value_of_another_text_form(route, label):
    with pytest.raises(ValueError, match=r"(?i)label .* (is not a class|for task 'a')"):
        route(label)


def test_a_csv_label_matches_given_int_classes(tmp_path):
    path = tmp_path / "ints.csv"
    path.write_text("task,text,label\na,x,1\na,y,0\n", encoding="utf-8")
    frame, label_map = load_multitask_table(path, classes=CLASSES)
    assert frame["label"].tolist() == [1, 0]
    assert label_map.classes("a") == [0, 1]


@pytest.mark.parametrize("classes", [[0, "0"], ["1", 1, 2], [True, "True"]])
def test_classes_whose_text_forms_collide_are_refused(classes):
    with pytest.raises(ValueError, match=r"Task 'a' has repeated classes: .* as text"):
        LabelMap({"a": classes})
    with pytest.raises(ValueError, match=r"repeated classes"):
        TaskPreprocessor(["a"], {"a": classes})


def test_classes_learnt_from_a_frame_are_one_per_text_form():
    frame = pd.DataFrame({"task": ["a"] * 4, "label": pd.Series([1, np.int64(1), 0, 0], dtype=object)})
    assert LabelMap.from_frame(frame).classes("a") == [0, 1]


def test_a_value_equal_to_a_class_in_python_is_told_why_it_is_not_that_class():
    with pytest.raises(ValueError, match=r"True equals the class 1 in Python, but .* text form, here 'True'"):
        _by_preprocessor(True)
    with pytest.raises(ValueError, match=r"1\.0 equals the class 1 in Python"):
        _by_table(1.0)
