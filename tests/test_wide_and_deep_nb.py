"""The wide-and-deep model's naive-Bayes n-gram weighting (``--wide-feature-weighting nb``): a field of the wide-deep
model only, left out of what a default run records, learnt by the run from the train split's rows and labels alone,
and kept by a saved, loaded and exported model."""

import dataclasses
import json
from pathlib import Path

import keras
import numpy as np
import pandas as pd
import pytest
import tensorflow as tf

import tf_aspmtl
from experiments import train
from tests.tiny_fdu import TASKS, write_fdu_folder, write_unlabeled_files
from tf_aspmtl.data import load_fdu_mtl
from tf_aspmtl.preprocessing import NgramFeatures, TextVectorizer
from tf_aspmtl.training import TrainConfig, build_model, fdu_preprocessor, run
from tf_aspmtl.training.fdu_mtl_run import wide_ngram_features
from tf_aspmtl.training.ngram_config import FEATURE_WEIGHTINGS
from tf_aspmtl.training.run_folder import RUN_FOLDER_FORMAT, RunFolderError, claim_run_folder
from tf_aspmtl.training.train_config import TRAIN_CONFIG_CHOICES

FRAME = pd.DataFrame({  # FDU-MTL's labels: 1 positive, 0 negative
    "text": ["a good novel", "a dull novel , too long", "great fun plot", "awful plot", "the disc skips",
             "a fine film", "bad sound , awful", "well made film", "good but slow", "not bad at all"] * 3,
    "task": (["books"] * 4 + ["dvd"] * 4 + ["books", "dvd"]) * 3,
    "label": [1, 0, 1, 0, 0, 1, 0, 1, 1, 0] * 3,
})
PROBE = ["a good film", "awful sound", "zzz unseen", "", "great novel , well made"]
SMALL = {"model": "wide-deep", "tasks": TASKS, "embedding": "random", "embedding_dim": 4, "hidden_dim": 4,
         "max_length": 8, "epochs": 1, "paper_scale": False}


def _dense(features: NgramFeatures, texts) -> np.ndarray:
    return tf.sparse.to_dense(features(tf.constant(texts))).numpy()


def test_the_field_is_a_flag_of_the_wide_deep_model_only(capsys):
    config = train.resolve_config(train.parse_args(["--model", "wide-deep", "--wide-feature-weighting", "nb"]))
    assert config.wide_feature_weighting == "nb"
    assert train.resolve_config(train.parse_args(["--model", "wide-deep"])).wide_feature_weighting == "tfidf"
    assert set(TRAIN_CONFIG_CHOICES["wide_feature_weighting"]) == set(FEATURE_WEIGHTINGS)  # the n-gram model's
    assert train.main(["--model", "asp-mtl", "--wide-feature-weighting", "nb", "--tasks", "books"]) == 2
    assert ("TrainConfig.wide_feature_weighting (--wide-feature-weighting) sets the wide path of model='wide-deep'; "
            "model is 'asp-mtl'") in capsys.readouterr().err
    with pytest.raises(SystemExit):
        train.parse_args(["--model", "wide-deep", "--wide-feature-weighting", "bm25"])
    assert "invalid choice: 'bm25'" in capsys.readouterr().err
    with pytest.raises(ValueError, match=r"TrainConfig.wide_feature_weighting must be one of \['nb', 'tfidf'\]"):
        TrainConfig(model="wide-deep", wide_feature_weighting="bm25")
    with pytest.raises(ValueError, match=r"TrainConfig.ngrams, TrainConfig.wide_feature_weighting set the wide "):
        TrainConfig(model="sp-mtl", ngrams=3, wide_feature_weighting="nb")


def test_a_default_run_records_what_it_did_before_the_field_existed(tmp_path):
    default = TrainConfig.from_dict(SMALL)
    record = default.to_dict()
    left_out = {"wide_feature_weighting", "gradient_reversal_scale", "reversal_warmup_epochs",
                "discriminator_memory", "mean_matching_weight", "shared_mean_projection"}  # at their defaults
    assert set(record) == {f.name for f in dataclasses.fields(TrainConfig)} - left_out
    assert TrainConfig.from_dict(record) == default
    nb = dataclasses.replace(default, wide_feature_weighting="nb")
    assert nb.to_dict() == {**record, "wide_feature_weighting": "nb"}
    assert TrainConfig.from_dict(json.loads(json.dumps(nb.to_dict()))) == nb
    # The committed results of the wide-and-deep screen: their configs, read and recorded again, are unchanged.
    stored = sorted((Path(__file__).parents[1] / "experiments/results/wide_deep_screen").glob("*.json"))
    for path in stored:
        config = json.loads(path.read_text())["config"]
        assert json.loads(json.dumps(TrainConfig.from_dict(config).to_dict())) == config, path
    # A run folder written before the field existed: the same run resumes it and leaves its record as it was; the
    # nb run is refused, the field named with both values.
    folder = tmp_path / "run"
    folder.mkdir()
    before = json.dumps({"config": json.loads(json.dumps(record)), "dev_only": True, "format": RUN_FOLDER_FORMAT})
    (folder / "run_config.json").write_text(before)
    claim_run_folder(folder, default, dev_only=True)
    assert (folder / "run_config.json").read_text() == before
    with pytest.raises(RunFolderError, match=r"'wide_feature_weighting': \('tfidf', 'nb'\)"):
        claim_run_folder(folder, nb, dev_only=True)


