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

With ``--ngram`` or ``--lm``: the loss (as Keras logs it: times the replicas) and gradient of a tiny
``SharedPrivateNgramClassifier`` (sparse features, l2, label smoothing, labelled rows 2 / 3 / 5 of 3 replicas, sample
weights) or ``EncoderLanguageModel`` (both directions, sampled softmax, rows of 1 to 6 tokens), and the n-gram model's
trackers; with ``--fit``, two ``fit`` steps and the logged loss (the n-gram model's sparse batches sliced by
:func:`~tf_aspmtl.distribute.distribute_training_dataset`). These use a MirroredStrategy whose ``reduce`` of a structure is
``tf_aspmtl.distribute``'s, so ``fit`` takes slices of different lengths.
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


def forward_and_gradients(model, x, y, sample_weight):
    """``(y_pred, loss, gradients)`` of one training step's loss (zeros for variables it does not reach)."""
    with tf.GradientTape() as tape:
        y_pred = model(x, training=True)
        loss = model.compute_loss(x=x, y=y, y_pred=y_pred, sample_weight=sample_weight, training=True)
    variables = model.trainable_variables
    grads = [tf.zeros_like(v) if g is None else tf.convert_to_tensor(g)
             for g, v in zip(tape.gradient(loss, variables), variables)]
    return y_pred, loss, grads


def terms_and_gradients(model, x, y, sample_weight):
    y_pred, _, grads = forward_and_gradients(model, x, y, sample_weight)
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


# ------------------------------------------------------------------ other models (--ngram, --lm)
# Labelled rows per replica: 3 / 7 of the slices of 8; 2 / 3 / 5 of the slices of 5, 5 and 6.
NGRAM_LABELS = [0, 1, -1, -1, -1, -1, -1, 1, 1, 0, 1, -1, 0, 1, 1, 0]
WORDS = ["good", "bad", "book", "film", "dull", "great", "plot", "pages", "boring", "fun"]


def ngram_frame():
    rng = np.random.default_rng(3)
    import pandas as pd
    return pd.DataFrame({"text": [" ".join(rng.choice(WORDS, size=rng.integers(2, 7))) for _ in range(ROWS)],
                         "task": ["a" if i % 3 else "b" for i in range(ROWS)], "label": [i % 2 for i in range(ROWS)]})


def build_ngram(strategy=None, weights=None):
    from tf_aspmtl.models import SharedPrivateNgramClassifier
    with strategy.scope() if strategy else contextlib.nullcontext():
        model = SharedPrivateNgramClassifier.from_frame(ngram_frame(), max_features=40, l2=0.01, label_smoothing=0.1)
        if weights is None:  # not the zeros it starts from: rows and tasks then differ
            rng = np.random.default_rng(4)
            for v in (model.shared_kernel, model.private_kernel, model.bias):
                v.assign(rng.normal(scale=0.5, size=v.shape).astype("float32"))
        else:
            model.set_weights(weights)
        model.compile(optimizer=keras.optimizers.SGD(1.0))
    return model


def ngram_batch(model):
    frame = ngram_frame()
    x = model.preprocessor({"text": tf.constant(list(frame.text)), "task": tf.constant(list(frame.task))})
    weights = np.random.default_rng(1).uniform(0.5, 1.5, size=ROWS)
    return (x, tf.constant(NGRAM_LABELS, tf.int32), tf.constant(weights, tf.float32))


def build_lm(strategy=None, weights=None):
    from tf_aspmtl.models import EncoderLanguageModel
    keras.utils.set_random_seed(0)
    with strategy.scope() if strategy else contextlib.nullcontext():
        model = EncoderLanguageModel(VOCABULARY, embedding_dim=8, units=4, direction=["forward", "backward"],
                                     num_sampled=12)  # < VOCABULARY: the sampled softmax of training
        if weights is not None:
            model.set_weights(weights)
        model.compile(optimizer=keras.optimizers.SGD(1.0))
    return model


def lm_batch(model):
    rng = np.random.default_rng(5)
    ids = rng.integers(1, VOCABULARY, size=(ROWS, LENGTH))  # some "[UNK]" (1), left out as targets
    ids[np.arange(LENGTH)[None, :] >= rng.integers(1, LENGTH + 1, size=(ROWS, 1))] = 0  # rows of 1 to 6 tokens
    return (tf.constant(ids, tf.int64),)


