"""Tests for LabelMap and load_multitask_table (users' own multi-task data)."""

import json
import re

import numpy as np
import pandas as pd
import pytest

from tf_aspmtl.data import LabelMap, load_multitask_table

# Three tasks with 2, 3 and 4 classes; labels that pandas would turn into NaN
# or ints ("NA", "0") must stay strings.
ROWS = [
    ("movies", "great , fun", "pos"),
    ("movies", 'a "quoted" flop', "neg"),
    ("news", "stocks\tfall", "NA"),
    ("news", "rain today", "0"),
    ("news", "new phone", "tech"),
    ("emotions", "so happy", "joy"),
    ("emotions", "so sad", "sadness"),
    ("emotions", "how dare", "anger"),
    ("emotions", "yikes", "fear"),
    ("movies", "more\nlines", "pos"),
]
SPLITS = ["train", "dev", "train", "test", "train", "train", "dev", "test", "train", "test"]
# "neg", "0", "sadness" and "anger" appear only on dev/test rows, so with the
# split column the label set must be given.
CLASSES = {
    "movies": ["neg", "pos"],
    "news": ["0", "NA", "tech"],
    "emotions": ["anger", "fear", "joy", "sadness"],
}


@pytest.fixture
def table() -> pd.DataFrame:
    frame = pd.DataFrame(ROWS, columns=["task", "text", "label"])
    frame["split"] = SPLITS
    return frame


def _tsv_text(text: str) -> str:
    """A text as a TSV file can hold it: TSV has no quoting, so a tab or a line break would end the cell or row."""
    return re.sub(r"[\t\r\n]", " ", text)


def _write(frame: pd.DataFrame, path):
    if path.suffix == ".parquet":
        frame.to_parquet(path)
    elif path.suffix == ".csv":
        frame.to_csv(path, index=False)
    else:  # TSV: one line per row, cells as they are (quotes included)
        rows = [frame.columns.tolist(), *frame.astype(str).to_numpy().tolist()]
        path.write_text("".join("\t".join(_tsv_text(c) for c in row) + "\n" for row in rows), encoding="utf-8")
    return path


@pytest.fixture(params=["csv", "tsv", "tab", "parquet", "frame"])
def source(request, table, tmp_path):
    if request.param == "frame":
        return table
    return _write(table, tmp_path / f"data.{request.param}")


def test_all_formats_load_and_round_trip(source):
    frame, label_map = load_multitask_table(source, split_column="split", classes=CLASSES)
    assert frame.columns.tolist() == ["task", "text", "label", "split"]
    assert frame["label"].dtype == np.int64
    tsv = not isinstance(source, pd.DataFrame) and source.suffix in (".tsv", ".tab")
    assert frame["text"].tolist() == [_tsv_text(r[1]) if tsv else r[1] for r in ROWS]
    assert frame["split"].tolist() == SPLITS
    assert label_map == LabelMap(CLASSES)
    assert frame["label"].tolist() == [1, 0, 1, 0, 2, 2, 3, 0, 1, 1]
    for task in label_map.tasks:
        rows = frame[frame["task"] == task]
        assert label_map.decode(task, rows["label"]) == [r[2] for r in ROWS if r[0] == task]


def test_all_formats_learn_classes_without_split_column(source):
    frame, label_map = load_multitask_table(source)
    assert frame.columns.tolist() == ["task", "text", "label"]
    assert label_map.tasks == ["movies", "news", "emotions"]  # first-seen order
    assert [label_map.num_classes(t) for t in label_map.tasks] == [2, 3, 4]
    assert label_map.classes("news") == ["0", "NA", "tech"]  # sorted strings
    assert label_map == LabelMap(CLASSES)
    assert frame["label"].tolist() == [1, 0, 1, 0, 2, 2, 3, 0, 1, 1]


def test_custom_column_names(table):
    renamed = table.rename(columns={"task": "domain", "text": "review", "label": "y"})
    frame, label_map = load_multitask_table(
        renamed, text_column="review", label_column="y", task_column="domain"
    )
    assert frame["task"].tolist()[:3] == ["movies", "movies", "news"]
    assert label_map.num_classes("emotions") == 4


def test_given_label_map_is_used_for_ids(table):
    label_map = LabelMap(
        {
            "movies": ["pos", "neg"],
            "news": ["tech", "NA", "0"],
            "emotions": ["joy", "sadness", "anger", "fear"],
        }
    )
    frame, returned = load_multitask_table(table, label_map=label_map)
    assert returned is label_map
    assert frame["label"].tolist() == [0, 1, 1, 2, 0, 0, 1, 2, 3, 0]


