"""Adversarial (AT) and virtual adversarial (VAT) training on the word embeddings, options of MultiTaskClassifier."""

import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from tf_aspmtl.embedding_perturbation import adversarial_perturbation, kl_divergence, scale_to_norm
from tf_aspmtl.losses import task_loss
from tf_aspmtl.models import AdversarialSharedPrivateMTL, FullySharedMTL, MultiTaskClassifier, SharedPrivateMTL
from tf_aspmtl.training.random_state import random_state, random_state_variables, set_random_state
from tf_aspmtl.training.train_config import TrainConfig, build_model

TASKS = ["a", "b"]
LENGTHS = [7, 3, 5, 1, 6, 2]
RNG = np.random.default_rng(0)
IDS = np.zeros((len(LENGTHS), 8), np.int32)
for _row, _n in enumerate(LENGTHS):
    IDS[_row, :_n] = RNG.integers(2, 30, _n)
MASK = IDS != 0
X = {"token_ids": tf.constant(IDS), "task_id": tf.ones([len(LENGTHS)], tf.int32)}
Y = tf.constant([0, 1, -1, 1, -1, 0])  # -1: unlabelled rows, as make_training_dataset(unlabeled=...) mixes in
UNLABELLED = tf.fill([len(LENGTHS)], -1)


def _asp(**kwargs):
    return AdversarialSharedPrivateMTL(TASKS, vocabulary_size=30, embedding_dim=4, hidden_dim=4, seed=0, **kwargs)


def _batches(steps=3):
    """A fixed one-task-per-batch dataset of the rows above (tasks alternate)."""
    def batch(i):
        return {"token_ids": X["token_ids"], "task_id": tf.fill([len(LENGTHS)], i % 2)}, Y
    return tf.data.Dataset.range(steps).map(lambda i: batch(tf.cast(i, tf.int32)))


def _fit(model, steps=3, **compile_kwargs):
    model.compile(optimizer=keras.optimizers.Adam(0.01), **compile_kwargs)
    return model.fit(_batches(steps), epochs=1, verbose=0).history


def _row_norms(r):
    return np.sqrt(np.sum(np.square(np.asarray(r, np.float64)), axis=(1, 2)))


# ------------------------------------------------------------------ default
def test_default_is_bit_identical_to_none_and_adds_nothing():
    # Eager fits (a graph traces the same Python: the graph fits are test_fit_runs_and_logs_the_term's).
    runs = {}
    for name, extra in (("omitted", {}), ("none", {"embedding_perturbation": "none"})):
        keras.utils.set_random_seed(0)
        model = _asp(dropout=0.2, **extra)
        history = _fit(model, run_eagerly=True)
        runs[name] = (history, model.get_weights(), model.predict(X, verbose=0))
    (h0, w0, p0), (h1, w1, p1) = runs["omitted"], runs["none"]
    assert h0 == h1 and "perturbation_loss" not in h0
    assert len(w0) == len(w1) and all(np.array_equal(a, b) for a, b in zip(w0, w1))
    assert np.array_equal(p0, p1)
    assert "perturbation_loss" not in _asp().loss_terms(Y, _asp()(X), x=X)


