"""TrainConfig's protocol options: Adagrad, the uniform initializer and frozen word vectors, from flag to model."""

import json

import keras
import numpy as np
import pytest

from experiments import train
from tf_aspmtl.preprocessing import TextVectorizer
from tf_aspmtl.training import TrainConfig, build_model, fdu_preprocessor

TASKS = ["books", "dvd"]
TEXTS = ["a good book", "a bad film", "great read", "awful plot", "good film", "bad book", "great plot", "awful read"]
LABELS = ["positive", "negative"] * 4


def _config(**fields) -> TrainConfig:
    return TrainConfig.from_dict({"model": "sp-mtl", "tasks": TASKS, "embedding": "word2vec", "embedding_dim": 8,
                                  "hidden_dim": 4, "max_length": 8, "paper_scale": False, **fields})


def _model(config: TrainConfig):
    """``build_model`` of ``config`` on a tiny vocabulary, with "pretrained" vectors (a seeded normal matrix)."""
    vectorizer = TextVectorizer(max_length=8, max_tokens=50)
    vectorizer.adapt(TEXTS)
    vectors = np.random.default_rng(0).normal(size=(vectorizer.vocabulary_size, 8)).astype("float32")
    keras.utils.set_random_seed(0)
    return build_model(config, fdu_preprocessor(vectorizer, TASKS), vectors), vectors


def _fit(model):
    """One epoch: every batch of both tasks once."""
    x = {"text": TEXTS, "task": [TASKS[i % 2] for i in range(len(TEXTS))]}
    model.fit(x, LABELS, batch_size=2, epochs=1, verbose=0)


@pytest.mark.parametrize("freeze", [True, False])
def test_frozen_word_vectors_stay_while_every_other_weight_moves(freeze):
    model, vectors = _model(_config(freeze_embeddings=freeze, learning_rate=0.05))
    np.testing.assert_array_equal(model.embedding.embeddings.numpy(), vectors)
    before = {w.path: w.numpy() for w in model.weights}
    _fit(model)
    moved = {w.path for w in model.weights if not np.array_equal(before[w.path], w.numpy())}
    embedding = model.embedding.embeddings.path
    assert moved == (set(before) - {embedding} if freeze else set(before))  # every encoder and head weight trained
    assert (embedding in {w.path for w in model.trainable_weights}) is not freeze
    clone = type(model).from_config(json.loads(json.dumps(model.get_config())))
    assert clone.embedding.trainable is not freeze and clone.frozen == (["embedding"] if freeze else [])


def test_adagrad_and_the_uniform_initializer_reach_the_model():
    model, _ = _model(_config(optimizer="adagrad", learning_rate=0.1, initializer="uniform"))
    assert type(model.optimizer) is keras.optimizers.Adagrad
    assert float(model.optimizer.learning_rate) == pytest.approx(0.1)
    assert model.backbone.initializer == "uniform"
    kernel = model.backbone.shared_encoder.lstm.kernel.numpy()
    assert np.abs(kernel).max() <= 0.1
    row = model.preprocessor.text_vectorizer.get_vocabulary().index("great")
    untouched = model.embedding.embeddings.numpy()[row].copy()
    x = {"text": ["a good book", "a bad film"], "task": ["books", "books"]}  # no "great": its row gets no gradient
    model.fit(x, ["positive", "negative"], batch_size=2, epochs=3, verbose=0)
    np.testing.assert_array_equal(model.embedding.embeddings.numpy()[row], untouched)
    assert not np.array_equal(model.backbone.shared_encoder.lstm.kernel.numpy(), kernel)


def test_the_defaults_are_todays_model():
    config = TrainConfig()
    assert (config.optimizer, config.initializer, config.freeze_embeddings) == ("lazy-adam", "default", False)
    model, _ = _model(_config())
    assert model.backbone.initializer == "default" and model.frozen == []
    assert model.heads.kernel_initializer == "glorot_uniform"


def test_config_round_trip_of_the_new_fields(tmp_path):
    config = _config(optimizer="adagrad", learning_rate=0.1, initializer="uniform", freeze_embeddings=True)
    assert TrainConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config
    path = tmp_path / "c.json"
    path.write_text(json.dumps({**config.to_dict(), "provenance": {"command": "x"}}))
    assert TrainConfig.from_json_file(path) == config
    older = {k: v for k, v in config.to_dict().items() if k not in ("initializer", "freeze_embeddings")}
    assert TrainConfig.from_dict(older) == _config(optimizer="adagrad", learning_rate=0.1)  # fields added later


