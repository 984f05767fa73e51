"""ASP-MTL: the adversarial shared-private multi-task family, the paper's model."""

from __future__ import annotations

import keras

from tf_aspmtl.models.family import _Family


@keras.saving.register_keras_serializable(package="tf_aspmtl")
class AdversarialSharedPrivateMTL(_Family):
    """ASP-MTL: SP-MTL plus the adversarial task discriminator and the difference loss.

    Defaults are the paper's: hidden size 100, GloVe 6B 50-d word vectors
    (with a preprocessor), lambda = 0.05 and gamma = 0.01.

    Args:
        preprocessor: a :class:`~tf_aspmtl.preprocessing.MultiTaskPreprocessor` of at least two tasks.
        adversarial_weight: float. lambda.
        difference_weight: float. gamma.
        embedding_dim: int. Word vector size (50, GloVe 6B's).
        encoder: str. ``"lstm"`` (the paper's), ``"bilstm"``, ``"lstm-max"``, ``"bilstm-max"`` or ``"cnn"``.
        hidden_dim: int. Encoder size (LSTM units per direction, CNN filters per width); 100.
        word_vectors: ``"glove"`` (the default when ``embedding_dim`` is 50), ``"random"`` (the default, with a
            warning, for another size) or a matrix [vocabulary_size, embedding_dim].
        **kwargs: the other family settings (``initializer``, ``shared_mean_projection``, ``vocabulary_size``;
            :mod:`tf_aspmtl.models.family`), the objective's (``adversarial_objective``, ``task_weights``,
            ``embedding_perturbation``, ...; :class:`~tf_aspmtl.objective.MultiTaskObjective`) and
            :class:`MultiTaskClassifier`'s (``dropout``, ``seed``, ``name``...).

    Example:
    >>> import pandas as pd
    >>> from tf_aspmtl.preprocessing import MultiTaskPreprocessor
    >>> train = pd.DataFrame({"text": ["good book", "dull book", "great film", "bad film"],
    ...                       "task": ["books", "books", "dvd", "dvd"], "label": ["pos", "neg", "pos", "neg"]})
    >>> pre = MultiTaskPreprocessor.from_frame(train, max_length=8)   # text, task, label columns
    >>> model = AdversarialSharedPrivateMTL(pre, embedding_dim=4, hidden_dim=4, word_vectors="random")  # tiny, no GloVe
    >>> model.compile()
    >>> _ = model.fit({"text": train.text, "task": train.task}, train.label, batch_size=2, epochs=1, verbose=0)
    """

    use_private_encoders = True

    def __init__(self, preprocessor=None, adversarial_weight: float = 0.05, difference_weight: float = 0.01, **kwargs):
        if kwargs.get("objective") is None:  # a model rebuilt from its config brings its objective
            kwargs.update(adversarial_weight=adversarial_weight, difference_weight=difference_weight)
        super().__init__(preprocessor, **kwargs)
