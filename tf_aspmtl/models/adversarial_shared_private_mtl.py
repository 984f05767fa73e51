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
        **kwargs: as :class:`MultiTaskClassifier`.

    Example:
    >>> pre = MultiTaskPreprocessor.from_frame(train, max_length=200)   # text, task, label columns
    >>> model = AdversarialSharedPrivateMTL(pre)
    >>> model.compile()
    >>> model.fit({"text": train.text, "task": train.task}, train.label, epochs=15)
    """

    use_private_encoders = True

    def __init__(self, preprocessor=None, adversarial_weight: float = 0.05, difference_weight: float = 0.01, **kwargs):
        if kwargs.get("objective") is None:  # a model rebuilt from its config brings its objective
            kwargs.update(adversarial_weight=adversarial_weight, difference_weight=difference_weight)
        super().__init__(preprocessor, **kwargs)
