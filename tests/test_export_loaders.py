"""The exports load where tf_aspmtl is absent, and through the TF1 session loader TF Serving's path uses."""

import json

import numpy as np
import pytest
import tensorflow as tf

from tf_aspmtl.export import ops
from tests.test_export_fixtures import EXPORTED_TASKS, PROBE_TASKS, PROBES, load_signature

pytest_plugins = ["tests.test_export_fixtures"]


def _expected(base, name, tasks=None):
    feed = {"text": tf.constant(PROBES)}
    if tasks:
        feed["task"] = tf.constant(tasks)
    return load_signature(base, name)(**feed)


def test_exports_load_and_run_where_only_tensorflow_and_tf_text_exist(export_base, fresh_process):
    """See FRESH_PROCESS in tests/test_export_fixtures.py: only tensorflow and tensorflow_text importable."""
    code, stdout, stderr = fresh_process.finish()
    assert code == 0, stderr[-3000:]
    report = json.loads(stdout.split("RESULT ", 1)[1].splitlines()[0])
    assert report["blocked"] and report["modules"] == []
    # Without tensorflow_text the graph cannot load: why the saved_model_cli wrapper exists.
    assert "not registered" in report["without_tf_text"] and "UTF8" in report["without_tf_text"]
    # The hard-coded list of TF Text ops is what this tensorflow-text registers.
    assert set(report["tf_text_ops"]) == ops.TF_TEXT_OPS
    for name, _, job_tasks in fresh_process.jobs:
        expected = _expected(export_base, name, job_tasks)
        got = report["results"][name]
        np.testing.assert_allclose(got["eager"], expected["probabilities"], atol=1e-6)
        np.testing.assert_allclose(got["session"], expected["probabilities"], atol=1e-5)
        assert got["labels"] == [x.decode() for x in expected["label"].numpy()]
        # Every op that is not TF Text's is core TensorFlow's.
        graph_ops = ops.graph_op_types(export_base / name / "1")
        assert {op for op in graph_ops if not ops.is_tf_text_op(op)} <= set(report["core_ops"])
    # `python -m export.saved_model_cli run` ran the multi-task export through the session loader.
    assert "Result for output key probabilities" in stdout
    expected = _expected(export_base, "multitask", PROBE_TASKS)
    out = fresh_process.cli_outdir
    np.testing.assert_allclose(np.load(out / "probabilities.npy"), expected["probabilities"], atol=1e-5)
    np.testing.assert_array_equal(np.load(out / "label_id.npy"), expected["label_id"])


def test_op_lists_name_only_tf_text_ops_stock_tf_serving_runs(export_base):
    for name in EXPORTED_TASKS + ["multitask"]:
        folder = export_base / name / "1"
        graph_ops = ops.graph_op_types(folder)
        report = json.loads((folder / ops.OPS_FILE).read_text())
        assert report["ops"] == graph_ops
        assert report["tf_text_ops"] == ["CaseFoldUTF8", "NormalizeUTF8", "TFText>WhitespaceTokenizeWithOffsetsV2"]
        assert report["tf_text_ops_missing_in_tf_serving"] == []
        assert report["tf_text_ops_run_by_tf_serving_tests"] == report["tf_text_ops"]
        assert "PyFunc" not in graph_ops and "EagerPyFunc" not in graph_ops
    # Only what a task uses: the per-task graph has no task dispatch.
    task_ops = ops.graph_op_types(export_base / "books" / "1")
    assert not {"Case", "StatelessCase", "DynamicPartition", "DynamicStitch"} & set(task_ops)


def test_check_serving_ops_refuses_an_op_the_server_lacks():
    report = ops.op_report(["MatMul", "NormalizeUTF8", "TFText>SomethingNew"])
    assert report["tf_text_ops"] == ["NormalizeUTF8", "TFText>SomethingNew"]
    assert report["tf_text_ops_missing_in_tf_serving"] == ["TFText>SomethingNew"]
    with pytest.raises(ValueError, match=r"'/exports/books/3'.*TFText>SomethingNew"):
        ops.check_serving_ops(report, "/exports/books/3")
