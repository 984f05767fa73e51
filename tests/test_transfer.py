"""Transfer to a new task (the paper's Table 3): SC and BC on a frozen shared encoder."""

import keras
import numpy as np
import pandas as pd
import pytest
import tensorflow as tf

import tf_aspmtl

POSITIVE = [f"good{i}" for i in range(16)]
NEGATIVE = [f"bad{i}" for i in range(16)]
FILLERS = ["the", "a", "it", "was", "and", "this", "of", "to"]


def _rows(task: str, n: int, seed: int) -> pd.DataFrame:
    """Each text holds one polar word among fillers; the polar words mean the same in every task."""
    rng = np.random.default_rng(seed)
    rows = []
    for _ in range(n):
        label = int(rng.integers(2))
        words = list(rng.choice(FILLERS, 5)) + [str(rng.choice(POSITIVE if label else NEGATIVE))]
        rows.append((" ".join(rng.permutation(words)), task, "pos" if label else "neg"))
    return pd.DataFrame(rows, columns=["text", "task", "label"])


def _x(frame):
    return {"text": frame["text"], "task": frame["task"]}


@pytest.fixture(scope="module")
def source_model():
    keras.utils.set_random_seed(0)
    train = pd.concat([_rows("books", 300, 1), _rows("dvd", 300, 2)], ignore_index=True)
    # The vocabulary covers every polar word, as a real vocabulary learnt from many tasks would.
    pre = tf_aspmtl.MultiTaskPreprocessor.from_frame(train, max_length=12)
    model = tf_aspmtl.AdversarialSharedPrivateMTL(pre, embedding_dim=8, hidden_dim=8, encoder="lstm",
                                                  word_vectors="random")
    model.compile(learning_rate=1e-2)
    model.fit(_x(train), train["label"], batch_size=16, epochs=6, verbose=0)
    return model


def _weights(layer):
    return [w.numpy().copy() for w in layer.weights]


@pytest.mark.parametrize("mode", ["sc", "bc"])
def test_frozen_parts_do_not_move_and_the_new_parts_do(source_model, mode):
    new = source_model.transfer("music", classes=["neg", "pos"], mode=mode)
    frozen = _weights(new.backbone.embedding) + _weights(new.shared_encoder)
    np.testing.assert_array_equal(frozen[0], source_model.embedding.embeddings.numpy())
    heads = _weights(new.heads)
    train = _rows("music", 32, 3)
    new.fit(_x(train), train["label"], batch_size=8, epochs=2, verbose=0)
    for before, after in zip(frozen, _weights(new.backbone.embedding) + _weights(new.shared_encoder)):
        np.testing.assert_array_equal(before, after)
    assert any(not np.array_equal(b, a) for b, a in zip(heads, _weights(new.heads)))
    if mode == "bc":
        assert len(new.private_encoders) == 1 and new.private_encoders[0].trainable
    else:
        assert new.private_encoders == []


def test_train_shared_unfreezes(source_model):
    new = source_model.transfer("music", classes=["neg", "pos"], mode="sc", train_shared=True)
    before = _weights(new.shared_encoder)
    train = _rows("music", 32, 3)
    new.fit(_x(train), train["label"], batch_size=8, epochs=2, verbose=0)
    assert any(not np.array_equal(b, a) for b, a in zip(before, _weights(new.shared_encoder)))


def test_transfer_beats_training_from_scratch_on_few_rows(source_model):
    few, test = _rows("music", 12, 4), _rows("music", 400, 5)

    def accuracy(model):
        probs = model.predict(_x(test), verbose=0)
        truth = (test["label"] == "pos").to_numpy().astype(int)
        return float(np.mean(probs.argmax(axis=1) == truth))

    results = {}
    for mode in ("sc", "bc"):
        keras.utils.set_random_seed(0)
        new = source_model.transfer("music", classes=["neg", "pos"], mode=mode)
        new.compile(learning_rate=1e-2)
        new.fit(_x(few), few["label"], batch_size=4, epochs=15, verbose=0)
        results[mode] = accuracy(new)
    keras.utils.set_random_seed(0)
    scratch_pre = tf_aspmtl.MultiTaskPreprocessor(
        ["music"], {"music": ["neg", "pos"]}, text_vectorizer=source_model.preprocessor.text_vectorizer
    )
    scratch = tf_aspmtl.SingleTaskClassifier(scratch_pre, embedding_dim=8, hidden_dim=8, encoder="lstm",
                                             word_vectors="random")
    scratch.compile(learning_rate=1e-2)
    scratch.fit(_x(few), few["label"], batch_size=4, epochs=15, verbose=0)
    results["scratch"] = accuracy(scratch)
    assert results["sc"] > results["scratch"] + 0.1, results
    assert results["bc"] > results["scratch"] + 0.1, results