def test_int_labels_and_task_ids_from_parquet(tmp_path):
    data = pd.DataFrame({"task": [7, 7, 9], "text": ["a", "b", "c"], "label": np.array([5, 2, 1])})
    frame, label_map = load_multitask_table(_write(data, tmp_path / "ints.parquet"))
    assert frame["task"].tolist() == ["7", "7", "9"]
    assert frame["label"].tolist() == [1, 0, 0]
    config = json.loads(json.dumps(label_map.get_config()))
    assert config == {"classes": {"7": [2, 5], "9": [1]}}
    assert LabelMap.from_config(config).decode("7", [1]) == [5]


def test_label_map_config_round_trip_and_errors(table):
    label_map = LabelMap.from_frame(table, "task", "label")
    rebuilt = LabelMap.from_config(json.loads(json.dumps(label_map.get_config())))
    assert rebuilt == label_map
    assert rebuilt.tasks == label_map.tasks
    np.testing.assert_array_equal(rebuilt.encode("emotions", ["fear", "anger"]), [1, 0])
    assert rebuilt.encode("emotions", ["fear"]).dtype == np.int64
    with pytest.raises(ValueError, match=r"Unknown label 'surprise' for task 'emotions'"):
        rebuilt.encode("emotions", ["joy", "surprise"])
    # A label is matched by its text form: int 0 is the class "0", True is not "1".
    np.testing.assert_array_equal(rebuilt.encode("news", [0, "0"]), [0, 0])
    with pytest.raises(ValueError, match=r"Unknown label True for task 'movies'"):
        LabelMap({"movies": [0, 1]}).encode("movies", [True])
    with pytest.raises(ValueError, match=r"Unknown task 'sports'"):
        rebuilt.num_classes("sports")
    with pytest.raises(ValueError, match=r"Id 2 out of range for task 'movies'"):
        rebuilt.decode("movies", [0, 2])


# --- malformed input: message names the file, the row/line and the field --------


def _csv(tmp_path, text, name="bad.csv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    "content, parts",
    [
        ("task,label\na,pos\n", ["line 1", "missing text column 'text'", "columns found: ['task', 'label']"]),
        ("", ["line 1", "empty file", "'text'"]),
        ("task,text,label\n", ["row 1 (line 2)", "no data rows", "'label'"]),
        ("task,text,label\na,x,pos\na,y,neg\na,,pos\n", ["row 3 (line 4)", "field 'text'"]),
        ("task,text,label\na,x,pos\na,   ,neg\n", ["row 2 (line 3)", "field 'text'"]),
        ("task,text,label\na,x,pos\na,y,\n", ["row 2 (line 3)", "field 'label'"]),
        ("task,text,label\n,x,pos\n", ["row 1 (line 2)", "field 'task'"]),
        # A quoted multi-line text and a blank line shift later line numbers.
        ('task,text,label\na,"two\nlines",pos\n\na,y,\n', ["row 2 (line 5)", "field 'label'"]),
    ],
)
def test_malformed_csv_names_file_line_and_field(tmp_path, content, parts):
    with pytest.raises(ValueError) as info:
        load_multitask_table(_csv(tmp_path, content))
    message = str(info.value)
    for part in ["bad.csv", *parts]:
        assert part in message, message


def test_unknown_label_with_given_map_names_line(tmp_path):
    path = _csv(tmp_path, "task\ttext\tlabel\na\tx\tpos\na\ty\tmeh\n", name="bad.tsv")
    with pytest.raises(ValueError) as info:
        load_multitask_table(path, label_map=LabelMap({"a": ["neg", "pos"]}))
    for part in ("bad.tsv", "row 2 (line 3)", "field 'label'", "'meh'"):
        assert part in str(info.value)
    with pytest.raises(ValueError, match=r"bad\.tsv: row 1 \(line 2\): field 'task': unknown task 'a'"):
        load_multitask_table(path, label_map=LabelMap({"b": ["neg", "pos"]}))


def test_missing_split_cell_is_reported(tmp_path):
    path = _csv(tmp_path, "task,text,label,fold\na,x,pos,train\na,y,neg,\n")
    with pytest.raises(ValueError, match=r"bad\.csv: row 2 \(line 3\): field 'fold'"):
        load_multitask_table(path, split_column="fold")


def test_malformed_parquet_names_file_row_and_field(tmp_path):
    data = pd.DataFrame({"task": ["a", "a", "a"], "text": ["x", None, "z"], "label": ["p", "q", "p"]})
    with pytest.raises(ValueError) as info:
        load_multitask_table(_write(data, tmp_path / "bad.parquet"))
    for part in ("bad.parquet", "row 2", "field 'text'"):
        assert part in str(info.value)
    assert "line" not in str(info.value)


