"""The difference loss of one batch and its gradient, in one process and on 2 and 3 replicas; prints JSON.

Run as its own process (``python -m tests.replica_difference_loss REPLICAS [--fit]``): it splits the CPU
into 3 logical devices, which TensorFlow allows only before it first uses them, and makes one strategy (a second
``MirroredStrategy`` over another number of devices would reuse the first one's collective group key). Used by
``test_replica_difference_loss.py``.

For each normalisation: one process (no strategy), then ``MirroredStrategy`` over REPLICAS of the devices
(2 or 3), each replica holding its slice of the same global batch of 16 rows of one task, cut as
:func:`tf_aspmtl.distribute.distribute_training_dataset` cuts it (3 replicas: 5, 5 and 6 rows). Every row is
unlabelled and there is no adversary, so ``compute_loss`` is gamma times the difference loss alone.
Reported: the difference loss of each replica, and each variable's gradient of ``compute_loss`` summed over
the replicas (as Keras sums them) against the one-process gradient; with ``--fit``, also the weights after one
``fit`` step of plain SGD (Keras' own gradient summing) against one step in one process (even slices only:
Keras' fit reduces the first batch's slices to learn their shapes, which fails for slices of different lengths).

With ``--terms``: every term of the objective instead, for two objectives (``reversal``: the reversed adversary with
a discriminator memory, mean matching, the normalised difference loss and AT; ``confusion``: the confusion adversary
and the summed difference loss; ``reversal`` also has the shared mean projection), on a batch whose rows are labelled
unevenly across the replicas (6 of the 16 rows are unlabelled, -1), with per-row sample weights and task weights.
Reported per term: its value in one process and on each replica; the gradient gaps as above; with ``--fit``, the
weights after two steps (the second reads the memory and the averages the first wrote) and the loss trackers.
"""

import contextlib
import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import tensorflow as tf  # noqa: E402

MAX_REPLICAS = 3
tf.config.set_logical_device_configuration(
    tf.config.list_physical_devices("CPU")[0], [tf.config.LogicalDeviceConfiguration()] * MAX_REPLICAS
)

import keras  # noqa: E402
import numpy as np  # noqa: E402

from tf_aspmtl.distribute import distribute_training_dataset  # noqa: E402
from tf_aspmtl.models import AdversarialSharedPrivateMTL  # noqa: E402

ROWS, LENGTH, VOCABULARY = 16, 6, 40
GAMMA = 0.5


def batch():
    rng = np.random.default_rng(0)
    x = {"token_ids": tf.constant(rng.integers(2, VOCABULARY, size=(ROWS, LENGTH)), tf.int64),
         "task_id": tf.ones([ROWS], tf.int32)}
    return x, -tf.ones([ROWS], tf.int32)


def build(normalization, strategy=None, weights=None):
    keras.utils.set_random_seed(0)
    with strategy.scope() if strategy else contextlib.nullcontext():
        model = AdversarialSharedPrivateMTL(
            ["a", "b"], vocabulary_size=VOCABULARY, embedding_dim=8, encoder="cnn", hidden_dim=3,
            adversarial_weight=0.0, difference_weight=GAMMA, difference_normalization=normalization)
        model(batch()[0])
        if weights is not None:
            model.set_weights(weights)
        model.compile(optimizer=keras.optimizers.SGD(1.0))
    return model


def loss_and_gradients(model, x, y):
    with tf.GradientTape() as tape:
        y_pred = model(x, training=True)
        loss = model.compute_loss(x=x, y=y, y_pred=y_pred, training=True)
    variables = model.trainable_variables
    grads = [tf.zeros_like(v) if g is None else tf.convert_to_tensor(g)  # the embedding's: IndexedSlices
             for g, v in zip(tape.gradient(loss, variables), variables)]
    diff = model.loss_terms(y, y_pred, training=True)["diff_loss"]
    return diff, grads


def replica_slices(strategy, *batch_):
    replicas = strategy.num_replicas_in_sync
    batch_ = batch_[0] if len(batch_) == 1 else batch_

    def part(context):
        r = context.replica_id_in_sync_group
        start, stop = (r * ROWS) // replicas, ((r + 1) * ROWS) // replicas
        return tf.nest.map_structure(lambda t: t[start:stop], batch_)

    return strategy.experimental_distribute_values_from_function(part)


def names(model):
    return [v.path.split("/", 1)[-1] for v in model.trainable_variables]  # without the model's own name


def run(strategy, normalization, fit):
    x, y = batch()
    one = build(normalization)
    weights = one.get_weights()
    diff, grads = tf.function(loss_and_gradients)(one, x, y)
    model = build(normalization, strategy, weights)
    assert names(model) == names(one)
    r_diff, r_grads = strategy.run(tf.function(loss_and_gradients), args=(model,) + replica_slices(strategy, x, y))
    summed = [strategy.reduce("SUM", g, axis=None) for g in r_grads]
    result = {
        "one_process": float(diff),
        "replicas": [float(d) for d in strategy.experimental_local_results(r_diff)],
        "gradient_gap": {n: float(np.max(np.abs(np.asarray(a) - np.asarray(b))))
                         for n, a, b in zip(names(one), summed, grads)},
        "gradient_scale": {n: float(np.max(np.abs(np.asarray(g)))) for n, g in zip(names(one), grads)},
    }
    if fit:
        one.fit(tf.data.Dataset.from_tensors((x, y)).repeat(), steps_per_epoch=1, epochs=1, verbose=0)
        data = distribute_training_dataset(strategy, tf.data.Dataset.from_tensors((x, y)).repeat())
        model.fit(data, steps_per_epoch=1, epochs=1, verbose=0)
        result["fit_step_gap"] = {n: float(np.max(np.abs(np.asarray(a) - np.asarray(b))))
                                  for n, a, b in zip(names(one), model.trainable_variables, one.trainable_variables)}
    return result


