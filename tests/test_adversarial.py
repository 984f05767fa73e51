"""The adversary at work on two tasks whose texts are trivially separable
(disjoint vocabularies). Rows are unlabelled (label -1), so the adversarial
term is the only thing that trains the shared encoder.

- Without gradient reversal (the encoder helps the discriminator), the
  discriminator learns to tell the tasks apart.
- With reversal (the paper), its accuracy falls toward chance and below: the
  encoder wins by making it wrong, yet a fresh linear probe still reads the
  task from the shared feature.
- With the confusion objective, the discriminator sits at chance and the probe
  reads the task less well than after reversal.
"""

import keras
import numpy as np
import pandas as pd
import pytest

from tf_aspmtl.data.pipeline import make_training_dataset, tokenize_texts
from tf_aspmtl.models import FullySharedMTL, MultiTaskClassifier
from tf_aspmtl.preprocessing import TextVectorizer

TASKS = ["left", "right"]


@pytest.fixture(scope="module")
def separable():
    rng = np.random.default_rng(0)
    rows = []
    for task, prefix in (("left", "l"), ("right", "r")):
        for _ in range(256):
            words = [f"{prefix}{i}" for i in rng.integers(0, 30, size=rng.integers(4, 12))]
            rows.append({"task": task, "text": " ".join(words), "label": -1})
    frame = pd.DataFrame(rows)
    vectorizer = TextVectorizer(max_length=16, max_tokens=100)
    vectorizer.adapt(frame["text"].tolist())
    return frame, vectorizer


def _train(frame, vectorizer, reversal_scale, objective="reversal"):
    keras.utils.set_random_seed(1)
    model = FullySharedMTL(
        TASKS, vocabulary_size=vectorizer.vocabulary_size, embedding_dim=8, hidden_dim=8,
        adversarial_weight=1.0, gradient_reversal_scale=reversal_scale, adversarial_objective=objective,
    )
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    ds, steps = make_training_dataset(frame, vectorizer, TASKS, batch_size=16, seed=1)
    history = model.fit(ds, steps_per_epoch=steps, epochs=6, verbose=0).history
    return model, float(np.mean(history["discriminator_accuracy"][-3:]))


def _probe_accuracy(model, frame, vectorizer):
    """Held-out accuracy of a least-squares linear probe for the task on the shared feature."""
    ids = tokenize_texts(frame["text"].tolist(), vectorizer).to_tensor()
    feats = model.shared_encoder(model.embedding(ids), mask=ids != 0).numpy()
    target = (frame["task"] == "right").to_numpy()
    x = np.c_[feats, np.ones(len(feats))]
    order = np.random.default_rng(0).permutation(len(x))
    train, test = order[:384], order[384:]
    w = np.linalg.lstsq(x[train], 2.0 * target[train] - 1.0, rcond=None)[0]
    return float(((x[test] @ w > 0) == target[test]).mean())


def test_discriminator_learns_the_tasks_without_reversal(separable):
    _, accuracy = _train(*separable, reversal_scale=-1.0)
    assert accuracy > 0.95


def test_reversal_and_confusion_fight_the_discriminator(separable):
    frame, vectorizer = separable
    reversed_model, reversed_acc = _train(frame, vectorizer, reversal_scale=1.0)
    confused_model, confused_acc = _train(frame, vectorizer, reversal_scale=1.0, objective="confusion")
    assert reversed_acc < 0.6  # chance is 0.5; the encoder makes the discriminator wrong
    assert abs(confused_acc - 0.5) < 0.15  # held at chance
    reversed_probe = _probe_accuracy(reversed_model, frame, vectorizer)
    confused_probe = _probe_accuracy(confused_model, frame, vectorizer)
    assert confused_probe < reversed_probe - 0.1