def test_malformed_dataframe_names_row_and_field():
    data = pd.DataFrame({"task": ["a", "b"], "text": ["x", "y"], "label": [1.0, np.nan]}, index=[10, 20])
    with pytest.raises(ValueError) as info:
        load_multitask_table(data)
    for part in ("<DataFrame>", "row 2", "field 'label'"):
        assert part in str(info.value)
    with pytest.raises(ValueError, match=r"<DataFrame>: row 1: field 'text': expected a string, got int"):
        load_multitask_table(pd.DataFrame({"task": ["a"], "text": [3], "label": ["p"]}))


def test_unsupported_extension_and_missing_file(tmp_path):
    with pytest.raises(ValueError, match=r"data\.json: unsupported file type '\.json'"):
        load_multitask_table(tmp_path / "data.json")
    with pytest.raises(FileNotFoundError, match="nope.csv"):
        load_multitask_table(tmp_path / "nope.csv")


# --- classes are learnt from the training rows only ---------------------------


def test_label_seen_only_outside_train_is_an_error_in_every_format(source):
    with pytest.raises(ValueError) as info:
        load_multitask_table(source, split_column="split")
    message = str(info.value)
    name = "<DataFrame>" if isinstance(source, pd.DataFrame) else source.name
    parts = [f"{name}: row 2", "field 'label'", "'neg'", "'movies'", "split is 'dev'", "['pos']", "classes="]
    if name.endswith((".csv", ".tsv", ".tab")):
        parts.append("row 2 (line 3)")
    for part in parts:
        assert part in message, message


def test_classes_are_learnt_from_train_rows_only(tmp_path):
    path = _csv(tmp_path, "task,text,label,split\na,x,pos,train\na,y,neg,train\na,z,pos,dev\nb,w,q,train\n")
    frame, label_map = load_multitask_table(path, split_column="split")
    assert label_map == LabelMap({"a": ["neg", "pos"], "b": ["q"]})
    assert frame["label"].tolist() == [1, 0, 1, 0]
    assert frame["split"].tolist() == ["train", "train", "dev", "train"]
    # A task whose only rows are on dev is an error too.
    path = _csv(tmp_path, "task,text,label,split\na,x,pos,train\nb,y,neg,test\n")
    with pytest.raises(
        ValueError, match=r"bad\.csv: row 2 \(line 3\): field 'task': task 'b' has no training rows"
    ):
        load_multitask_table(path, split_column="split")
    # ... unless the classes are given.
    frame, label_map = load_multitask_table(
        path, split_column="split", classes={"a": ["pos"], "b": ["neg", "pos"]}
    )
    assert frame["label"].tolist() == [0, 0]


def test_train_split_name_and_no_training_rows(tmp_path):
    path = _csv(tmp_path, "task,text,label,fold\na,x,pos,fit\na,y,neg,fit\na,z,neg,val\n")
    with pytest.raises(ValueError) as info:
        load_multitask_table(path, split_column="fold")
    for part in ("bad.csv", "field 'fold'", "none of the 3 rows has split 'train'", "['fit', 'val']", "train_split="):
        assert part in str(info.value)
    frame, label_map = load_multitask_table(path, split_column="fold", train_split="fit")
    assert label_map.classes("a") == ["neg", "pos"]
    path = _csv(tmp_path, "task,text,label,fold\na,x,pos,fit\na,y,pos,fit\na,z,neg,val\n")
    with pytest.raises(ValueError, match=r"row 3 \(line 4\): field 'label': label 'neg' .* split is 'val'"):
        load_multitask_table(path, split_column="fold", train_split="fit")


def test_classes_argument(tmp_path, table):
    frame, label_map = load_multitask_table(table, classes={**CLASSES, "movies": ["pos", "neg"]})
    assert label_map.classes("movies") == ["pos", "neg"]
    assert frame["label"].tolist()[:2] == [0, 1]
    with pytest.raises(ValueError, match="either label_map or classes"):
        load_multitask_table(table, classes=CLASSES, label_map=LabelMap(CLASSES))
    # A label outside the given classes is an unknown label, on any split.
    with pytest.raises(ValueError, match=r"<DataFrame>: row 3: field 'label': unknown label 'NA'"):
        load_multitask_table(table, split_column="split", classes={**CLASSES, "news": ["0", "tech"]})


def test_encode_names_the_position_of_an_unknown_label():
    with pytest.raises(ValueError, match=r"Unknown label 'c' for task 't' \(item 2 of the labels given\)"):
        LabelMap({"t": ["a", "b"]}).encode("t", ["a", "b", "c"])


def test_mixed_label_types_name_the_file(tmp_path):
    data = pd.DataFrame({"task": ["a", "a"], "text": ["x", "y"], "label": ["p", 1]})
    with pytest.raises(ValueError, match=r"<DataFrame>: field 'label': Labels of one task mix types.*\['int', 'str'\]"):
        load_multitask_table(data)


