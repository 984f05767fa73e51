"""The paper's four model families, each a :class:`MultiTaskClassifier` with its encoders fixed.

:data:`MODEL_FAMILIES` maps the command-line names to the classes, so adding a
family is one class and one line.
"""

from __future__ import annotations

import keras

from tf_aspmtl.models.multitask_classifier import MultiTaskClassifier

_FIXED = ("use_shared", "use_private")


class _Family(MultiTaskClassifier):
    """A family fixes which encoders exist; its config omits those two switches (and nothing else)."""

    use_private_encoders = False

    def __init__(self, preprocessor=None, **kwargs):
        for key in _FIXED:
            if key in kwargs:
                raise ValueError(f"{type(self).__name__} fixes {key}; use MultiTaskClassifier to choose it.")
        super().__init__(preprocessor, use_shared=True, use_private=self.use_private_encoders, **kwargs)

    def get_config(self):
        config = super().get_config()
        for key in _FIXED:
            config.pop(key, None)
        return config


@keras.saving.register_keras_serializable(package="tf_aspmtl")
class SingleTaskClassifier(_Family):
    """One task, one encoder, one softmax: the paper's LSTM / BiLSTM baselines.

    Args:
        preprocessor: a :class:`~tf_aspmtl.preprocessing.MultiTaskPreprocessor`
            of exactly one task (or a one-element list of task names).
        **kwargs: as :class:`MultiTaskClassifier` (encoder, sizes...).
    """

    def __init__(self, preprocessor=None, **kwargs):
        super().__init__(preprocessor, **kwargs)
        if self.num_tasks != 1:
            raise ValueError(
                f"SingleTaskClassifier takes exactly one task; got {self.task_names}. "
                "Train one model per task, or use FullySharedMTL for several."
            )


@keras.saving.register_keras_serializable(package="tf_aspmtl")
class FullySharedMTL(_Family):
    """FS-MTL: one encoder shared by every task, one softmax per task.

    Args:
        preprocessor: a :class:`~tf_aspmtl.preprocessing.MultiTaskPreprocessor`.
        **kwargs: as :class:`MultiTaskClassifier`.
    """


@keras.saving.register_keras_serializable(package="tf_aspmtl")
class SharedPrivateMTL(_Family):
    """SP-MTL: a shared encoder plus one private encoder per task; heads read both.

    Args:
        preprocessor: a :class:`~tf_aspmtl.preprocessing.MultiTaskPreprocessor`.
        **kwargs: as :class:`MultiTaskClassifier` (a ``difference_weight`` or
            ``adversarial_weight`` given here is kept, saved and reloaded).
    """

    use_private_encoders = True


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
        super().__init__(
            preprocessor, adversarial_weight=adversarial_weight, difference_weight=difference_weight, **kwargs
        )


MODEL_FAMILIES: dict[str, type[MultiTaskClassifier]] = {
    "single": SingleTaskClassifier,
    "fs-mtl": FullySharedMTL,
    "sp-mtl": SharedPrivateMTL,
    "asp-mtl": AdversarialSharedPrivateMTL,
}


def get_model_family(name: str) -> type[MultiTaskClassifier]:
    """The class registered under ``name`` in :data:`MODEL_FAMILIES`."""
    if name not in MODEL_FAMILIES:
        raise ValueError(f"Unknown model family {name!r}; expected one of {sorted(MODEL_FAMILIES)}")
    return MODEL_FAMILIES[name]