# ------------------------------------------------------------------ AT
def test_adversarial_perturbation_has_norm_eps_on_real_tokens_and_raises_the_loss_more_than_random():
    eps = 0.05
    model = _asp(embedding_perturbation="adversarial", perturbation_norm=eps)
    embedded, mask = model.backbone.embed(X["token_ids"])
    task_ids = X["task_id"]

    def loss_at(vectors):
        logits = model.logits_from_embedded(vectors, mask, task_ids, training=False, single_task_batch=True)
        return task_loss(Y, tf.cast(logits, tf.float32), task_ids)

    r_adv = adversarial_perturbation(loss_at, embedded, mask, eps).numpy()
    labelled = Y.numpy() >= 0
    np.testing.assert_allclose(_row_norms(r_adv)[labelled], eps, rtol=1e-5)
    assert np.all(r_adv[~labelled] == 0)  # no label, no gradient, no perturbation
    assert np.all(r_adv[~MASK] == 0)  # padding is never perturbed

    clean = float(loss_at(embedded))
    adversarial = float(loss_at(embedded + r_adv))
    rng = np.random.default_rng(1)
    random_losses = []
    for _ in range(20):
        r = scale_to_norm(rng.normal(size=embedded.shape), mask, eps) * labelled[:, None, None]
        random_losses.append(float(loss_at(embedded + r)))
    assert adversarial > clean > float(loss_at(embedded - r_adv))
    assert adversarial - clean > 3 * max(abs(v - clean) for v in random_losses)
    # The model's own term is the task loss at x + r_adv.
    terms = model.loss_terms(Y, model(X, training=False), x=X, training=False)
    assert float(terms["perturbation_loss"]) == pytest.approx(adversarial, rel=1e-5)
    assert float(terms["loss"]) == pytest.approx(float(terms["task_loss"]) + 0.05 * float(terms["adv_loss"])
                                                 + 0.01 * float(terms["diff_loss"]) + adversarial, rel=1e-5)


def test_adversarial_term_is_zero_without_labelled_rows():
    model = _asp(embedding_perturbation="adversarial")
    terms = model.loss_terms(UNLABELLED, model(X, training=True), x=X, training=True)
    assert float(terms["task_loss"]) == 0.0 and float(terms["perturbation_loss"]) == 0.0


# ------------------------------------------------------------------ VAT
def test_virtual_term_is_nonnegative_and_vanishes_with_eps():
    big = _asp(embedding_perturbation="virtual", perturbation_norm=1.0)
    config = big.get_config()
    config["objective"]["config"]["perturbation_norm"] = 1e-6
    small = AdversarialSharedPrivateMTL.from_config(config)
    small.set_weights(big.get_weights())
    y_pred = big(X, training=True)
    kl_big = float(big.loss_terms(Y, y_pred, x=X)["perturbation_loss"])
    kl_small = float(small.loss_terms(Y, y_pred, x=X)["perturbation_loss"])
    assert kl_big > 0
    assert abs(kl_small) < 1e-6 * kl_big + 1e-10
    assert float(kl_divergence(y_pred["logits"], y_pred["logits"])) == pytest.approx(0.0, abs=1e-7)


def test_virtual_term_trains_on_unlabelled_rows():
    # No adversary or difference term: only VAT can move the encoder on a batch without labels.
    model = SharedPrivateMTL(TASKS, vocabulary_size=30, embedding_dim=4, hidden_dim=4,
                                embedding_perturbation="virtual", perturbation_norm=1.0)
    with tf.GradientTape() as tape:
        terms = model.loss_terms(UNLABELLED, model(X, training=True), x=X, training=True)
    assert float(terms["task_loss"]) == 0.0
    assert float(terms["perturbation_loss"]) > 0
    grads = tape.gradient(terms["loss"], model.shared_encoder.trainable_variables)
    assert any(float(tf.reduce_max(tf.abs(g))) > 0 for g in grads)


def test_virtual_directions_come_from_a_seed_generator_of_the_model_made_after_every_weight():
    # Its state is part of the model's random state, which epoch checkpoints keep (tests/test_random_state.py).
    keras.utils.set_random_seed(0)
    plain = _asp(dropout=0.2)
    keras.utils.set_random_seed(0)
    model = _asp(dropout=0.2, embedding_perturbation="virtual")
    assert plain.perturbation_seed is None
    assert all(np.array_equal(a, b) for a, b in zip(plain.get_weights(), model.get_weights()))  # no weight moved
    assert any(v is model.perturbation_seed.state for v in random_state_variables(model))
    start = random_state(model)
    y_pred = model(X, training=False)
    terms = [float(model.loss_terms(Y, y_pred, x=X)["perturbation_loss"]) for _ in range(2)]
    assert int(model.perturbation_seed.state.numpy()[1]) == 2 and terms[0] != terms[1]  # a direction per call
    set_random_state(model, start)
    assert float(model.loss_terms(Y, y_pred, x=X)["perturbation_loss"]) == terms[0]  # the same state, the same one


