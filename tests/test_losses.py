"""The objective's terms against direct numpy computations."""

import numpy as np
import pytest
import tensorflow as tf

from tf_aspmtl.losses import adversarial_loss, difference_loss, task_loss


def _log_softmax(z):
    z = z - z.max(axis=-1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


def _numpy_difference(s, h, tasks, normalization):
    if normalization == "normalized":
        s = s / np.linalg.norm(s, axis=1, keepdims=True)
        h = h / np.linalg.norm(h, axis=1, keepdims=True)
    terms = []
    for k in np.unique(tasks):
        sk, hk = s[tasks == k], h[tasks == k]
        term = np.sum((sk.T @ hk) ** 2)  # squared Frobenius norm of S_k^T H_k
        terms.append(term / len(sk) ** 2 if normalization == "normalized" else term)
    return np.mean(terms) if normalization == "normalized" else np.sum(terms)


@pytest.mark.parametrize("normalization", ["normalized", "sum"])
def test_difference_loss_zero_for_orthogonal_features(normalization):
    # Columns of a Hadamard matrix are orthogonal and its rows have equal norms,
    # so S^T H = 0 before and after row normalisation.
    h4 = np.array([[1, 1, 1, 1], [1, -1, 1, -1], [1, 1, -1, -1], [1, -1, -1, 1]], np.float32)
    shared, private = h4[:, :2], h4[:, 2:]
    loss = difference_loss(shared, private, tf.zeros(4, tf.int32), normalization)
    assert float(loss) == pytest.approx(0.0, abs=1e-6)


@pytest.mark.parametrize("normalization", ["normalized", "sum"])
def test_difference_loss_matches_numpy_per_task(normalization):
    rng = np.random.default_rng(0)
    s = rng.normal(size=(10, 6)).astype(np.float32)
    h = rng.normal(size=(10, 4)).astype(np.float32)
    tasks = np.array([0, 2, 2, 0, 1, 2, 0, 0, 1, 2], np.int32)
    got = float(difference_loss(s, h, tasks, normalization))
    want = _numpy_difference(s, h, tasks, normalization)
    assert got > 0
    assert got == pytest.approx(want, rel=1e-4)


def test_difference_loss_normalized_bounds():
    v = np.random.default_rng(1).normal(size=(8, 5)).astype(np.float32)
    # Identical shared and private directions: each term reaches its maximum of 1
    # only when all rows are parallel; a single row always is.
    assert float(difference_loss(v[:1], v[:1], [0], "normalized")) == pytest.approx(1.0, rel=1e-5)
    assert 0.0 < float(difference_loss(v, v, np.zeros(8, np.int32), "normalized")) <= 1.0


def test_difference_loss_rejects_unknown_normalization():
    with pytest.raises(ValueError, match="normalization"):
        difference_loss(np.ones((2, 2)), np.ones((2, 2)), [0, 0], "centered")


def test_task_loss_weights_and_ignores_unlabelled_rows():
    rng = np.random.default_rng(2)
    logits = rng.normal(size=(5, 3)).astype(np.float32)
    labels = np.array([2, -1, 0, 1, -1], np.int32)
    tasks = np.array([0, 1, 1, 0, 0], np.int32)
    alpha = np.array([1.0, 0.25], np.float32)
    got = float(task_loss(labels, logits, tasks, alpha))
    ls = _log_softmax(logits)
    keep = labels >= 0
    ce = -ls[np.arange(5)[keep], labels[keep]]
    want = np.sum(ce * alpha[tasks[keep]]) / keep.sum()
    assert got == pytest.approx(want, rel=1e-5)


def test_task_loss_is_zero_without_labelled_rows():
    assert float(task_loss([-1, -1], np.ones((2, 2), np.float32), [0, 1])) == 0.0


def test_adversarial_loss_is_discriminator_cross_entropy():
    rng = np.random.default_rng(3)
    logits = rng.normal(size=(6, 4)).astype(np.float32)
    tasks = np.array([0, 1, 2, 3, 3, 1], np.int32)
    want = -np.mean(_log_softmax(logits)[np.arange(6), tasks])
    assert float(adversarial_loss(tasks, logits)) == pytest.approx(want, rel=1e-5)


def test_task_loss_takes_column_task_ids_as_it_takes_column_labels():
    # Labels and sample weights of shape [batch, 1] (as Keras datasets often give them) are flattened; task ids
    # of that shape must be too, or the gathered alpha_k [batch, 1] broadcasts against [batch] to [batch, batch].
    rng = np.random.default_rng(4)
    logits = rng.normal(size=(4, 2)).astype(np.float32)
    labels = np.array([1, 0, -1, 1], np.int32)
    tasks = np.array([0, 1, 1, 0], np.int32)
    alpha = np.array([1.0, 3.0], np.float32)
    want = float(task_loss(labels, logits, tasks, alpha))
    assert float(task_loss(labels[:, None], logits, tasks[:, None], alpha)) == pytest.approx(want, rel=1e-6)


@pytest.mark.parametrize("weights, message", [
    ([1.0, float("nan")], r"task_weights\[1\] must be a finite number >= 0; got nan"),
    ([1.0, -0.5], r"task_weights\[1\] must be a finite number >= 0; got -0.5"),
    ("12", r"task_weights must be a sequence of numbers, one per task; got '12'"),
])
def test_objective_refuses_task_weights_that_are_not_finite_numbers_at_least_0(weights, message):
    # alpha_k weighs task k's loss as lambda and gamma weigh theirs: a NaN poisoned every step, a negative weight
    # made the model maximise task k's loss, and a string was read digit by digit, all without a word.
    from tf_aspmtl.objective import MultiTaskObjective

    with pytest.raises(ValueError, match=message):
        MultiTaskObjective(task_weights=weights)
    assert MultiTaskObjective(task_weights=[1, 0.0, np.float32(2)]).task_weights == [1.0, 0.0, 2.0]
