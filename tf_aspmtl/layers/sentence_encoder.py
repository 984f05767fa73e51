"""The base class of the sentence encoders."""

from __future__ import annotations

import keras


class SentenceEncoder(keras.layers.Layer):
    """Base of the encoders: ``[batch, length, dim]`` + mask in, ``[batch, output_dim]`` out.

    The mask is consumed (the feature has no time axis), so none is passed on.
    Subclasses define ``output_dim``, ``build`` and ``call``, and list in
    ``default_initializers`` their initializer arguments with their defaults
    (:func:`~tf_aspmtl.layers.encoders.get_encoder` sets them by scheme).
    """

    default_initializers: dict[str, str] = {}

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True

    @property
    def output_dim(self) -> int:
        raise NotImplementedError

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.output_dim)

    def compute_mask(self, inputs, mask=None):
        return None
