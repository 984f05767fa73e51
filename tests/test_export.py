"""Per-task SavedModels for TF Serving: layout, versions, parity on real test sets, bad input."""

import json
import os

import numpy as np
import pytest
import tensorflow as tf
from google.protobuf import text_format

from tf_aspmtl.export import exporter, model_config, ops, versions
from tests.test_export_fixtures import EXPORTED_TASKS, TASKS, load_saved_model, load_signature
from tf_aspmtl import serving
from tf_aspmtl.models import FullySharedMTL

pytest_plugins = ["tests.test_export_fixtures"]


def test_layout_signature_and_models_config(export_base, fresh_process):
    # fresh_process (checked in test_export_loaders.py) is requested here, by the first test, only to
    # start it early: it spends ~10 s importing TensorFlow in another process while the tests below run.
    from tensorflow_serving.config import model_server_config_pb2

    for name in EXPORTED_TASKS + ["multitask"]:
        version_dir = export_base / name / "1"
        assert (version_dir / "saved_model.pb").is_file() and (version_dir / ops.OPS_FILE).is_file()
        info = json.loads((version_dir / exporter.INFO_FILE).read_text())
        assert info["model_name"] == name and info["version"] == 1
        assert not [p for p in os.listdir(export_base / name) if p.startswith(".")]  # no staging left behind
    signature = load_signature(export_base, "books")
    assert list(signature.structured_input_signature[1]) == [serving.TEXT_INPUT]
    assert signature.structured_input_signature[1]["text"].dtype == tf.string
    outputs = signature.structured_outputs
    assert {k: v.dtype for k, v in outputs.items()} == {
        "probabilities": tf.float32, "label_id": tf.int64, "label": tf.string
    }
    config = text_format.Parse((export_base / model_config.CONFIG_FILE).read_text(),
                               model_server_config_pb2.ModelServerConfig())
    assert [(c.name, c.base_path, c.model_platform) for c in config.model_config_list.config] == [
        ("MR", "/models/MR", "tensorflow"), ("books", "/models/books", "tensorflow"),
        ("multitask", "/models/multitask", "tensorflow"),
    ]


def test_exported_probabilities_equal_keras_on_real_test_sets(export_base, trained_model, fdu_test_sets):
    multitask = load_signature(export_base, "multitask")
    for task, texts in fdu_test_sets.items():
        assert len(texts) == 400
        expected = trained_model.predict({"text": list(texts), "task": [task] * len(texts)}, batch_size=128, verbose=0)[:, : trained_model.num_classes[trained_model.task_id(task)]]
        outputs = load_signature(export_base, task)(text=tf.constant(texts))
        got = outputs["probabilities"].numpy()
        np.testing.assert_allclose(got, expected, atol=1e-5, rtol=0)
        assert np.array_equal(outputs["label_id"].numpy(), expected.argmax(axis=1))
        assert set(outputs["label"].numpy()) <= {b"negative", b"positive"}
        mixed = multitask(text=tf.constant(texts), task=tf.constant([task] * len(texts)))
        np.testing.assert_allclose(mixed["probabilities"].numpy(), expected, atol=1e-5, rtol=0)
    # Rows of different tasks in one multi-task request.
    texts = [fdu_test_sets["books"][0], fdu_test_sets["MR"][0], fdu_test_sets["books"][1]]
    got = multitask(text=tf.constant(texts), task=tf.constant(["books", "MR", "books"]))["probabilities"].numpy()
    for row, (text, task) in enumerate(zip(texts, ["books", "MR", "books"])):
        np.testing.assert_allclose(got[row], trained_model.predict({"text": [text], "task": [task]}, verbose=0)[0, : trained_model.num_classes[trained_model.task_id(task)]], atol=1e-5)


def test_a_task_export_holds_only_its_own_private_encoder(export_base, trained_model):
    saved = {v.name.split(":")[0] for v in load_saved_model(str(export_base / "books" / "1")).variables}
    k = TASKS.index("books")
    own = {v.path for v in trained_model.private_encoders[k].variables}
    others = {v.path for i, e in enumerate(trained_model.private_encoders) if i != k for v in e.variables}
    assert own and own <= saved
    assert not others & saved
    assert not {v.path for v in trained_model.discriminator.variables} & saved