# ------------------------------------------------------------------ fit
@pytest.mark.parametrize("kind", ["adversarial", "virtual"])
@pytest.mark.parametrize("run_eagerly", [False, True], ids=["graph", "eager"])
def test_fit_runs_and_logs_the_term(kind, run_eagerly):
    model = _asp(embedding_perturbation=kind, perturbation_weight=0.5, dropout=0.1)
    history = _fit(model, run_eagerly=run_eagerly)
    for name in ("loss", "task_loss", "perturbation_loss"):
        assert np.all(np.isfinite(history[name]))
    assert history["perturbation_loss"][0] > 0
    assert all(np.isfinite(w).all() for w in model.get_weights())


@pytest.mark.parametrize("kind", ["adversarial", "virtual"])
def test_fit_under_mixed_precision_with_the_scaled_loss(kind):
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_float16")
    try:
        model = _asp(embedding_perturbation=kind)
        # LazyAdam in a LossScaleOptimizer; eager (the graph fits of each kind are test_fit_runs_and_logs_the_term's)
        model.compile(run_eagerly=True)
        assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer)
        history = model.fit(_batches(), epochs=1, verbose=0).history
        assert np.all(np.isfinite(history["loss"])) and history["perturbation_loss"][0] > 0
    finally:
        keras.config.set_dtype_policy(previous)


# ------------------------------------------------------------------ config, saving
def test_config_round_trip_and_keras_file(tmp_path):
    model = _asp(embedding_perturbation="virtual", perturbation_weight=0.3, perturbation_norm=2.0, vat_xi=0.01)
    config = model.get_config()
    objective = config["objective"]["config"]
    assert {k: objective[k] for k in ("embedding_perturbation", "perturbation_weight", "perturbation_norm", "vat_xi")} \
        == {"embedding_perturbation": "virtual", "perturbation_weight": 0.3, "perturbation_norm": 2.0, "vat_xi": 0.01}
    clone = AdversarialSharedPrivateMTL.from_config(json.loads(json.dumps(config)))
    assert clone.get_config() == config
    path = tmp_path / "vat.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    assert isinstance(loaded, AdversarialSharedPrivateMTL) and loaded.get_config() == config
    np.testing.assert_array_equal(loaded.predict(X, verbose=0), model.predict(X, verbose=0))


# ------------------------------------------------------------------ checks, TrainConfig, CLI
@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"embedding_perturbation": "fgsm"}, "embedding_perturbation"),
        ({"perturbation_weight": -1.0}, "perturbation_weight"),
        ({"perturbation_weight": "1"}, "perturbation_weight"),
        ({"perturbation_norm": 0.0}, "perturbation_norm"),
        ({"perturbation_norm": float("inf")}, "perturbation_norm"),
        ({"vat_xi": float("nan")}, "vat_xi"),
        ({"vat_xi": 0}, "vat_xi"),
    ],
)
def test_bad_values_name_the_argument(kwargs, name):
    with pytest.raises(ValueError, match=name):
        FullySharedMTL(TASKS, vocabulary_size=30, embedding_dim=4, hidden_dim=4, **kwargs)


@pytest.mark.parametrize(
    "fields, name",
    [({"embedding_perturbation": "fgsm"}, "embedding_perturbation"),
     ({"perturbation_weight": -0.1}, "perturbation_weight"),
     ({"perturbation_norm": 0.0}, "perturbation_norm")],
)
def test_train_config_checks_the_fields(fields, name):
    with pytest.raises(ValueError, match=f"TrainConfig.{name}"):
        TrainConfig(**fields)


def test_the_config_reaches_the_model():
    assert TrainConfig().embedding_perturbation == "none"
    config = TrainConfig(model="fs-mtl", tasks=("books", "dvd"), embedding="random", embedding_dim=4, hidden_dim=4,
                         embedding_perturbation="virtual", perturbation_weight=0.5, perturbation_norm=2,
                         unlabeled_fraction=0.3)
    model = build_model(config, ["books", "dvd"], num_classes=2, vocabulary_size=30)
    objective = model.objective
    assert (objective.embedding_perturbation, objective.perturbation_weight, objective.perturbation_norm) == \
        ("virtual", 0.5, 2.0)
