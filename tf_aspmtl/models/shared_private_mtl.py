"""SP-MTL: the shared-private multi-task family."""

from __future__ import annotations

import keras

from tf_aspmtl.models.family import _Family


@keras.saving.register_keras_serializable(package="tf_aspmtl")
class SharedPrivateMTL(_Family):
    """SP-MTL: a shared encoder plus one private encoder per task; heads read both.

    Args:
        preprocessor: a :class:`~tf_aspmtl.preprocessing.MultiTaskPreprocessor`.
        **kwargs: :class:`AdversarialSharedPrivateMTL`'s family settings (``embedding_dim``, ``encoder``,
            ``hidden_dim``, ``word_vectors``, ...); a ``difference_weight`` or
            ``adversarial_weight`` given here is kept, saved and reloaded.
    """

    use_private_encoders = True
