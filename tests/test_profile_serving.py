"""experiments.profile_serving: bad options are named; a served signature's own ops are what it reports."""

import json

import pytest
import tensorflow as tf

from experiments import profile_serving


@pytest.mark.parametrize("argv, message", [
    (["--batch-sizes", "1,x"], "comma-separated whole numbers"),
    (["--batch-sizes", "0"], "every batch size must be >= 1"),
    (["--calls", "0"], "--calls"),
])
def test_bad_options_are_named_not_a_traceback(argv, message, tmp_path, capsys):
    with pytest.raises(SystemExit):
        profile_serving.main(["--export-dir", str(tmp_path), "--output", str(tmp_path / "p.json"), *argv])
    assert message in capsys.readouterr().err


def test_a_folder_without_a_saved_model_is_named(tmp_path, capsys):
    with pytest.raises(SystemExit):
        profile_serving.main(["--export-dir", str(tmp_path), "--output", str(tmp_path / "p.json")])
    assert "no saved_model.pb" in capsys.readouterr().err


class _Lengths(tf.Module):
    @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
    def serve(self, text):
        return {"length": tf.strings.length(tf.strings.regex_replace(text, "a", "bb"))}


def test_the_profile_holds_the_signatures_own_ops(tmp_path):
    module = _Lengths()
    export = tmp_path / "MR" / "1"
    tf.saved_model.save(module, str(export), signatures={"serving_default": module.serve})
    result = profile_serving.main(["--export-dir", str(export), "--batch-sizes", "2", "--calls", "20",
                                   "--output", str(tmp_path / "p.json")])
    (run,) = result["batch_sizes"]
    ops = {op["op_type"] for op in run["top_ops"]}
    assert {"StaticRegexReplace", "StringLength"} <= ops and run["calls"] == 20 and run["op_ms_per_call"] > 0
    assert json.loads((tmp_path / "p.json").read_text())["task"] == "MR"
    assert "| StaticRegexReplace |" in (tmp_path / "p.md").read_text()
