"""Every registered layer of tf_aspmtl.layers, and TextVectorizer, follows the Keras conventions.

See tests/layer_harness.py for what ``run_layer_test`` checks: config round
trip, tf.data, batch vs rows, ``.keras`` save and safe-mode load, mixed
precision. Tiny sizes: vocabulary 50, dimension 4, 3 units.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tests.layer_harness import call_layer, run_layer_test
from tf_aspmtl.layers import (  # importing tf_aspmtl.layers registers its layers
    ENCODERS,
    BiLSTMEncoder,
    CNNEncoder,
    FeatureMemory,
    GradientReversal,
    LSTMEncoder,
    SparseLinearHead,
    SharedPrivateSparseLinear,
    SparseReadEmbedding,
    TaskHeads,
    TaskMeanProjection,
    get_encoder,
)
from tf_aspmtl.layers.encoders import FusedLSTM
from tf_aspmtl.preprocessing import TextVectorizer

VOCAB, DIM, UNITS = 50, 4, 3
LENGTHS = [5, 3, 1]


def _embedded():
    x = tf.constant(np.random.default_rng(0).normal(size=(len(LENGTHS), 5, DIM)), tf.float32)
    return {"embedded": x, "mask": tf.sequence_mask(LENGTHS, 5)}


def _token_ids():
    ids = np.random.default_rng(1).integers(1, VOCAB, size=(len(LENGTHS), 5))
    return tf.constant(np.where(np.arange(5) < np.array(LENGTHS)[:, None], ids, 0), tf.int32)  # 0 is padding


def _with_random_weights(layer):
    """The layer with normal random weights (its own start at zero), so that its outputs say something."""
    rng = np.random.default_rng(4)
    layer.set_weights([rng.normal(size=w.shape) for w in layer.get_weights()])
    return layer


def _filled_memory(memory):
    """A FeatureMemory holding random rows of tasks 0-2 and one empty slot."""
    memory.features.assign(np.random.default_rng(6).normal(size=memory.features.shape))
    memory.task_ids.assign([0, 1, -1, 2, 0])
    return memory


def _seen_projection(layer):
    """A TaskMeanProjection that has seen every task: random averages, one update each."""
    layer.task_means.assign(np.random.default_rng(7).normal(size=layer.task_means.shape))
    layer.task_updates.assign(np.ones(layer.task_updates.shape))
    return layer


# name -> (layer factory, inputs factory, run_layer_test options)
LAYER_CASES = {
    "FusedLSTM": (lambda: FusedLSTM(units=UNITS), _embedded, {}),
    "LSTMEncoder": (lambda: LSTMEncoder(units=UNITS), _embedded, {}),
    "BiLSTMEncoder": (lambda: BiLSTMEncoder(units=UNITS), _embedded, {}),
    "CNNEncoder": (lambda: CNNEncoder(filters=UNITS, kernel_sizes=(2, 3)), _embedded, {}),
    "GradientReversal": (lambda: GradientReversal(scale=0.5), lambda: _embedded()["embedded"], {}),
    "TaskHeads": (
        lambda: TaskHeads([2, 3]),
        lambda: {
            "features": tf.constant(np.random.default_rng(2).normal(size=(3, DIM)), tf.float32),
            "task_ids": tf.constant([0, 1, 1], tf.int32),
        },
        # Padding classes are -1e9 in float32, -3e4 in float16: compare probabilities.
        {"mixed_output_fn": tf.nn.softmax},
    ),
    # Its output is its rows (random here, as after training), whatever the batch: no row of the batch to compare;
    # its int32 task ids and cursor take no float policy (mixed precision: tests/test_feature_memory.py).
    "FeatureMemory": (
        lambda: _filled_memory(FeatureMemory(rows=5, dim=DIM)),
        lambda: {"features": tf.constant(np.random.default_rng(5).normal(size=(3, DIM)), tf.float32),
                 "task_ids": tf.constant([0, 1, 1], tf.int32)},
        {"batch_consistent": False, "mixed_precision": False},
    ),
    # Its averages are set (as after training); inference projects each row alone.
    "TaskMeanProjection": (
        lambda: _seen_projection(TaskMeanProjection(num_tasks=3, dim=DIM)),
        lambda: {"features": tf.constant(np.random.default_rng(8).normal(size=(3, DIM)), tf.float32),
                 "task_ids": tf.constant([0, 2, 1], tf.int32)},
        {},
    ),
    "SparseReadEmbedding": (lambda: SparseReadEmbedding(VOCAB, DIM, mask_zero=True), _token_ids, {}),
    # Its weights are copies of a float32 model's for serving: no dtype policy applies.
    "SparseLinearHead": (
        lambda: SparseLinearHead(VOCAB, UNITS, kernel=np.random.default_rng(3).normal(size=(VOCAB, UNITS)),
                                 bias=[0.1, -0.2, 0.3]),
        # The last row has no feature: it gets the bias alone.
        lambda: tf.SparseTensor([[0, 1], [0, 7], [1, 7], [1, 49]], [0.6, 0.8, 1.0, -0.5], [3, VOCAB]),
        {"mixed_precision": False},
    ),
    "SharedPrivateSparseLinear": (
        lambda: _with_random_weights(SharedPrivateSparseLinear(VOCAB, [2, 3], learning_rate_multiplier=0.5)),
        # The last row has no feature: zero logits.
        lambda: {"features": tf.SparseTensor([[0, 1], [0, 7], [1, 7], [1, 49]], [0.6, 0.8, 1.0, -0.5], [3, VOCAB]),
                 "task_ids": tf.constant([0, 1, 1], tf.int32)},
        {},
    ),
}


def test_every_registered_layer_has_a_case():
    registered = {
        cls.__name__
        for name, cls in keras.saving.get_custom_objects().items()
        if name.startswith("tf_aspmtl>")
        and cls.__module__.startswith("tf_aspmtl.layers")
        and issubclass(cls, keras.layers.Layer)
    }
    assert registered == set(LAYER_CASES)


@pytest.mark.parametrize("name", sorted(LAYER_CASES))
def test_layer_conventions(name, tmp_path):
    make_layer, make_inputs, options = LAYER_CASES[name]
    run_layer_test(make_layer(), make_inputs(), directory=tmp_path, **options)


def test_text_vectorizer_conventions(tmp_path):
    layer = TextVectorizer(max_length=6, max_tokens=VOCAB, name="vectorizer")
    layer.adapt(["The book is good.", "A bad, bad film!", "It's not a book; it's a café."])
    # At least 6 tokens each: every row is cut to max_length, so a row's length does not depend on the batch.
    texts = tf.constant(["the book is good . really", "unseen words only here , all", "café 😀 film bad ! a b"])
    ids = run_layer_test(layer, texts, mixed_precision=False, directory=tmp_path)
    assert ids.dtype == tf.int32 and ids.shape == (3, 6) and ids.numpy()[1, 0] == layer.oov_id
    # Its policy is its output's int32, whatever the global float policy.
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_float16")
    try:
        mixed = TextVectorizer.from_config({k: v for k, v in layer.get_config().items() if k != "dtype"})
        assert mixed.compute_dtype == "int32"
        np.testing.assert_array_equal(mixed(texts).numpy(), ids.numpy())
    finally:
        keras.config.set_dtype_policy(previous)


@pytest.mark.parametrize("kind", sorted(ENCODERS))
def test_encoders_consume_the_mask(kind):
    encoder = get_encoder(kind, UNITS)
    inputs = _embedded()
    assert encoder.compute_mask(inputs["embedded"], inputs["mask"]) is None

    # Embedding(mask_zero=True) -> encoder: the mask reaches the encoder, which drops it.
    ids = keras.Input(shape=(None,), dtype="int32")
    embedding = SparseReadEmbedding(VOCAB, DIM, mask_zero=True, name="embedding")
    embedding.build((None, None))
    embedding.embeddings.assign(np.random.default_rng(3).normal(size=(VOCAB, DIM)))  # features of order 1
    features = encoder(embedding(ids))
    model = keras.Model(ids, features)
    short = _token_ids()
    out = model(short)
    assert getattr(out, "_keras_mask", None) is None
    # Padded positions (id 0 has a non-zero embedding row) change nothing, however many.
    padded = tf.pad(short, [[0, 0], [0, 4]])
    np.testing.assert_allclose(model(padded).numpy(), out.numpy(), atol=1e-6)
    # Without the mask the same padded positions would change the short rows: the test can fail.
    unmasked = encoder(tf.identity(embedding(padded)))  # tf.identity drops the Keras mask
    assert not np.allclose(unmasked.numpy()[1:], out.numpy()[1:], atol=1e-3)


def test_gradient_reversal_passes_the_mask_on():
    inputs = _embedded()
    layer = GradientReversal()
    assert layer.compute_mask(inputs["embedded"], inputs["mask"]) is inputs["mask"]
    out = call_layer(layer, inputs["embedded"])
    np.testing.assert_array_equal(out.numpy(), inputs["embedded"].numpy())


def test_sparse_linear_head_computes_in_float32_under_a_mixed_global_policy():
    # It holds a float32 model's folded weights for serving and declares float32 logits (compute_output_spec):
    # made under "mixed_float16" (a served task of a mixed-precision wide-and-deep model), its weights were read
    # as float16, so the logits were float16 and rounded, unlike the declared spec and the training path's.
    kernel = np.random.default_rng(3).normal(size=(VOCAB, UNITS)).astype(np.float32)
    x = tf.SparseTensor([[0, 1], [0, 7], [1, 7]], [0.6, 0.8, 1.0], [2, VOCAB])
    want = SparseLinearHead(VOCAB, UNITS, kernel=kernel, bias=[0.1, -0.2, 0.3])(x)
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_float16")
    try:
        head = SparseLinearHead(VOCAB, UNITS, kernel=kernel, bias=[0.1, -0.2, 0.3])
        out = head(x)
        assert head.compute_output_spec(keras.KerasTensor((2, VOCAB), sparse=True)).dtype == out.dtype == "float32"
        np.testing.assert_array_equal(out.numpy(), want.numpy())
    finally:
        keras.config.set_dtype_policy(previous)


def test_shared_private_sparse_linear_refuses_a_task_id_out_of_range():
    # Task k's row i is kernel row i * num_tasks + k: task id num_tasks read feature i + 1's row of task 0, silently.
    layer = _with_random_weights(SharedPrivateSparseLinear(VOCAB, [2, 3]))
    x = tf.SparseTensor([[0, 1]], [1.0], [1, VOCAB])
    for bad in (2, -1):
        with pytest.raises(tf.errors.InvalidArgumentError):
            layer(x, tf.constant([bad]))
