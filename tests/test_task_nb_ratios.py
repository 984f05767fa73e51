"""The n-gram model's private path scaled by each task's own naive-Bayes ratios (``task_nb_ratios``, issue 24)."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tf_aspmtl.models.shared_private_ngram_classifier import SharedPrivateNgramClassifier
from tf_aspmtl.preprocessing.ngram_features import NgramFeatures, nb_log_count_ratios
from tf_aspmtl.preprocessing.ngram_preprocessor import NgramPreprocessor
from tf_aspmtl.preprocessing.tokenizer import standardize

# "long" is good news for batteries and bad news for films: its ratio differs in sign between the tasks (and, in
# 3 positive rows against 2 negative ones, is not 0 over both: where that ratio is 0 the private path gets 0).
TEXTS = ["long battery life", "battery died fast", "long lasting charge", "short battery life", "long charge",
         "long boring film", "great short film", "long and dull", "short and sweet"]
LABELS = [1, 0, 1, 0, 1, 0, 1, 0, 1]
TASKS = ["electronics"] * 5 + ["dvd"] * 4
PROBES = TEXTS + ["long", "unseen words", "", "Long Battery !"]


def _model(**kwargs):
    features = NgramFeatures(max_features=60, ngrams=1, weighting="nb")
    features.adapt(TEXTS, labels=LABELS)
    preprocessor = NgramPreprocessor(["electronics", "dvd"], {"electronics": ["0", "1"], "dvd": ["0", "1"]},
                                     features)
    model = SharedPrivateNgramClassifier(preprocessor, task_nb_ratios=True, name="task_nb", **kwargs)
    rng = np.random.default_rng(0)
    for w in (model.shared_kernel, model.private_kernel, model.bias):
        w.assign(rng.normal(size=w.shape).astype("float32"))
    return model


def test_the_scale_is_each_tasks_own_ratio_over_the_global_one():
    model = _model()
    np.testing.assert_array_equal(model.private_scale.numpy(), 1.0)  # before adapting: as without the option
    model.adapt_task_nb_ratios(TEXTS, LABELS, TASKS, batch_size=3)
    counts = tf.sparse.to_dense(model.features.count(standardize(tf.constant(TEXTS)))).numpy() > 0
    scale = model.private_scale.numpy().reshape(-1, 2)  # [width, tasks]
    shared = model.features.nb_ratio.numpy()
    for k, task in enumerate(["electronics", "dvd"]):
        rows = np.array(TASKS) == task
        labels = np.array(LABELS)[rows]
        own = nb_log_count_ratios(counts[rows][labels == 1].sum(0)[1:], counts[rows][labels == 0].sum(0)[1:])
        np.testing.assert_allclose(scale[1:, k] * shared[1:], np.where(shared[1:] != 0, own, 0), rtol=1e-5, atol=1e-6)
    long = model.features.counter.get_vocabulary().index("long")
    assert scale[long, 0] * shared[long] > 0 > scale[long, 1] * shared[long]  # good for batteries, bad for films
    assert scale[0].tolist() == [0.0, 0.0]


def test_the_private_logits_read_the_scaled_features_and_the_export_folds_the_scale(tmp_path):
    from tf_aspmtl.export import export_model

    model = _model()
    model.adapt_task_nb_ratios(TEXTS, LABELS, TASKS)
    x = tf.sparse.to_dense(model.features(tf.constant(PROBES))).numpy()
    scale = model.private_scale.numpy().reshape(-1, 2)
    private = model.private_kernel.numpy().reshape(-1, 2, 2)  # [width, tasks, classes]
    for k, task in enumerate(["electronics", "dvd"]):
        logits = (x @ model.shared_kernel.numpy() + (x * scale[:, k]) @ private[:, k] + model.bias.numpy()[k])
        got = model({"text": tf.constant(PROBES), "task": tf.constant([task] * len(PROBES))})["logits"].numpy()
        np.testing.assert_allclose(got, logits, rtol=1e-5, atol=1e-5)
    exported = export_model(model, tmp_path / "serving", tasks=["dvd"], warmup_requests=False)  # checks it too
    served = tf.saved_model.load(exported[0].path).signatures["serving_default"](text=tf.constant(PROBES))
    np.testing.assert_allclose(served["probabilities"].numpy(),
                               model.predict({"text": PROBES, "task": ["dvd"] * len(PROBES)}, verbose=0), atol=1e-6)


def test_the_option_and_its_scale_survive_config_and_keras_file(tmp_path):
    model = _model()
    model.adapt_task_nb_ratios(TEXTS, LABELS, TASKS)
    assert model.get_config()["task_nb_ratios"] is True
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    np.testing.assert_array_equal(loaded.private_scale.numpy(), model.private_scale.numpy())
    rows = {"text": PROBES, "task": ["electronics"] * len(PROBES)}
    np.testing.assert_array_equal(loaded.predict(rows, verbose=0), model.predict(rows, verbose=0))
    renamed = model.with_class_names([["neg", "pos"], ["neg", "pos"]])
    np.testing.assert_array_equal(renamed.private_scale.numpy(), model.private_scale.numpy())


def test_it_needs_nb_features_and_named_rows():
    features = NgramFeatures(max_features=60, ngrams=1)
    features.adapt(TEXTS)
    preprocessor = NgramPreprocessor(["dvd"], {"dvd": ["0", "1"]}, features)
    with pytest.raises(ValueError, match="task_nb_ratios .* weighting='nb'; got 'tfidf'"):
        SharedPrivateNgramClassifier(preprocessor, task_nb_ratios=True)
    with pytest.raises(ValueError, match="task_nb_ratios off"):
        SharedPrivateNgramClassifier(preprocessor).adapt_task_nb_ratios(TEXTS, LABELS, TASKS)
    model = _model()
    with pytest.raises(ValueError, match="one 0/1 label and one task per text"):
        model.adapt_task_nb_ratios(TEXTS, LABELS[:-1], TASKS)
    with pytest.raises(ValueError, match="music"):
        model.adapt_task_nb_ratios(TEXTS, LABELS, TASKS[:-1] + ["music"])
    assert "task_nb_ratios" not in SharedPrivateNgramClassifier(
        NgramPreprocessor(["dvd"], {"dvd": ["0", "1"]}, model.features)).get_config()
