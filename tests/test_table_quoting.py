"""Quotes in users' tables: a TSV line is one row, cells as they are; a CSV quote must close where its cell ends."""

import pytest

from tf_aspmtl.data import load_multitask_table


def _file(tmp_path, name: str, text: str):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_a_tsv_line_is_one_row_whatever_quotes_its_text_holds(tmp_path):
    # A text opening with '"' and a later one closing with '"': CSV quoting would glue the lines between.
    texts = ['"great', "fine", 'so "so"', 'meh"', '"quoted"']
    body = "".join(f"a\t{text}\t{label}\n" for text, label in zip(texts, ["pos", "neg", "pos", "neg", "pos"]))
    frame, _ = load_multitask_table(_file(tmp_path, "rows.tsv", "task\ttext\tlabel\n" + body))
    assert frame["text"].tolist() == texts
    assert frame["label"].tolist() == [1, 0, 1, 0, 1]


def test_a_tsv_error_after_a_quote_names_its_own_line(tmp_path):
    path = _file(tmp_path, "rows.tsv", 'task\ttext\tlabel\na\t"open\tpos\na\tx\tneg\na\tclose"\t\n')
    with pytest.raises(ValueError, match=r"rows\.tsv: row 3 \(line 4\): field 'label'"):
        load_multitask_table(path)


@pytest.mark.parametrize("name, body, parts", [
    # What DataFrame.to_csv(sep="\t") writes for 'a "q" b': read as it is, it would keep the doubled quotes.
    ("quoted.tsv", 'task\ttext\tlabel\na\tx\tpos\na\t"a ""q"" b"\tneg\n',
     ("row 2 (line 3)", "field 'text'", "CSV quoting", "QUOTE_NONE")),
    # A tab inside a TSV text is an extra field, and CSV is advised.
    ("tabs.tsv", 'task\ttext\tlabel\na\t"in\tside"\tpos\n', ("row 1 (line 2)", "4 fields", "save such data as .csv")),
    # A stray CSV quote: unchecked, rows 2-4 become one row whose text holds two lines and a label.
    ("glued.csv", 'task,text,label\na,x,pos\na,"good,pos\na,bad,neg\na,meh" ok,pos\n',
     ("row 2 (line 3)", "on line 5", "stray '\"'")),
], ids=["tsv-with-csv-quoting", "tab-inside-tsv-text", "stray-csv-quote"])
def test_a_quoting_error_names_the_file_row_line_and_what_to_do(tmp_path, name, body, parts):
    with pytest.raises(ValueError) as info:
        load_multitask_table(_file(tmp_path, name, body))
    for part in (name, *parts):
        assert part in str(info.value), str(info.value)


def test_a_csv_quote_closed_inside_a_cell_names_the_row_and_line(tmp_path):
    # pandas alone reads 'wow he said', quotes dropped.
    path = _file(tmp_path, "said.csv", 'task,text,label\na,x,pos\na,"wow" he said,neg\n')
    with pytest.raises(ValueError, match=r"said\.csv: row 2 \(line 3\): a quoted field's closing '\"'"):
        load_multitask_table(path)


def test_well_quoted_csv_cells_still_load(tmp_path):
    path = _file(tmp_path, "ok.csv", 'task,text,label\na,"two\nlines, one cell",pos\na,"say ""hi""",neg\n')
    frame, _ = load_multitask_table(path)
    assert frame["text"].tolist() == ["two\nlines, one cell", 'say "hi"']
