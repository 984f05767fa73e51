"""The n-gram model's transfer to a new task: its features and shared kernel, a new private path ("bc")."""

import keras
import numpy as np
import pandas as pd
import pytest
import tensorflow as tf

import tf_aspmtl

SOURCE = pd.DataFrame({
    "text": ["good book", "bad book", "great read", "awful read", "good film", "bad film", "great plot", "dull plot"] * 3,
    "task": (["books"] * 4 + ["dvd"] * 4) * 3,
    "label": ["pos", "neg"] * 12,
})
NEW = pd.DataFrame({"text": ["good song", "bad song", "great album", "awful album", "good tune", "dull tune"],
                    "task": ["music"] * 6, "label": ["pos", "neg", "pos", "neg", "pos", "neg"]})


def _trains(model) -> set:
    """The ids of the variables a step of ``model`` trains."""
    return {id(v) for v in model.trainable_variables}


@pytest.fixture(scope="module")
def source():
    model = tf_aspmtl.SharedPrivateNgramClassifier.from_frame(SOURCE, max_features=40, label_smoothing=0.1)
    model.compile(learning_rate=0.05)
    model.fit({"text": SOURCE.text, "task": SOURCE.task}, SOURCE.label, epochs=10, verbose=0)
    return model


def test_bc_starts_from_the_shared_weights_and_trains_only_its_own_path(source):
    new = source.transfer("music", classes=["neg", "pos"])
    assert new.task_names == ["music"] and new.features is source.features and new.label_smoothing == 0.1
    shared = source.shared_kernel.numpy()
    np.testing.assert_array_equal(new.shared_kernel.numpy(), shared)
    assert _trains(new) == {id(new.private_kernel), id(new.bias)}
    # Before training, the new task's probabilities are the shared path's: softmax(x W_shared).
    x = source.features(keras.ops.convert_to_tensor(["good song", "awful tune"]))
    expected = keras.ops.softmax(keras.ops.convert_to_tensor(tf.sparse.to_dense(x).numpy() @ shared)).numpy()
    np.testing.assert_allclose(new.predict({"text": ["good song", "awful tune"], "task": ["music"] * 2}, verbose=0),
                               expected, atol=1e-6)
    assert expected[0, 1] > 0.5 > expected[1, 1]  # the shared weights already read "good" and "awful"
    new.fit({"text": NEW.text, "task": NEW.task}, NEW.label, epochs=3, verbose=0)
    np.testing.assert_array_equal(new.shared_kernel.numpy(), shared)
    assert np.abs(new.private_kernel.numpy()).sum() > 0 and np.abs(new.bias.numpy()).sum() > 0
    np.testing.assert_array_equal(source.shared_kernel.numpy(), shared)  # the source is untouched


def test_train_shared_also_moves_the_copied_shared_weights(source):
    new = source.transfer("music", classes=["neg", "pos"], train_shared=True)
    new.fit({"text": NEW.text, "task": NEW.task}, NEW.label, epochs=2, verbose=0)
    assert not np.array_equal(new.shared_kernel.numpy(), source.shared_kernel.numpy())


def test_a_transferred_model_saves_loads_and_serves_frozen(source, tmp_path):
    new = source.transfer("music", classes=["neg", "pos"])
    new.fit({"text": NEW.text, "task": NEW.task}, NEW.label, epochs=2, verbose=0)
    rows = {"text": ["good album", "dull song"], "task": ["music"] * 2}
    new.save(tmp_path / "m.keras")
    loaded = tf_aspmtl.SharedPrivateNgramClassifier.load(tmp_path / "m.keras")
    assert loaded.shared_trainable is False and _trains(loaded) == {id(loaded.private_kernel), id(loaded.bias)}
    np.testing.assert_allclose(loaded.predict(rows, verbose=0), new.predict(rows, verbose=0), atol=1e-6)
    new.export(str(tmp_path / "serving"), verbose=False)
    served = keras.layers.TFSMLayer(str(tmp_path / "serving" / "music" / "1"), call_endpoint="serving_default")
    np.testing.assert_allclose(np.asarray(served(keras.ops.convert_to_tensor(rows["text"]))["probabilities"]),
                               new.predict(rows, verbose=0), atol=1e-5)