BAD_INPUTS = {
    "empty": b"",
    "whitespace": b" \t\r\n\x0b\x0c \xc2\xa0\xe3\x80\x80",
    "one megabyte": ("lorem ipsum dolor sit amet , " * 40000)[:1_000_000].encode(),
    "emoji": "\U0001F600\U0001F44D\U0001F3FD \U0001F468\u200d\U0001F469\u200d\U0001F467 \u2764\ufe0f".encode(),
    "right-to-left": (  # Hebrew, Arabic, then the RTL override and embedding controls
        "\u05d6\u05d4 \u05e1\u05e4\u05e8 \u05d8\u05d5\u05d1 \u0647\u0630\u0627 \u0643\u062a\u0627\u0628 \u202e\u202b".encode()
    ),
    "control characters": bytes(range(0, 32)) + b"\x7f text \x00\x00",
    "invalid utf-8": b"\xff\xfe\xfd good \xc3\x28 \xa0\xa1 \xed\xa0\x80 \xf0\x28\x8c\x28",
    "private use and noncharacters": "\ue000\ue001\ue002 \uffff \U0010ffff".encode(),
}


def test_bad_input_gives_valid_probabilities(export_base):
    assert len(BAD_INPUTS["one megabyte"]) == 1_000_000
    for name in EXPORTED_TASKS:
        signature = load_signature(export_base, name)
        for what, text in BAD_INPUTS.items():
            probabilities = signature(text=tf.constant([text]))["probabilities"].numpy()
            assert probabilities.shape == (1, 2), what
            assert np.all(np.isfinite(probabilities)) and probabilities.sum() == pytest.approx(1.0, abs=1e-5), what
        batch = signature(text=tf.constant(list(BAD_INPUTS.values())))["probabilities"].numpy()
        assert batch.shape == (len(BAD_INPUTS), 2) and np.allclose(batch.sum(axis=1), 1.0, atol=1e-5)
        assert signature(text=tf.constant([], tf.string))["probabilities"].shape == (0, 2)
    multitask = load_signature(export_base, "multitask")
    texts = list(BAD_INPUTS.values())
    got = multitask(text=tf.constant(texts), task=tf.constant(["MR"] * len(texts)))["probabilities"].numpy()
    assert np.all(np.isfinite(got)) and np.allclose(got.sum(axis=1), 1.0, atol=1e-5)
    with pytest.raises(tf.errors.InvalidArgumentError, match="Unknown task name"):
        multitask(text=tf.constant(["good"]), task=tf.constant(["kitchen"]))


def test_versions_never_overwrite_and_a_failed_export_publishes_nothing(export_base, trained_model, monkeypatch):
    before = sorted(p.name for p in (export_base / "books" / "1").rglob("*"))
    with pytest.raises(FileExistsError, match="never overwrite"):
        exporter.export_model(trained_model, export_base, tasks=["books"], version=1, check=False)
    assert sorted(p.name for p in (export_base / "books" / "1").rglob("*")) == before

    def refuse(report, where):  # the second model fails: the first, already written, must not be published either
        if f"{os.sep}{EXPORTED_TASKS[1]}{os.sep}" in where:
            raise ValueError(f"refused {where}")

    monkeypatch.setattr(ops, "check_serving_ops", refuse)
    with pytest.raises(ValueError, match="refused"):
        exporter.export_model(trained_model, export_base, tasks=EXPORTED_TASKS, check=False, warmup_requests=False)
    for name in EXPORTED_TASKS:
        assert os.listdir(export_base / name) == ["1"]  # no version 2, no staging folder
    monkeypatch.undo()

    exported = exporter.export_model(trained_model, export_base, tasks=["MR"], check=False, warmup_requests=False)
    assert [(e.name, e.version) for e in exported] == [("MR", 2)]
    assert versions.existing_versions(export_base / "MR") == [1, 2]
    # models.config still lists every model under the base.
    assert "books" in (export_base / "models.config").read_text()
    # The new version is the same model: same outputs.
    text = tf.constant(["a gripping story", ""])
    np.testing.assert_allclose(load_signature(export_base, "MR", 2)(text=text)["probabilities"],
                               load_signature(export_base, "MR", 1)(text=text)["probabilities"], atol=1e-6)


