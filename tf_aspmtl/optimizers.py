"""Optimisers.

:class:`LazyAdam` is Adam that, for a sparse gradient (a ``tf.IndexedSlices``,
which is what an ``Embedding`` lookup gives), updates only the rows the batch
used. ``keras.optimizers.Adam`` turns that gradient dense and rewrites every
row of the embedding, its first and its second moment at every step: for a
30k x 50 table that is several full passes over 1.5M floats per step, which a
profile of ASP-MTL training on 2 CPU cores shows costing as much as the
backward pass of both LSTMs together, 39 % of a step (``python -m experiments.profile_train``).
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf


def _gather_rows(variable, rows):
    """Rows of a variable, read with ``sparse_read`` where that is a plain resource read.

    After a scatter, a whole-variable read copies the table, so a single
    device reads only the rows. A ``tf.distribute`` strategy's mirrored
    variables have no such per-device read here; they take ``tf.gather``.
    """
    table = variable.value if isinstance(variable, keras.Variable) else variable  # a tf.Variable's value is a method
    if tf.distribute.has_strategy():
        return tf.gather(table, rows)
    return table.sparse_read(rows)


def _summed_rows(gradient: tf.IndexedSlices) -> tf.IndexedSlices:
    """The same gradient with each row once: the slices of a repeated row summed."""
    rows, position = tf.unique(gradient.indices)
    values = tf.math.unsorted_segment_sum(gradient.values, position, tf.shape(rows)[0])
    return tf.IndexedSlices(values, rows, gradient.dense_shape)


@keras.saving.register_keras_serializable(package="tf_aspmtl")
class LazyAdam(keras.optimizers.Adam):
    """Adam with lazy updates of sparse gradients: only the rows a batch touched move.

    Dense gradients get exactly ``keras.optimizers.Adam``'s update. For a
    ``tf.IndexedSlices`` gradient, duplicate rows are summed first, then the
    first and second moments and the variable are updated on those rows only
    (the update Adam would make to them, with the global step's bias
    correction); rows absent from the batch keep their moments and value
    instead of decaying. This is the "LazyAdam" of TensorFlow Addons and of
    TF1's ``tf.contrib.opt.LazyAdamOptimizer``: the usual choice for large
    embeddings, and its results differ from dense Adam's only through the
    rows a step did not see.

    Takes ``keras.optimizers.Adam``'s arguments except ``amsgrad``.

    Example:
    >>> model = keras.Sequential([keras.Input((3,), dtype="int32"), keras.layers.Embedding(10, 4),
    ...                           keras.layers.GlobalAveragePooling1D(), keras.layers.Dense(1)])
    >>> model.compile(optimizer=LazyAdam(learning_rate=1e-3), loss="mse")
    >>> _ = model.fit(np.array([[1, 2, 3]]), np.array([1.0]), verbose=0)
    """

    def __init__(self, *args, amsgrad: bool = False, **kwargs):
        if amsgrad:
            raise ValueError("LazyAdam does not support amsgrad=True; use keras.optimizers.Adam.")
        super().__init__(*args, amsgrad=False, **kwargs)

    def apply(self, grads, trainable_variables=None):
        """Keras' ``apply``, with ``loss_scale_factor`` unscaling sparse gradients too.

        Keras 3.15 unscales with ``g / loss_scale_factor``, which
        ``tf.IndexedSlices`` (the embedding's gradient) does not support; this
        divides the slices' values instead, then lets Keras go on unscaled.
        It notes which variables have sparse gradients (:meth:`update_step` decays their touched rows only). With
        ``clipnorm``, ``global_clipnorm`` or ``clipvalue``, a sparse
        gradient's repeated rows are summed first, so Keras clips the gradient
        Adam sees (the norm of its rows, each row's sum clipped), not its slices.
        """
        if self.weight_decay is not None:  # read by _use_weight_decay when Keras decays, and by update_step
            variables = self._trainable_variables if trainable_variables is None else trainable_variables
            self._row_decayed = {self._var_key(v) for g, v in zip(grads, variables)
                                 if isinstance(g, tf.IndexedSlices)}
        if self.clipnorm is not None or self.global_clipnorm is not None or self.clipvalue is not None:
            grads = [_summed_rows(g) if isinstance(g, tf.IndexedSlices) else g for g in grads]
        scale = self.loss_scale_factor
        if scale is None:
            return super().apply(grads, trainable_variables)
        grads = [
            tf.IndexedSlices(g.values / scale, g.indices, g.dense_shape) if isinstance(g, tf.IndexedSlices)
            else (None if g is None else g / scale)
            for g in grads
        ]
        self.loss_scale_factor = None  # read when the step is traced; restored at once
        try:
            return super().apply(grads, trainable_variables)
        finally:
            self.loss_scale_factor = scale

    def _use_weight_decay(self, variable):
        """Keras' rule, except for a variable with a sparse gradient this step: :meth:`update_step` decays its rows."""
        if self._var_key(variable) in getattr(self, "_row_decayed", ()):
            return False
        return super()._use_weight_decay(variable)

    def update_step(self, gradient, variable, learning_rate):
        if not isinstance(gradient, tf.IndexedSlices):
            return super().update_step(gradient, variable, learning_rate)
        dtype = variable.dtype
        lr = tf.cast(learning_rate, dtype)
        step = tf.cast(self.iterations + 1, dtype)
        beta_1 = tf.cast(self.beta_1, dtype)
        beta_2 = tf.cast(self.beta_2, dtype)
        alpha = lr * tf.sqrt(1 - tf.pow(beta_2, step)) / (1 - tf.pow(beta_1, step))

        rows, position = tf.unique(gradient.indices)
        grad = tf.math.unsorted_segment_sum(tf.cast(gradient.values, dtype), position, tf.shape(rows)[0])
        if self.weight_decay is not None and super()._use_weight_decay(variable):  # before the step, as Keras does
            decay = tf.cast(self.learning_rate, dtype) * tf.cast(self.weight_decay, dtype)
            self.assign_sub(variable, tf.IndexedSlices(_gather_rows(variable, rows) * decay, rows,
                                                       gradient.dense_shape))
        m = self._momentums[self._get_variable_index(variable)]
        v = self._velocities[self._get_variable_index(variable)]
        m_rows = beta_1 * _gather_rows(m, rows) + (1 - beta_1) * grad
        v_rows = beta_2 * _gather_rows(v, rows) + (1 - beta_2) * tf.square(grad)
        self.assign(m, tf.IndexedSlices(m_rows, rows, gradient.dense_shape))
        self.assign(v, tf.IndexedSlices(v_rows, rows, gradient.dense_shape))
        step_rows = alpha * m_rows / (tf.sqrt(v_rows) + self.epsilon)
        self.assign_sub(variable, tf.IndexedSlices(step_rows, rows, gradient.dense_shape))

    def get_config(self):
        config = super().get_config()
        config.pop("amsgrad", None)
        return config


OPTIMIZERS = {"lazy-adam": LazyAdam, "adam": keras.optimizers.Adam, "adagrad": keras.optimizers.Adagrad}
"""Optimisers by the names the experiment scripts and the tuner take.

``"adagrad"`` is Keras' Adagrad with its defaults (initial accumulator 0.1, epsilon 1e-7), the optimiser of the
paper's predecessor (Liu et al. 2016). It needs no lazy variant: a zero gradient changes neither a row nor its
accumulator, so the embedding rows a batch did not use stay as they are (Keras computes the update densely, which
costs a little more time than LazyAdam's row updates)."""


def get_optimizer(name: str, learning_rate: float) -> keras.optimizers.Optimizer:
    """A new optimiser by name (a key of :data:`OPTIMIZERS`) with ``learning_rate``."""
    if name not in OPTIMIZERS:
        raise ValueError(f"Unknown optimizer {name!r}; expected one of {sorted(OPTIMIZERS)}")
    return OPTIMIZERS[name](learning_rate=learning_rate)


def resolve_optimizer(optimizer=None, learning_rate: float = 1e-3):
    """What a tf_aspmtl model's ``compile`` uses: LazyAdam(``learning_rate``) for None, a new optimiser with
    ``learning_rate`` for a name (one of :data:`OPTIMIZERS`, else a Keras name such as ``"sgd"``), any optimiser
    object as it is; ValueError for a learning rate that is not > 0 or a name Keras does not know."""
    if not np.isfinite(learning_rate) or learning_rate <= 0:
        raise ValueError(f"learning_rate must be a finite number > 0; got {learning_rate!r}")
    if optimizer is None:
        return LazyAdam(learning_rate)
    if isinstance(optimizer, str):
        if optimizer in OPTIMIZERS:
            return get_optimizer(optimizer, learning_rate)
        built = keras.optimizers.get(optimizer)  # Keras' own names; its default rate would drop ours silently
        built.learning_rate = learning_rate
        return built
    return optimizer


def compile_from_saved_config(model, config) -> None:
    """What a tf_aspmtl model's ``compile_from_config`` does when Keras loads it: ``model.compile`` with the saved
    optimizer (the loss is the model's own ``compute_loss``), then builds the optimizer so its saved state loads."""
    config = keras.saving.deserialize_keras_object(config)
    config.pop("loss", None)
    model.compile(**config)
    if model.built:
        model.optimizer.build(model.trainable_variables)


def build_optimizer_before_tracing(model: keras.Model) -> None:
    """Creates ``model``'s optimizer slots now, as its first training step would (same variables, same order).

    Without a ``tf.distribute`` strategy Keras builds the optimizer inside the first trace of the training step, and
    a ``tf.function`` whose first trace creates variables is traced a second time: a ``fit``'s first step costs
    twice the tracing (7-9 s more for the paper-scale 16-task ASP-MTL,
    ``experiments/results/speed_equality/first_fit_step.txt``). Under a strategy Keras builds it before tracing,
    in the strategy's scope, so this leaves it to Keras, as it does for a model not built yet (its variables are
    not all there) or an optimizer already built.
    """
    if (not model.built or model.optimizer is None or model.optimizer.built
            or getattr(model, "_distribute_strategy", None) is not None or tf.distribute.has_strategy()):
        return
    model.optimizer.build(model.trainable_variables)