@pytest.mark.parametrize("fields, message", [
    ({"optimizer": "sgd"}, r"TrainConfig.optimizer must be one of \['adagrad', 'adam', 'lazy-adam'\]; got 'sgd'"),
    ({"initializer": "glorot"}, r"TrainConfig.initializer must be one of \['default', 'uniform'\]; got 'glorot'"),
    ({"freeze_embeddings": "yes"}, "TrainConfig.freeze_embeddings must be true or false; got 'yes'"),
    ({"freeze_embeddings": 1}, "TrainConfig.freeze_embeddings must be true or false; got 1"),
    ({"freeze_embeddings": True, "embedding": "random"},
     "freeze_embeddings keeps pretrained word vectors fixed; with embedding='random'"),
])
def test_bad_values_are_refused_by_name(fields, message):
    with pytest.raises(ValueError, match=message):
        _config(**fields)


def test_random_vectors_from_a_language_model_may_be_frozen():
    assert _config(embedding="random", freeze_embeddings=True, lm_pretrain_epochs=1).freeze_embeddings


def test_flags_reach_the_config(tmp_path, capsys):
    argv = ["--model", "single", "--optimizer", "adagrad", "--learning-rate", "0.1", "--initializer", "uniform",
            "--embedding", "word2vec", "--embedding-dim", "200", "--freeze-embeddings"]
    config = train.resolve_config(train.parse_args(argv))
    assert (config.optimizer, config.learning_rate, config.initializer, config.freeze_embeddings, config.embedding,
            config.embedding_dim) == ("adagrad", 0.1, "uniform", True, "word2vec", 200)
    untouched = train.resolve_config(train.parse_args([]))
    assert (untouched.optimizer, untouched.initializer, untouched.freeze_embeddings) == ("lazy-adam", "default", False)
    frozen_file = tmp_path / "frozen.json"
    frozen_file.write_text(json.dumps({"freeze_embeddings": True}))
    assert not train.resolve_config(train.parse_args(["--config", str(frozen_file), "--no-freeze-embeddings"])
                                    ).freeze_embeddings
    with pytest.raises(SystemExit):
        train.parse_args(["--initializer", "glorot"])
    assert "invalid choice: 'glorot'" in capsys.readouterr().err
    assert train.main(["--freeze-embeddings", "--embedding", "random", "--tasks", "books"]) == 2
    assert "freeze_embeddings (--freeze-embeddings) keeps pretrained word vectors fixed" in capsys.readouterr().err



def test_every_train_config_field_has_a_flag_with_its_help_and_the_config_checks_it():
    import argparse
    from dataclasses import fields

    from tf_aspmtl.training import TrainConfig
    from tf_aspmtl.training.config_arguments import add_config_arguments, config_from_arguments
    from tf_aspmtl.training.train_config import TRAIN_CONFIG_CHOICES, TRAIN_CONFIG_HELP

    parser = argparse.ArgumentParser()
    add_config_arguments(parser, TrainConfig, TRAIN_CONFIG_HELP, TRAIN_CONFIG_CHOICES, skip=("tasks", "paper_scale"))
    by_flag = {a.option_strings[0]: a for a in parser._actions if a.option_strings and a.dest != "help"}
    for f in fields(TrainConfig):
        if f.name in ("tasks", "paper_scale"):
            continue
        action = by_flag.pop("--" + f.name.replace("_", "-"))
        assert TRAIN_CONFIG_HELP[f.name] in action.help and str(f.default) in action.help
        assert action.choices is None or set(action.choices) == set(TRAIN_CONFIG_CHOICES[f.name])
    assert not by_flag  # no flag without a field
    config = config_from_arguments(parser.parse_args(["--hidden-dim", "7", "--no-freeze-embeddings"]), TrainConfig,
                                   {"hidden_dim": 3, "dropout": 0.25})
    assert (config.hidden_dim, config.dropout, config.freeze_embeddings, config.epochs) == (7, 0.25, False, 15)
    with pytest.raises(ValueError, match=r"TrainConfig.dropout \(--dropout\) must be in \[0, 1\)"):
        config_from_arguments(parser.parse_args(["--dropout", "1.5"]), TrainConfig)
