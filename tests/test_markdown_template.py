"""experiments.markdown_template: placeholders filled from result files and blocks; what is missing is an error."""

import json

import pytest

from experiments.markdown_template import TemplateError, render, with_contents


@pytest.fixture
def root(tmp_path):
    (tmp_path / "runs").mkdir()
    (tmp_path / "runs" / "main.json").write_text(json.dumps({
        "command": "python -m x", "commit": "0123456789abcdef", "avg_test_error": 14.936, "wall_time_s": 582.0,
        "per_task": {"books": {"best_epoch": 7}}, "load": [0.91, 1.2], "tasks": ["books", "dvd"], "rate": 1590.4,
        "encoder": "lstm", "share": 0.0005}))
    (tmp_path / "summary.md").write_text("\n| a | b |\n\n")
    return tmp_path


def _template(tmp_path, text: str):
    path = tmp_path / "page.md"
    path.write_text(text)
    return path


def test_placeholders_read_files_keys_and_blocks_and_format_them(root):
    template = _template(root, (
        "{# dropped #}\n"
        "`{{ runs/main.json : command }}` at `{{ runs/main.json : commit : .7 }}`: "
        "**{{runs/main.json:avg_test_error:.2f}} %** in {{ runs/main.json : wall_time_s / 60 : .1f }} min, "
        "epoch {{ runs/main.json : per_task.books.best_epoch }}, load {{ runs/main.json : load.0 : .1f }}\n"
        "{{ runs/main.json : tasks : join }} ({{ runs/main.json : tasks : count }}), "
        "{{ runs/main.json : rate : ,.0f }}/s, {{ runs/main.json : encoder : upper }}, "
        "{{ runs/main.json : share * 100 : g }} %\n"
        "{{ summary.md }}\n"
        "{{ block: table }} / {{ block: figures : gain : +.2f }} / {{ block: figures : gain : .1f }}\n"))
    computed = []
    blocks = {"table": "| x |", "figures": lambda: computed.append(1) or {"gain": 0.456}}
    assert render(template, root, blocks) == (
        "`python -m x` at `0123456`: **14.94 %** in 9.7 min, epoch 7, load 0.9\n"
        "books, dvd (2), 1,590/s, LSTM, 0.05 %\n"
        "| a | b |\n"
        "| x | / +0.46 / 0.5\n")
    assert computed == [1]  # a block's function runs once however often the template reads it


def test_a_missing_file_key_or_block_names_the_template_line_and_the_placeholder(root):
    cases = {
        "{{ runs/gone.json : avg_test_error : .2f }}": "no file",
        "{{ runs/main.json : per_task.dvd.best_epoch }}": "runs/main.json has no 'dvd' (in key 'per_task.dvd.best_epoch')",
        "{{ runs/main.json : load.2 }}": "has no '2'",
        "{{ block: tabel }}": "no block 'tabel' (blocks: table)",
        "{{ runs/main.json : command : .2f }}": "cannot format 'python -m x' with '.2f'",
        "{{ summary.json : x }}": "summary.json is not JSON: Expecting value: line 2 column 1",
    }
    (root / "summary.json").write_text((root / "summary.md").read_text())
    for placeholder, reason in cases.items():
        template = _template(root, f"# Title\n\nfine {{{{ block: table }}}}, then {placeholder} here\n")
        with pytest.raises(TemplateError) as error:
            render(template, root, {"table": "t"})
        message = str(error.value)
        assert message.startswith(f"{template}:3: {placeholder}: ") and reason in message, message


def test_a_block_whose_code_fails_is_reported_at_its_placeholder(root):
    def reads_a_missing_file():
        return (root / "absent.json").read_text()

    template = _template(root, "a\n{{ block: figures : gain }}\n")
    with pytest.raises(TemplateError, match=r"page.md:2: \{\{ block: figures : gain \}\}: block 'figures' failed: "
                                            r"FileNotFoundError: .*absent.json") as error:
        render(template, root, {"figures": reads_a_missing_file})
    assert isinstance(error.value.__cause__, FileNotFoundError)


def test_if_keeps_its_lines_only_when_the_file_exists_or_the_block_is_true(root):
    template = _template(root, (
        "head\n"
        "{{ if: runs/main.json }}\nmain {{ runs/main.json : per_task.books.best_epoch }}\n{{ end }}\n"
        "{{ if: runs/gone.json }}\ngone {{ runs/gone.json : x }}\n{{ if: block: yes }}\nnested\n{{ end }}\n{{ end }}\n"
        "{{ if not: runs/gone.json }}\nno gone\n{{ end }}\n"
        "{{ if: block: flags : no }}\nhidden\n{{ end }}\n"
        "{{ if: block: flags : yes }}\nshown\n{{ end }}\n"
        "tail{{ if: block: flags : no }}, hidden{{ end }}{{ if not: block: flags : no }}, shown{{ end }}.\n"))
    blocks = {"flags": {"yes": [1], "no": []}, "yes": True}
    assert render(template, root, blocks) == "head\nmain 7\nno gone\nshown\ntail, shown.\n"
    with pytest.raises(TemplateError, match=r"page.md:2: \{\{ if: block: flag \}\}: no block 'flag'"):
        render(_template(root, "a\n{{ if: block: flag }}\nb\n{{ end }}\n"), root, blocks)
    with pytest.raises(TemplateError, match=r"page.md:2: an if without an end"):
        render(_template(root, "a\n{{ if: runs/main.json }}\nb\n"), root, blocks)
    with pytest.raises(TemplateError, match=r"page.md:1: \{\{ end \}\}: an end without an if"):
        render(_template(root, "{{ end }}\n"), root, blocks)


def test_contents_link_every_section_by_githubs_anchor_before_the_first_one():
    page = ("# Results\n\nIntro.\n\n## Shared/private n-gram model: batches (issue 22)\n\ntext\n\n```\n## not a heading\n```\n"
            "### The paper's Table 3\n\n## The paper's Table 3\n\n## Speed\n\n## Speed\n")
    out = with_contents(page)
    assert out.index("Contents: ") > out.index("Intro.") and out.index("Contents: ") < out.index("## Shared")
    contents = out[out.index("Contents: "):].splitlines()[0]
    assert contents == ("Contents: [Shared/private n-gram model: batches (issue 22)]"
                        "(#sharedprivate-n-gram-model-batches-issue-22) · "
                        "[The paper's Table 3](#the-papers-table-3-1) · [Speed](#speed) · [Speed](#speed-1)")
    assert out.replace(contents + "\n\n", "") == page
    assert with_contents("# Only a title\n") == "# Only a title\n"