# NB ratios from the train split alone are the default suite's for the n-gram run (tests/test_ngram_levers.py); this
# is the wide-and-deep twin
@pytest.mark.slow
def test_the_run_learns_the_wide_nb_ratios_from_the_train_rows_and_labels_alone(tmp_path):
    (tmp_path / "fdu").mkdir()
    data_dir = write_unlabeled_files(write_fdu_folder(tmp_path / "fdu"))
    config = TrainConfig.from_dict({**SMALL, "ngram_max_features": 50, "wide_feature_weighting": "nb",
                                    "unlabeled_fraction": 0.25})  # unlabelled rows are loaded: none may count
    results = run(config, tmp_path / "run", data_dir, dev_only=True, verbose=0)
    data = load_fdu_mtl(data_dir, tasks=TASKS, splits=("train", "dev", "unlabeled"))
    rows = data[data["split"] == "train"]
    expected = NgramFeatures(max_features=50, ngrams=2, weighting="nb")
    expected.adapt(rows["text"].tolist(), labels=rows["label"].to_numpy())
    got = tf_aspmtl.Task.load(tmp_path / "run" / "model" / "model.keras").preprocessor.ngram_features
    assert got.weighting == "nb" and got.counter.get_vocabulary() == expected.counter.get_vocabulary()
    np.testing.assert_array_equal(got.nb_ratio.numpy(), expected.nb_ratio.numpy())
    np.testing.assert_array_equal(got.idf.numpy(), expected.idf.numpy())
    texts = data["text"].tolist()[::7]  # rows of every split
    np.testing.assert_array_equal(_dense(got, texts), _dense(expected, texts))
    # Not what the other rows would give: the comparison above tells train rows from more rows.
    wider = NgramFeatures(max_features=50, ngrams=2, weighting="nb")
    more = data[data["split"].isin(("train", "dev"))]
    wider.adapt(more["text"].tolist(), labels=more["label"].to_numpy())
    assert wider.counter.get_vocabulary() != expected.counter.get_vocabulary()
    assert results["config"]["wide_feature_weighting"] == "nb"
    assert results["wide_nb_weighting"] == {"rows": len(rows), "positive_rows": int((rows["label"] == 1).sum())}
    recorded = json.loads((tmp_path / "run" / "run_config.json").read_text())["config"]
    assert recorded["wide_feature_weighting"] == "nb"


# NB ratios through save, load and export are the default suite's for the n-gram model (tests/test_ngram_levers.py);
# this is the wide-and-deep twin
@pytest.mark.slow
def test_a_saved_loaded_and_exported_model_keeps_the_nb_ratios(tmp_path):
    config = TrainConfig.from_dict({**SMALL, "ngram_max_features": 60, "wide_feature_weighting": "nb"})
    features = wide_ngram_features(config, FRAME)
    expected = NgramFeatures(max_features=60, ngrams=2, weighting="nb")
    expected.adapt(FRAME["text"].tolist(), labels=FRAME["label"].to_numpy())
    np.testing.assert_array_equal(features.nb_ratio.numpy(), expected.nb_ratio.numpy())
    np.testing.assert_array_equal(_dense(features, PROBE), _dense(expected, PROBE))
    vectorizer = TextVectorizer(max_length=8, max_tokens=100)
    vectorizer.adapt(FRAME["text"].tolist())
    keras.utils.set_random_seed(0)
    model = build_model(config, fdu_preprocessor(vectorizer, TASKS, features))
    assert model.preprocessor.ngram_features is features
    rng = np.random.default_rng(0)
    model.wide.set_weights([rng.normal(size=w.shape) for w in model.wide.get_weights()])  # the wide path matters
    x = {"text": PROBE, "task": ["dvd"] * len(PROBE)}
    ours = model.predict(x, verbose=0)
    ratio = features.nb_ratio.numpy()
    features.nb_ratio.assign(np.ones_like(ratio))  # tf-idf alone: other answers, so the checks below can fail
    try:
        assert not np.allclose(model.predict(x, verbose=0), ours, atol=1e-3)
    finally:
        features.nb_ratio.assign(ratio)
    model.save(tmp_path / "model.keras")
    loaded = tf_aspmtl.Task.load(tmp_path / "model.keras")
    assert type(loaded) is tf_aspmtl.WideAndDeepMTL and loaded.preprocessor.ngram_features.weighting == "nb"
    np.testing.assert_array_equal(loaded.preprocessor.ngram_features.nb_ratio.numpy(), ratio)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), ours, atol=1e-6)
    exported = loaded.export(str(tmp_path / "serving"), tasks=["dvd"], verbose=False, warmup_requests=False)
    served = tf.saved_model.load(exported[0].path).signatures["serving_default"](text=tf.constant(PROBE))
    np.testing.assert_allclose(served["probabilities"].numpy(), ours, atol=1e-5)
    info = json.loads((tmp_path / "serving" / "dvd" / "1" / "assets.extra" / "export.json").read_text())
    assert info["model"]["features"] == "token ids and word n-gram tf-idf scaled by NB log-count ratios"