def loss_and_gradient(model, *batch_):
    _, loss, grads = forward_and_gradients(model, *keras.utils.unpack_x_y_sample_weight(batch_))
    return loss * float(tf.distribute.get_strategy().num_replicas_in_sync), grads  # as Keras logs it


def sparse_aware_slices(strategy, batch_):
    replicas = strategy.num_replicas_in_sync

    def part(context):
        r = context.replica_id_in_sync_group
        start, stop = (r * ROWS) // replicas, ((r + 1) * ROWS) // replicas
        return tf.nest.map_structure(
            lambda t: tf.sparse.slice(t, [start, 0], [stop - start, t.dense_shape[1]])
            if isinstance(t, tf.SparseTensor) else t[start:stop], batch_)

    return strategy.experimental_distribute_values_from_function(part)


class MirroredStrategy(tf.distribute.MirroredStrategy):
    """With ``tf_aspmtl.distribute``'s answer to the ``reduce`` of a structure that Keras' fit makes to learn the first
    batch's shapes (the first replica's values), which plain MirroredStrategy cannot give for slices of different
    lengths."""

    def reduce(self, reduce_op, value, axis=None):
        if not isinstance(value, tf.distribute.DistributedValues) and tf.nest.is_nested(value):
            return tf.nest.map_structure(lambda v: self.experimental_local_results(v)[0], value)
        return super().reduce(reduce_op, value, axis=axis)


def run_model(strategy, build_, batch_of, fit):
    one = build_()
    weights = one.get_weights()
    batch_ = batch_of(one)
    loss, grads = tf.function(loss_and_gradient)(one, *batch_)
    model = build_(strategy, weights)
    assert names(model) == names(one)
    slices = sparse_aware_slices(strategy, batch_)
    r_loss, r_grads = strategy.run(tf.function(loss_and_gradient), args=(model,) + slices)
    summed = [strategy.reduce("SUM", g, axis=None) for g in r_grads]
    result = {
        "one_process": float(loss),
        "replicas": [float(v) for v in strategy.experimental_local_results(r_loss)],
        "gradient_gap": gaps(names(one), summed, grads),
        "gradient_scale": {n: float(np.max(np.abs(np.asarray(g)))) for n, g in zip(names(one), grads)},
        "trackers": {m.name: [float(m.result()), float(n.result())] for m, n in zip(one.metrics, model.metrics)
                     if m.name.endswith("_loss")},
    }
    if fit:  # two SGD steps of Keras' fit from the same weights; its logged losses
        one.set_weights(weights)
        model.set_weights(weights)
        for m in one.metrics + model.metrics:
            m.reset_state()
        logs = one.fit(tf.data.Dataset.from_tensors(batch_).repeat(), steps_per_epoch=2, verbose=0).history
        data = distribute_training_dataset(strategy, tf.data.Dataset.from_tensors(batch_).repeat())
        r_logs = model.fit(data, steps_per_epoch=2, verbose=0).history
        result["fit_step_gap"] = gaps(names(one), model.trainable_variables, one.trainable_variables)
        result["fit_logs"] = {k: [logs[k][-1], r_logs[k][-1]] for k in logs if k.endswith("loss")}
    return result


if __name__ == "__main__":
    replicas = int(sys.argv[1])
    devices = [d.name for d in tf.config.list_logical_devices("CPU")][:replicas]
    other_model = bool({"--ngram", "--lm"} & set(sys.argv[2:]))
    strategy = (MirroredStrategy if other_model else tf.distribute.MirroredStrategy)(devices)
    fit = "--fit" in sys.argv[2:]
    if "--ngram" in sys.argv[2:]:
        print(json.dumps(run_model(strategy, build_ngram, ngram_batch, fit)))
    elif "--lm" in sys.argv[2:]:
        print(json.dumps(run_model(strategy, build_lm, lm_batch, fit)))
    elif "--terms" in sys.argv[2:]:
        print(json.dumps({name: run_terms(strategy, settings, fit) for name, settings in OBJECTIVES.items()}))
    else:
        print(json.dumps({norm: run(strategy, norm, fit) for norm in ("normalized", "sum")}))