def test_cli_and_clear_errors(tmp_path, trained_model, capsys):
    from export.__main__ import main

    assert main(["--model", str(tmp_path / "missing.keras"), "--output", str(tmp_path / "out")]) == 2
    assert "missing.keras" in capsys.readouterr().err
    with pytest.raises(ValueError, match="Unknown task 'kitchen'"):
        exporter.export_model(trained_model, tmp_path / "out", tasks=["kitchen"])
    with pytest.raises(ValueError, match="Bad model name"):
        exporter.export_model(trained_model, tmp_path / "out", tasks=["books"], prefix="a b/")
    with pytest.raises(ValueError, match="positive integer"):
        versions.choose_version(tmp_path, ["books"], 0)
    path = tmp_path / "model.keras"
    trained_model.save(path)
    code = main(["--model", str(path), "--output", str(tmp_path / "out"), "--tasks", "MR",
                 "--version", "7", "--prefix", "asp_", "--no-warmup", "--no-check"])
    assert code == 0
    assert "asp_MR: version 7" in capsys.readouterr().out
    assert versions.existing_versions(tmp_path / "out" / "asp_MR") == [7]
    assert sorted(n for n in os.listdir(tmp_path / "out") if not n.startswith(".")) == ["asp_MR", "models.config"]


def test_tasks_with_fewer_classes_than_the_largest_get_their_own_slice(small_vectorizer):
    """The serving functions of an untrained FS-MTL (CNN) whose tasks have 2 and 3 classes equal the model's."""
    model = FullySharedMTL(["two", "three"], num_classes=[2, 3], vocabulary_size=small_vectorizer.vocabulary_size,
                           text_vectorizer=small_vectorizer, embedding_dim=8, hidden_dim=4, encoder="cnn",
                           class_names=[["neg", "pos"], ["bad", "meh", "good"]])
    texts = tf.constant(["a good book", "", "dull , long and bad"])
    full = model({"text": texts, "task_id": tf.constant([0, 0, 0])})["probabilities"].numpy()
    outputs = serving.task_serving_fn(model, "two")(texts)
    assert outputs["probabilities"].shape == (3, 2) and np.all(full[:, 2] == 0)
    np.testing.assert_allclose(outputs["probabilities"], full[:, :2], atol=1e-6)
    assert set(outputs["label"].numpy()) <= {b"neg", b"pos"}
    mixed = serving.multitask_serving_fn(model)(texts, tf.constant(["three", "two", "three"]))
    expected = model({"text": texts, "task_id": tf.constant([1, 0, 1])})["probabilities"].numpy()
    np.testing.assert_allclose(mixed["probabilities"], expected, atol=1e-6)
    assert [x.decode() for x in mixed["label"].numpy()] == [
        (["neg", "pos"], ["bad", "meh", "good"])[t][i] for t, i in zip([1, 0, 1], expected.argmax(axis=1))
    ]


def test_an_export_traces_its_serving_function_once(trained_model, tmp_path, monkeypatch):
    # keras.export.ExportArchive traced it twice (again inside tf.saved_model.save): a second or more a task.
    traces = []
    task_serving_fn = serving.task_serving_fn

    def counted_serving_fn(*args, **kwargs):
        serve = task_serving_fn(*args, **kwargs)

        def counted(text):
            traces.append(serve.__name__)
            return serve(text)

        counted.layers = serve.layers
        return counted

    monkeypatch.setattr(serving, "task_serving_fn", counted_serving_fn)
    exported = exporter.export_model(trained_model, tmp_path / "serving", tasks=["books"], check=False,
                                     warmup_requests=False)
    assert traces == ["serve_books"]
    loaded = tf.saved_model.load(exported[0].path)
    probabilities = loaded.signatures[serving.SIGNATURE_NAME](text=tf.constant(["a good book"]))["probabilities"]
    expected = trained_model.predict({"text": ["a good book"], "task": ["books"]}, verbose=0)[:, :2]
    np.testing.assert_allclose(probabilities.numpy(), expected, atol=1e-5)
