"""Word embedding whose lookups read only the rows they need."""

from __future__ import annotations

import keras
import tensorflow as tf


@keras.saving.register_keras_serializable(package="tf_aspmtl")
class SparseReadEmbedding(keras.layers.Embedding):
    """``keras.layers.Embedding`` that gathers rows straight from the variable.

    Same weights, config, outputs and (sparse, ``tf.IndexedSlices``)
    gradient as ``keras.layers.Embedding``; the difference is the read. Once
    a sparse update has touched a TensorFlow resource variable (the row
    updates of :class:`~tf_aspmtl.optimizers.LazyAdam`), every whole-variable
    read copies the whole table; ``keras.layers.Embedding`` reads the whole
    table before gathering, so each step would copy it. This layer gathers
    with the variable's ``sparse_read`` (one ``ResourceGather``), which
    copies only the looked-up rows. LoRA-enabled or quantized embeddings use
    Keras' own path.

    Like ``keras.layers.Embedding``, the table is kept in ``variable_dtype``
    and never autocast (casting it would read all of it); the gathered rows
    are cast to ``compute_dtype`` (float16 under ``"mixed_float16"``).

    Example:
    >>> layer = SparseReadEmbedding(100, 8)
    >>> layer(tf.constant([[1, 2, 0]])).shape
    TensorShape([1, 3, 8])
    """

    def call(self, inputs):
        if getattr(self, "lora_enabled", False) or getattr(self, "quantization_mode", None):
            return super().call(inputs)
        table = getattr(self.embeddings, "value", self.embeddings)
        if inputs.dtype not in (tf.int32, tf.int64):
            inputs = tf.cast(inputs, tf.int32)
        return tf.cast(tf.nn.embedding_lookup(table, inputs), self.compute_dtype)
