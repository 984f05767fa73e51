"""A plain Keras model (no tf_aspmtl class) trained with :func:`tf_aspmtl.training.fit_with_dev_selection`: a run
of a second or so, for the tests of what a run folder records and checks."""

import json

import keras
import numpy as np
import tensorflow as tf

MONITOR = "val_accuracy"


def plain_model(functional: bool = False, learning_rate: float = 0.05, **compile_options) -> keras.Model:
    """A compiled two-class classifier of 3 features: a Sequential model, or the same layers as a functional one
    (``compile_options``: more arguments of ``compile``). Keras names its layers in the order the process makes them
    (``input_layer_1``, ``dense_1``... when built second)."""
    if functional:
        inputs = keras.Input((3,))
        model = keras.Model(inputs, keras.layers.Dense(2, activation="softmax")(keras.layers.Dense(4)(inputs)))
    else:
        model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4),
                                  keras.layers.Dense(2, activation="softmax")])
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"], **compile_options)
    return model


def plain_data(batch_size: int = 4) -> tuple[tf.data.Dataset, int, tf.data.Dataset]:
    """(endless seeded training stream, steps per epoch, dev set) of 16 rows; new objects at each call, as each
    ``fit_with_dev_selection`` call needs."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(16, 3)).astype("float32")
    y = (x[:, 0] > 0).astype("int32")
    train = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(16, seed=0).repeat().batch(batch_size)
    return train, 16 // batch_size, tf.data.Dataset.from_tensor_slices((x, y)).batch(batch_size)


def as_if_killed(run_dir) -> None:
    """Makes a finished run's folder look like that of a run killed after its last epoch's checkpoint."""
    path = run_dir / "state.json"
    state = json.loads(path.read_text())
    path.write_text(json.dumps({**state, "finished": False}))
