"""A missing text, task or label (None, NaN) is an error naming its row and column, never the word "nan"."""

import numpy as np
import pandas as pd
import pytest

from tf_aspmtl.data import LabelMap
from tf_aspmtl.preprocessing import MultiTaskPreprocessor, NgramFeatures, NgramPreprocessor

FRAME = pd.DataFrame({"text": ["good book", "bad book", "good film", "bad film"], "task": ["b", "b", "f", "f"],
                      "label": ["pos", "neg", "pos", "neg"]})


@pytest.mark.parametrize("build", [
    lambda frame: MultiTaskPreprocessor.from_frame(frame, max_length=4),
    lambda frame: NgramPreprocessor.from_frame(frame, max_features=20),
], ids=["tokens", "ngrams"])
@pytest.mark.parametrize("column, value", [
    ("label", np.nan), ("label", None), ("text", np.nan), ("text", None), ("task", np.nan), ("task", pd.NA),
])
def test_learning_from_a_frame_names_a_missing_cell(build, column, value):
    frame = FRAME.astype(object)
    frame.loc[2, column] = value
    with pytest.raises(ValueError, match=rf"Row 2: column '{column}': missing {column} \("):
        build(frame)


def test_a_frame_with_its_own_index_names_the_row_and_the_index():
    frame = FRAME.astype(object).set_axis(["w", "x", "y", "z"])
    frame.loc["x", "label"] = None
    with pytest.raises(ValueError, match=r"Row 1 \(index 'x'\): column 'label': missing label"):
        MultiTaskPreprocessor.from_frame(frame, max_length=4)


def test_rows_to_predict_or_fit_name_a_missing_text_task_or_label():
    pre = MultiTaskPreprocessor.from_frame(FRAME, max_length=4)
    with pytest.raises(ValueError, match=r"Row 1: column 'text': missing text \(nan\)"):
        pre.rows({"text": ["good", np.nan], "task": ["b", "f"]})
    with pytest.raises(ValueError, match=r"Row 0: column 'task': missing task \(None\)"):
        pre.rows({"text": ["good", "bad"], "task": [None, "f"]})
    with pytest.raises(ValueError, match=r"Row 1: column 'y': missing label \(nan\)"):
        pre.rows({"text": ["good", "bad"], "task": ["b", "f"]}, ["pos", float("nan")])
    with pytest.raises(ValueError, match=r"Row 0: column 'labels': missing label \(None\)"):
        pre.encode_labels(["b"], [None])


def test_adapting_the_features_or_the_vocabulary_names_a_missing_text():
    with pytest.raises(ValueError, match=r"Row 1: column 'texts': missing text \(None\)"):
        NgramFeatures(max_features=20).adapt(["good book", None])
    pre = MultiTaskPreprocessor(["b"], {"b": ["neg", "pos"]}, max_length=4)
    with pytest.raises(ValueError, match=r"Row 2: column 'text': missing text \(nan\)"):
        pre.adapt(["good", "bad", np.float32("nan")])


def test_an_empty_text_is_still_a_text():
    pre = MultiTaskPreprocessor.from_frame(FRAME, max_length=4)
    texts, _, _ = pre.rows({"text": ["", "good"], "task": ["b", "f"]})
    assert texts == ["", "good"]


@pytest.mark.parametrize("missing", [None, np.nan, "", "  "])
def test_a_missing_or_blank_class_is_refused(missing):
    with pytest.raises(ValueError, match=r"Task 'a': class 1 is missing"):
        LabelMap({"a": ["x", missing]})