def test_transfer_model_saves_loads_and_predicts_the_same(source_model, tmp_path):
    new = source_model.transfer("music", classes=["neg", "pos"], mode="bc", difference_weight=0.01)
    train = _rows("music", 32, 3)
    new.fit(_x(train), train["label"], batch_size=8, epochs=1, verbose=0)
    new.save(tmp_path / "music.keras")
    loaded = keras.models.load_model(tmp_path / "music.keras", safe_mode=True)
    assert loaded.frozen == ["embedding", "shared_encoder"] and not loaded.shared_encoder.trainable
    np.testing.assert_allclose(loaded.predict(_x(train), verbose=0), new.predict(_x(train), verbose=0), atol=1e-6)


def test_transfer_keeps_the_source_text_settings():
    train = pd.concat([_rows("books", 40, 1), _rows("dvd", 40, 2)], ignore_index=True)
    pre = tf_aspmtl.MultiTaskPreprocessor.from_frame(train, max_length=4, truncation="head+tail")
    source = tf_aspmtl.AdversarialSharedPrivateMTL(pre, embedding_dim=4, hidden_dim=4, word_vectors="random")
    new = source.transfer("music", classes=["neg", "pos"], mode="bc", compile=False)
    old_vectorizer, new_vectorizer = pre.text_vectorizer, new.preprocessor.text_vectorizer
    assert (new_vectorizer.truncation, new_vectorizer.max_length) == ("head+tail", 4)
    assert new_vectorizer.get_vocabulary() == old_vectorizer.get_vocabulary()
    texts = ["good1 the a it was and this of bad2", "to"]
    texts = tf.constant(texts)
    np.testing.assert_array_equal(new_vectorizer(texts).numpy(), old_vectorizer(texts).numpy())


def test_transfer_refuses_bad_requests(source_model):
    with pytest.raises(ValueError, match="Unknown transfer mode"):
        source_model.transfer("music", classes=["neg", "pos"], mode="xx")
    with pytest.raises(ValueError, match="use mode='bc'"):
        source_model.transfer("music", classes=["neg", "pos"], mode="sc", difference_weight=0.1)


def test_a_transfer_run_trains_a_held_out_task_and_refuses_a_seen_one(tmp_path, capsys):
    import json

    from experiments import transfer
    from tests.tiny_fdu import texts, write_fdu_folder
    from tf_aspmtl.training import TrainConfig, run, run_transfer

    (tmp_path / "fdu").mkdir()
    data = write_fdu_folder(tmp_path / "fdu")
    for split, n in (("train", 210), ("test", 12)):  # a third task, the held-out one
        lines = [f"{i % 2}\t{t}" for i, t in enumerate(texts("music", n, 9))]
        (data / f"music.task.{split}").write_text("\n".join(lines))
    source = TrainConfig(model="fs-mtl", tasks=("books", "dvd"), epochs=1, hidden_dim=4, embedding_dim=4, max_length=8,
                         encoder="lstm", embedding="random", paper_scale=False)
    run(source, tmp_path / "source", data, verbose=0)
    source_model = tmp_path / "source" / "model" / "model.keras"
    with pytest.raises(ValueError, match="was trained on 'books'"):
        run_transfer(source_model, "books", tmp_path / "x", mode="sc", data_dir=data)
    assert not (tmp_path / "x").exists()

    # The command line (over run_transfer): it runs and writes its results file, and says what is wrong and exits 2.
    out = tmp_path / "music-bc"
    assert transfer.main(["--source-model", str(source_model), "--task", "music", "--mode", "bc", "--epochs", "1",
                          "--data-dir", str(data), "--output-dir", str(out), "--verbose", "0"]) == 0
    results = json.loads((out / "results.json").read_text())
    assert results["source_tasks"] == ["books", "dvd"] and set(results["per_task"]) == {"music"}
    assert results["model"] == "transfer-bc" and results["source_class"] == "FullySharedMTL"
    assert 0 <= results["avg_test_error"] <= 100 and (out / "model" / "model.keras").exists()
    assert results["config"]["mode"] == "bc" and results["config"]["source_model"] == str(source_model)
    assert "experiments.transfer" in results["command"] and "| music |" in (out / "results.md").read_text()
    capsys.readouterr()
    assert transfer.main(["--source-model", str(source_model), "--task", "books", "--mode", "sc", "--output-dir",
                          str(tmp_path / "x")]) == 2
    assert "has not seen" in capsys.readouterr().err


def test_constructor_arguments_override_the_source_models_and_frozen_is_refused(source_model):
    new = source_model.transfer("music", classes=["neg", "pos"], mode="sc", seed=7)
    assert new.seed == 7 and source_model.seed != 7
    assert source_model.transfer("music", classes=["neg", "pos"], mode="sc").seed == source_model.seed
    with pytest.raises(ValueError, match="train_shared"):
        source_model.transfer("music", classes=["neg", "pos"], mode="sc", frozen=())