def test_classes_named_in_another_order_keep_their_shared_columns(source):
    # The source's tasks all have ["neg", "pos"]: "pos" is column 1 of W_shared, whichever id the new task gives it.
    rows = {"text": ["good song", "awful tune"], "task": ["music"] * 2}
    ordered = source.transfer("music", classes=["neg", "pos"]).predict(rows, verbose=0)
    swapped = source.transfer("music", classes=["pos", "neg"])
    np.testing.assert_allclose(swapped.predict(rows, verbose=0), ordered[:, ::-1], atol=1e-6)
    np.testing.assert_array_equal(swapped.shared_kernel.numpy(), source.shared_kernel.numpy()[:, ::-1])


def test_transfer_refuses_sc_and_more_classes_than_the_shared_kernel(source):
    with pytest.raises(ValueError, match="mode 'bc' only"):
        source.transfer("music", classes=["neg", "pos"], mode="sc")
    with pytest.raises(ValueError, match="3 classes; the shared kernel has 2 columns"):
        source.transfer("music", classes=["neg", "mid", "pos"])


def test_run_transfer_carries_an_ngram_runs_shared_kernel_to_a_held_out_task(tmp_path):
    from tests.tiny_fdu import texts, write_fdu_folder
    from tf_aspmtl.training import NgramConfig, run_ngram, run_transfer

    (tmp_path / "fdu").mkdir()
    data = write_fdu_folder(tmp_path / "fdu")
    for split, n in (("train", 210), ("test", 12)):  # the held-out task
        (data / f"music.task.{split}").write_text("\n".join(f"{i % 2}\t{t}" for i, t in enumerate(texts("music", n, 9))))
    run_ngram(NgramConfig(tasks=("books", "dvd"), max_features=60, epochs=2, feature_weighting="nb"),
              tmp_path / "source", data, dev_only=True, verbose=0)
    source_path = tmp_path / "source" / "model" / "model.keras"
    source = tf_aspmtl.SharedPrivateNgramClassifier.load(source_path)
    with pytest.raises(ValueError, match="the n-gram model has none"):
        run_transfer(source_path, "music", tmp_path / "x", difference_weight=0.01, data_dir=data)
    results = run_transfer(source_path, "music", tmp_path / "music-bc", epochs=2, batch_size=16, data_dir=data,
                           verbose=0)
    assert results["source_class"] == "SharedPrivateNgramClassifier" and set(results["per_task"]) == {"music"}
    assert 0 <= results["avg_test_error"] <= 100 and results["model"] == "transfer-bc"
    new = tf_aspmtl.SharedPrivateNgramClassifier.load(tmp_path / "music-bc" / "model" / "model.keras")
    np.testing.assert_array_equal(new.shared_kernel.numpy(), source.shared_kernel.numpy())  # frozen
    assert new.features.weighting == "nb" and np.abs(new.private_kernel.numpy()).sum() > 0


def test_run_transfer_learns_the_new_tasks_nb_ratios_for_a_task_nb_ratios_source(tmp_path):
    from tests.tiny_fdu import texts, write_fdu_folder
    from tf_aspmtl.data import load_fdu_mtl
    from tf_aspmtl.training import NgramConfig, run_ngram, run_transfer

    (tmp_path / "fdu").mkdir()
    data = write_fdu_folder(tmp_path / "fdu")
    for split, n in (("train", 210), ("test", 12)):
        (data / f"music.task.{split}").write_text("\n".join(f"{i % 2}\t{t}" for i, t in enumerate(texts("music", n, 9))))
    run_ngram(NgramConfig(tasks=("books", "dvd"), max_features=60, epochs=1, feature_weighting="nb",
                          task_nb_ratios=True), tmp_path / "source", data, dev_only=True, verbose=0)
    source = tf_aspmtl.SharedPrivateNgramClassifier.load(tmp_path / "source" / "model" / "model.keras")
    run_transfer(tmp_path / "source" / "model" / "model.keras", "music", tmp_path / "bc", epochs=1, batch_size=16,
                 data_dir=data, verbose=0)
    new = tf_aspmtl.SharedPrivateNgramClassifier.load(tmp_path / "bc" / "model" / "model.keras")
    train = load_fdu_mtl(data, tasks=["music"], splits=["train"])
    expected = source.transfer("music", classes=["negative", "positive"], compile=False)
    expected.adapt_task_nb_ratios(train["text"].tolist(), train["label"].to_numpy(), train["task"].tolist())
    assert new.task_nb_ratios and not np.all(new.private_scale.numpy() == 1.0)
    np.testing.assert_allclose(new.private_scale.numpy(), expected.private_scale.numpy())
