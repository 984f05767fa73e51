"""FS-MTL: the fully-shared multi-task family."""

from __future__ import annotations

import keras

from tf_aspmtl.models.family import _Family


@keras.saving.register_keras_serializable(package="tf_aspmtl")
class FullySharedMTL(_Family):
    """FS-MTL: one encoder shared by every task, one softmax per task.

    Args:
        preprocessor: a :class:`~tf_aspmtl.preprocessing.MultiTaskPreprocessor`.
        **kwargs: :class:`AdversarialSharedPrivateMTL`'s family settings (``embedding_dim``, ``encoder``,
            ``hidden_dim``, ``word_vectors``, ...).
    """