# ------------------------------------------------------------------ every term (--terms)
# Labelled rows per replica: 2 / 5 / 3 of the slices of 5, 5 and 6 rows; 5 / 5 of the slices of 8.
LABELS = [0, 1, -1, -1, -1, 1, 0, 1, 1, 0, -1, -1, -1, 1, 1, -1]
OBJECTIVES = {
    "reversal": dict(adversarial_weight=0.3, discriminator_memory=8, mean_matching_weight=0.2, difference_weight=GAMMA,
                     embedding_perturbation="adversarial", perturbation_weight=0.4, task_weights=[1.0, 0.7],
                     shared_mean_projection=True),
    "confusion": dict(adversarial_weight=0.3, adversarial_objective="confusion", difference_weight=GAMMA,
                      difference_normalization="sum", task_weights=[1.0, 0.7]),
}


def labelled_batch():
    x, _ = batch()
    weights = np.random.default_rng(1).uniform(0.5, 1.5, size=ROWS)
    return x, tf.constant(LABELS, tf.int32), tf.constant(weights, tf.float32)


def build_terms(settings, strategy=None, weights=None):
    keras.utils.set_random_seed(0)
    with strategy.scope() if strategy else contextlib.nullcontext():
        model = AdversarialSharedPrivateMTL(
            ["a", "b"], vocabulary_size=VOCABULARY, embedding_dim=8, encoder="cnn", hidden_dim=3, **settings)
        model(batch()[0])
        if weights is not None:
            model.set_weights(weights)
        else:
            rng = np.random.default_rng(2)
            if model.discriminator_memory is not None:  # rows of both tasks stored: mean matching has a target
                model.discriminator_memory(tf.constant(rng.normal(size=(8, model.backbone.encoder_dim)), tf.float32),
                                           tf.constant([0, 0, 0, 0, 0, 1, 1, 0]), training=True)
            if model.backbone.shared_projection is not None:  # both tasks seen: the projection is on
                model.backbone.shared_projection(
                    tf.constant(rng.normal(size=(4, model.backbone.encoder_dim)), tf.float32),
                    tf.constant([0, 0, 1, 1]), training=True)
        model.compile(optimizer=keras.optimizers.SGD(1.0))
    return model


def terms_and_gradients(model, x, y, sample_weight):
    with tf.GradientTape() as tape:
        y_pred = model(x, training=True)
        loss = model.compute_loss(x=x, y=y, y_pred=y_pred, sample_weight=sample_weight, training=True)
    variables = model.trainable_variables
    grads = [tf.zeros_like(v) if g is None else tf.convert_to_tensor(g)
             for g, v in zip(tape.gradient(loss, variables), variables)]
    terms = model.loss_terms(y, y_pred, sample_weight, x=x, training=True)
    return terms, grads


def gaps(names_, a, b):
    return {n: float(np.max(np.abs(np.asarray(u) - np.asarray(v)))) for n, u, v in zip(names_, a, b)}


def run_terms(strategy, settings, fit):
    x, y, sample_weight = labelled_batch()
    one = build_terms(settings)
    weights = one.get_weights()
    terms, grads = tf.function(terms_and_gradients)(one, x, y, sample_weight)
    model = build_terms(settings, strategy, weights)
    assert names(model) == names(one)
    r_terms, r_grads = strategy.run(tf.function(terms_and_gradients),
                                    args=(model,) + replica_slices(strategy, (x, y, sample_weight)))
    summed = [strategy.reduce("SUM", g, axis=None) for g in r_grads]
    result = {
        "one_process": {k: float(v) for k, v in terms.items()},
        "replicas": {k: [float(t) for t in strategy.experimental_local_results(v)] for k, v in r_terms.items()},
        "gradient_gap": gaps(names(one), summed, grads),
        "gradient_scale": {n: float(np.max(np.abs(np.asarray(g)))) for n, g in zip(names(one), grads)},
    }
    if fit:  # from the same weights, memory and averages again; two steps: the second reads what the first stored
        one.set_weights(weights)
        model.set_weights(weights)
        one.fit(tf.data.Dataset.from_tensors((x, y, sample_weight)).repeat(), steps_per_epoch=2, epochs=1, verbose=0)
        data = distribute_training_dataset(strategy, tf.data.Dataset.from_tensors((x, y, sample_weight)).repeat())
        model.fit(data, steps_per_epoch=2, epochs=1, verbose=0)
        result["fit_step_gap"] = gaps(names(one), model.trainable_variables, one.trainable_variables)
        result["trackers"] = {k: [float(one.loss_trackers[k].result()), float(model.loss_trackers[k].result())]
                              for k in one.loss_trackers}
    return result


if __name__ == "__main__":
    replicas = int(sys.argv[1])
    devices = [d.name for d in tf.config.list_logical_devices("CPU")][:replicas]
    strategy = tf.distribute.MirroredStrategy(devices)
    fit = "--fit" in sys.argv[2:]
    if "--terms" in sys.argv[2:]:
        print(json.dumps({name: run_terms(strategy, settings, fit) for name, settings in OBJECTIVES.items()}))
    else:
        print(json.dumps({norm: run(strategy, norm, fit) for norm in ("normalized", "sum")}))
