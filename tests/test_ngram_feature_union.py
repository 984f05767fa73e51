"""Word and character n-grams in one sparse row (NgramFeatureUnion), through NgramConfig, the model and a save."""

import numpy as np
import pandas as pd
import pytest
import tensorflow as tf

from tf_aspmtl import SharedPrivateNgramClassifier
from tf_aspmtl.preprocessing import NgramFeatureUnion, NgramFeatures, NgramPreprocessor
from tf_aspmtl.training.ngram_config import NgramConfig
from tf_aspmtl.training.ngram_run import ngram_preprocessor

TEXTS = ["good book", "bad book", "goodish film", "bad film", "a good read", "a bad read"]
LABELS = [1, 0, 1, 0, 1, 0]


def _union(weight=0.25, weighting="tfidf"):
    union = NgramFeatureUnion(NgramFeatures(max_features=30, ngrams=2, weighting=weighting),
                              NgramFeatures(max_features=200, ngrams=4, min_ngram=2, analyzer="char_wb",
                                            weighting=weighting), weight)
    union.adapt(TEXTS, labels=LABELS if weighting == "nb" else None)
    return union


def test_the_row_is_the_words_then_the_characters_times_the_weight():
    union = _union(0.25)
    texts = tf.constant(["good film", "bad read"])
    words, characters = union.words(texts), union.characters(texts)
    x = tf.sparse.to_dense(union(texts)).numpy()
    width = union.words.vocabulary_size
    assert x.shape == (2, width + union.characters.vocabulary_size)
    np.testing.assert_allclose(x[:, :width], tf.sparse.to_dense(words).numpy(), rtol=1e-6)
    np.testing.assert_allclose(x[:, width:], 0.25 * tf.sparse.to_dense(characters).numpy(), rtol=1e-6)


def test_the_config_builds_the_union_and_leaves_old_runs_settings_alone():
    config = NgramConfig(tasks=("a",), character_ngrams=4, character_max_features=200, character_weight=0.5)
    frame = pd.DataFrame({"text": TEXTS, "task": "a", "label": LABELS})
    features = ngram_preprocessor(config, frame).features
    assert isinstance(features, NgramFeatureUnion) and features.character_weight == 0.5
    assert (features.characters.ngrams, features.characters.min_ngram, features.characters.max_features) == (4, 2, 200)
    assert "character_ngrams" not in NgramConfig().settings()  # off: a run's recorded settings are as before
    assert config.settings()["character_weight"] == 0.5


@pytest.mark.parametrize("fields, message", [
    ({"character_ngrams": 1}, "character_ngrams must be 0 \\(off\\) or >= 2"),
    ({"character_weight": 0.5}, "they need character_ngrams >= 2"),
    ({"character_ngrams": 4, "character_weight": 0.0}, "character_weight must be a finite number > 0"),
    ({"character_ngrams": 4, "feature_weighting": "nb", "task_nb_ratios": True}, "does not take character_ngrams"),
])
def test_bad_character_settings_name_the_field(fields, message):
    with pytest.raises(ValueError, match=message):
        NgramConfig(**fields)


def test_a_model_on_the_union_trains_saves_and_loads_with_the_same_probabilities(tmp_path):
    import keras

    pre = NgramPreprocessor(["a"], {"a": ["neg", "pos"]}, _union(0.3, weighting="nb"))
    model = SharedPrivateNgramClassifier(pre)
    model.compile(optimizer=keras.optimizers.Adam(0.1))
    x = {"text": TEXTS, "task": ["a"] * len(TEXTS)}
    model.fit(x, [["neg", "pos"][y] for y in LABELS], epochs=3, verbose=0)
    before = model.predict(x, verbose=0)
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    np.testing.assert_allclose(loaded.predict(x, verbose=0), before, rtol=1e-5)
    assert "character n-grams" in model.serving_info(False)["features"]


def test_a_bad_union_is_named():
    words = NgramFeatures(max_features=10)
    with pytest.raises(ValueError, match="analyzer 'char_wb'"):
        NgramFeatureUnion(words, NgramFeatures(max_features=10))
    with pytest.raises(ValueError, match="same weighting"):
        NgramFeatureUnion(words, NgramFeatures(max_features=10, ngrams=3, min_ngram=2, analyzer="char_wb",
                                               weighting="nb"))
    with pytest.raises(ValueError, match="character_weight must be"):
        NgramFeatureUnion(words, NgramFeatures(max_features=10, ngrams=3, min_ngram=2, analyzer="char_wb"), 0)


def test_an_export_of_a_model_on_the_union_serves_its_probabilities(tmp_path):
    from tf_aspmtl.export import export_model

    pre = NgramPreprocessor(["a"], {"a": ["neg", "pos"]}, _union(0.3))
    model = SharedPrivateNgramClassifier(pre)
    model.set_weights([np.random.default_rng(0).normal(size=w.shape).astype("float32") for w in model.get_weights()])
    exported = export_model(model, tmp_path / "serving")  # check=True compares the export with the model
    served = tf.saved_model.load(exported[0].path).signatures["serving_default"](text=tf.constant(TEXTS))
    expected = model.predict({"text": TEXTS, "task": ["a"] * len(TEXTS)}, verbose=0)
    np.testing.assert_allclose(served["probabilities"].numpy(), expected, atol=1e-6)


def test_a_run_with_character_ngrams_and_nb_ratios_trains_and_reports_both_blocks(tmp_path):
    import keras

    from tests.tiny_fdu import TASKS, write_folder_with_planted_dev_copies
    from tf_aspmtl.training import run_ngram

    folder = write_folder_with_planted_dev_copies(tmp_path)
    config = NgramConfig(tasks=tuple(TASKS), epochs=2, batch_size=8, feature_weighting="nb", character_ngrams=4,
                         character_max_features=300, character_weight=0.3)
    results = run_ngram(config, tmp_path / "run", folder, dev_only=True, verbose=0)
    model = keras.models.load_model(tmp_path / "run" / "model" / "model.keras", compile=False)
    assert isinstance(model.features, NgramFeatureUnion) and model.features.character_weight == 0.3
    assert results["vocabulary_size"] == model.features.vocabulary_size > model.features.words.vocabulary_size
    characters = results["nb_weighting"]["characters"]
    assert characters["vocabulary_size"] == model.features.characters.vocabulary_size <= 300
    assert characters["ratio_min"] < 0 < characters["ratio_max"]
    assert results["settings"]["character_ngrams"] == 4
