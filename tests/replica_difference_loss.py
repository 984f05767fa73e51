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


def replica_slices(strategy, x, y):
    replicas = strategy.num_replicas_in_sync

    def part(context):
        r = context.replica_id_in_sync_group
        start, stop = (r * ROWS) // replicas, ((r + 1) * ROWS) // replicas
        return tf.nest.map_structure(lambda t: t[start:stop], (x, y))

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


if __name__ == "__main__":
    replicas = int(sys.argv[1])
    devices = [d.name for d in tf.config.list_logical_devices("CPU")][:replicas]
    strategy = tf.distribute.MirroredStrategy(devices)
    fit = "--fit" in sys.argv[2:]
    print(json.dumps({norm: run(strategy, norm, fit) for norm in ("normalized", "sum")}))
