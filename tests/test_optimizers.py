"""LazyAdam: dense Adam on dense gradients, Adam's row update on the rows a sparse gradient touches."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tf_aspmtl.optimizers import LazyAdam


def _run(optimizer, variable, rows_per_step, dense=False):
    """Applies the gradient of sum(take(variable, rows)^2) for each step's rows.

    ``dense`` hands the optimiser the gradient as a dense tensor: Keras' Adam
    squares an IndexedSlices gradient's slices before summing repeated rows,
    so its update of a row that appears twice is not Adam's.
    """
    for rows in rows_per_step:
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(tf.gather(variable, rows) ** 2)
        grad = tape.gradient(loss, variable)
        if dense:
            grad = tf.convert_to_tensor(grad)
        optimizer.apply_gradients([(grad, variable)])
    return variable.numpy()


def _table():
    return tf.Variable(np.arange(12, dtype="float32").reshape(6, 2) / 7 + 0.1)


def test_sparse_gradient_is_indexed_slices():
    v = _table()
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(tf.gather(v, [1, 3]))
    assert isinstance(tape.gradient(loss, v), tf.IndexedSlices)


def test_same_rows_every_step_matches_adam_and_other_rows_stay():
    steps = [[1, 3, 3], [3, 1], [1, 3]]
    lazy = _run(LazyAdam(learning_rate=0.1), _table(), [tf.constant(r) for r in steps])
    dense = _run(keras.optimizers.Adam(learning_rate=0.1), _table(), [tf.constant(r) for r in steps], dense=True)
    np.testing.assert_allclose(lazy, dense, rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(lazy[[0, 2, 4, 5]], _table().numpy()[[0, 2, 4, 5]])


def test_row_absent_from_a_step_does_not_move():
    steps = [tf.constant([1]), tf.constant([2])]
    lazy = _run(LazyAdam(learning_rate=0.1), _table(), steps)
    dense = _run(keras.optimizers.Adam(learning_rate=0.1), _table(), steps, dense=True)
    after_first = _run(LazyAdam(learning_rate=0.1), _table(), steps[:1])
    np.testing.assert_array_equal(lazy[1], after_first[1])  # lazy: row 1 untouched by step 2
    assert not np.allclose(dense[1], after_first[1])  # dense Adam: momentum moves it on
    np.testing.assert_allclose(lazy[2], dense[2], rtol=1e-5)


@pytest.mark.parametrize("clipping", [{"clipnorm": 0.5}, {"global_clipnorm": 0.5}, {"clipvalue": 0.1}])
def test_clipping_sees_a_repeated_rows_gradient_summed_as_adam_does(clipping):
    # A word twice in a batch: its gradient is the sum of two slices. Clipped slice by slice (the norm of the
    # slices, each value clipped alone), the row would move by another amount than Adam's on the same gradient.
    steps = [[1, 3, 3], [3, 1, 1], [1, 3]]
    lazy = _run(LazyAdam(learning_rate=0.1, **clipping), _table(), [tf.constant(r) for r in steps])
    dense = _run(keras.optimizers.Adam(learning_rate=0.1, **clipping), _table(), [tf.constant(r) for r in steps],
                 dense=True)
    np.testing.assert_allclose(lazy, dense, rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(lazy[[0, 2, 4, 5]], _table().numpy()[[0, 2, 4, 5]])


def test_weight_decay_moves_only_the_rows_a_step_touched_as_adams_would():
    # Keras decays every weight before the step: a sparse gradient's untouched rows shrank at every step.
    steps = [[1, 3, 3], [3, 1], [1, 3]]
    lazy = _run(LazyAdam(learning_rate=0.1, weight_decay=0.5), _table(), [tf.constant(r) for r in steps])
    dense = _run(keras.optimizers.Adam(learning_rate=0.1, weight_decay=0.5), _table(), [tf.constant(r) for r in steps],
                 dense=True)
    np.testing.assert_allclose(lazy[[1, 3]], dense[[1, 3]], rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(lazy[[0, 2, 4, 5]], _table().numpy()[[0, 2, 4, 5]])
    assert not np.allclose(lazy[[1, 3]], _run(LazyAdam(learning_rate=0.1), _table(), [tf.constant(r) for r in steps])[[1, 3]])
    bias = tf.Variable([1.0, -2.0])  # a dense gradient's variable decays whole, as in Adam
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(bias * 0.0)
    LazyAdam(learning_rate=0.1, weight_decay=0.5).apply_gradients([(tape.gradient(loss, bias), bias)])
    np.testing.assert_allclose(bias.numpy(), [0.95, -1.9], rtol=1e-6)


def test_dense_gradient_is_plain_adam():
    def fit(optimizer):
        v = tf.Variable([[0.5, -1.0], [2.0, 0.3]])
        for _ in range(3):
            with tf.GradientTape() as tape:
                loss = tf.reduce_sum(tf.sin(v) * v)
            optimizer.apply_gradients([(tape.gradient(loss, v), v)])
        return v.numpy()

    np.testing.assert_allclose(fit(LazyAdam(0.05)), fit(keras.optimizers.Adam(0.05)), rtol=1e-6)


def test_config_round_trip_and_amsgrad_refused():
    opt = LazyAdam(learning_rate=0.003, beta_1=0.8, clipnorm=1.0)
    again = keras.optimizers.deserialize(keras.optimizers.serialize(opt))
    assert isinstance(again, LazyAdam)
    assert again.get_config() == opt.get_config()
    with pytest.raises(ValueError, match="amsgrad"):
        LazyAdam(amsgrad=True)


def test_fit_updates_only_embedding_rows_seen():
    model = keras.Sequential([keras.layers.Embedding(50, 4), keras.layers.GlobalAveragePooling1D(), keras.layers.Dense(2)])
    x = np.array([[1, 2, 3], [3, 4, 5]] * 8)
    y = np.array([0, 1] * 8)
    model.compile(LazyAdam(0.01), keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.build((None, 3))
    before = model.layers[0].embeddings.numpy().copy()
    model.fit(x, y, epochs=2, batch_size=4, verbose=0)
    after = model.layers[0].embeddings.numpy()
    np.testing.assert_array_equal(after[6:], before[6:])
    assert not np.allclose(after[1:6], before[1:6])


def test_sparse_read_embedding_matches_keras_embedding():
    from tf_aspmtl.layers import SparseReadEmbedding

    ours, theirs = SparseReadEmbedding(20, 4), keras.layers.Embedding(20, 4)
    ours.build((None,)), theirs.build((None,))
    theirs.embeddings.assign(ours.embeddings)
    ids = tf.constant([[1, 2, 2, 0], [5, 0, 0, 0]])
    with tf.GradientTape(persistent=True) as tape:
        a, b = ours(ids), theirs(ids)
        loss_a, loss_b = tf.reduce_sum(a**2), tf.reduce_sum(b**2)
    grad_a = tape.gradient(loss_a, ours.trainable_variables)[0]
    grad_b = tape.gradient(loss_b, theirs.trainable_variables)[0]
    assert isinstance(grad_a, tf.IndexedSlices)
    np.testing.assert_allclose(a, b)
    np.testing.assert_allclose(tf.convert_to_tensor(grad_a), tf.convert_to_tensor(grad_b))
    again = SparseReadEmbedding.from_config(ours.get_config())
    assert (again.input_dim, again.output_dim) == (20, 4)


def test_get_optimizer_by_name():
    from tf_aspmtl.optimizers import get_optimizer

    assert isinstance(get_optimizer("lazy-adam", 0.01), LazyAdam)
    assert type(get_optimizer("adam", 0.01)) is keras.optimizers.Adam
    adagrad = get_optimizer("adagrad", 0.1)
    assert type(adagrad) is keras.optimizers.Adagrad and float(adagrad.learning_rate) == pytest.approx(0.1)
    with pytest.raises(ValueError, match="adagrad.*lazy-adam"):
        get_optimizer("sgd", 0.01)


def test_a_keras_optimizer_name_takes_the_learning_rate_given():
    from tf_aspmtl.optimizers import resolve_optimizer

    sgd = resolve_optimizer("sgd", 0.25)
    assert isinstance(sgd, keras.optimizers.SGD)
    assert float(sgd.learning_rate) == pytest.approx(0.25)  # was Keras' default 0.01, the rate given dropped
    with pytest.raises(ValueError):
        resolve_optimizer("no-such-optimizer", 0.1)