# --- bytes that are not UTF-8, and rows that do not fit the header -------------


def _bytes(tmp_path, data: bytes, name="bad.csv"):
    path = tmp_path / name
    path.write_bytes(data)
    return path


@pytest.mark.parametrize(
    "data, name, parts",
    [
        # Latin-1 "é" in a text cell.
        (b"task,text,label\na,x,pos\na,caf\xe9 au lait,neg\n", "bad.csv",
         ["row 2 (line 3)", "field 'text'", r"b'\xe9'", "invalid utf-8 (the encoding tried)",
          r"'caf\xe9 au lait'"]),
        (b"task\ttext\tlabel\na\tx\tpos\na\ty\tn\xffg\n", "bad.tsv",
         ["row 2 (line 3)", "field 'label'", r"b'\xff'", "utf-8"]),
        # The bad byte on the second line of a quoted multi-line text.
        (b'task,text,label\na,"one\ntw\xc3",pos\n', "bad.csv",
         ["row 1 (line 3)", "field 'text'", r"b'\xc3'", "utf-8"]),
        (b"task,te\x80xt,label\na,x,pos\n", "bad.csv", ["line 1 (header)", "field 2", r"b'\x80'", "utf-8"]),
        (b"\xef\xbb\xbftask,text,label\n\na,x,pos\na,y,\x92\n", "bad.csv",
         ["row 2 (line 4)", "field 'label'", r"b'\x92'", "utf-8"]),
    ],
)
def test_invalid_utf8_names_file_line_field_encoding_and_bytes(tmp_path, data, name, parts):
    with pytest.raises(ValueError) as info:
        load_multitask_table(_bytes(tmp_path, data, name))
    message = str(info.value)
    for part in [name, *parts]:
        assert part in message, message


def test_utf8_bom_and_crlf_load(tmp_path):
    data = "\ufefftask,text,label\r\na,café,pos\r\na,\"two\r\nlines\",neg\r\n".encode("utf-8")
    frame, _ = load_multitask_table(_bytes(tmp_path, data))
    assert frame["text"].tolist() == ["café", "two\r\nlines"]
    assert frame["task"].tolist() == ["a", "a"]


@pytest.mark.parametrize(
    "content, parts",
    [
        ("task,text,label\na,x,pos\na,y,neg,extra\n",
         ["row 2 (line 3)", "field 4", "4 fields", "3 columns", "'extra'"]),
        # A separator at the end of every row: pandas would silently take
        # the first field for an index and shift the others.
        ("task,text,label\na,x,pos,\na,y,neg,\n", ["row 1 (line 2)", "4 fields", "3 columns"]),
        ('task,text,label\na,x,pos\na,"never closed,neg\na,z,pos\n',
         ["row 2 (line 3)", "field 'text'", "never closed", "line 4"]),
        # A line of spaces is skipped like a blank line, and not counted as a row.
        ("task,text,label\n   \na,x,pos\na,y,\n", ["row 2 (line 4)", "field 'label'"]),
    ],
)
def test_rows_that_do_not_fit_the_header(tmp_path, content, parts):
    with pytest.raises(ValueError) as info:
        load_multitask_table(_csv(tmp_path, content))
    message = str(info.value)
    for part in ["bad.csv", *parts]:
        assert part in message, message


def test_line_numbers_past_a_field_larger_than_the_csv_module_limit(tmp_path):
    big = "word " * 60_000  # 300 KB, over csv's default 128 KiB field limit
    path = _csv(tmp_path, f'task,text,label\na,"{big}",pos\na,y,\n')
    with pytest.raises(ValueError, match=r"bad\.csv: row 2 \(line 3\): field 'label'"):
        load_multitask_table(path)


def test_a_table_with_its_class_values_goes_straight_to_a_preprocessor_and_fit():
    # Its class ids made from_frame learn classes [0, 1], so a served label said "0" or "1", not the data's names.
    import tf_aspmtl

    table = pd.DataFrame({"task": ["a", "a", "b", "b"], "text": ["good", "bad", "fine", "poor"],
                          "label": ["pos", "neg", "NA", "ok"]})
    frame, label_map = load_multitask_table(table, encode_labels=False)
    assert frame["label"].tolist() == ["pos", "neg", "NA", "ok"]
    assert load_multitask_table(table)[0]["label"].tolist() == [1, 0, 0, 1]
    pre = tf_aspmtl.MultiTaskPreprocessor.from_frame(frame, max_length=4)
    assert pre.classes("a") == label_map.classes("a") and pre.classes("b") == label_map.classes("b")
    with pytest.raises(ValueError, match="field 'label'"):
        load_multitask_table(table.assign(label=["pos", "neg", "NA", ""]), encode_labels=False)
