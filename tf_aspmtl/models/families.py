"""The paper's four model families, each a :class:`MultiTaskClassifier` with fixed switches.

:data:`MODEL_FAMILIES` maps the command-line names to the classes, so adding a
family is one class and one line.
"""

from __future__ import annotations

from typing import Sequence

import keras

from tf_aspmtl.models.multitask_classifier import MultiTaskClassifier

_FIXED = ("use_shared", "use_private")


class _Family(MultiTaskClassifier):
    """A family fixes which encoders exist; its config omits those switches."""

    def get_config(self):
        config = super().get_config()
        for key in _FIXED + self._fixed_extra:
            config.pop(key, None)
        return config

    _fixed_extra: tuple[str, ...] = ()


@keras.saving.register_keras_serializable(package="tf_aspmtl")
class SingleTaskClassifier(_Family):
    """One task, one encoder, one softmax: the paper's LSTM / BiLSTM baselines.

    Args:
        task_names: sequence with exactly one task name.
        **kwargs: as :class:`MultiTaskClassifier` (encoder, sizes, preprocessor...).
    """

    _fixed_extra = ("adversarial_weight", "difference_weight")

    def __init__(self, task_names: Sequence[str], **kwargs):
        if len(task_names) != 1:
            raise ValueError(
                f"SingleTaskClassifier takes exactly one task; got {list(task_names)}. "
                "Train one model per task, or use FullySharedMTL for several."
            )
        super().__init__(task_names, use_shared=True, use_private=False, **kwargs)


@keras.saving.register_keras_serializable(package="tf_aspmtl")
class FullySharedMTL(_Family):
    """FS-MTL: one encoder shared by every task, one softmax per task."""

    _fixed_extra = ("adversarial_weight", "difference_weight")

    def __init__(self, task_names: Sequence[str], **kwargs):
        super().__init__(task_names, use_shared=True, use_private=False, **kwargs)


@keras.saving.register_keras_serializable(package="tf_aspmtl")
class SharedPrivateMTL(_Family):
    """SP-MTL: a shared encoder plus one private encoder per task; heads read both."""

    _fixed_extra = ("adversarial_weight", "difference_weight")

    def __init__(self, task_names: Sequence[str], **kwargs):
        super().__init__(task_names, use_shared=True, use_private=True, **kwargs)


@keras.saving.register_keras_serializable(package="tf_aspmtl")
class AdversarialSharedPrivateMTL(_Family):
    """ASP-MTL: SP-MTL plus the adversarial task discriminator and the difference loss.

    Defaults are the paper's chosen weights, lambda = 0.05 and gamma = 0.01.

    Args:
        task_names: sequence of str, at least two.
        adversarial_weight: float. lambda.
        difference_weight: float. gamma.
        **kwargs: as :class:`MultiTaskClassifier`.
    """

    def __init__(
        self,
        task_names: Sequence[str],
        adversarial_weight: float = 0.05,
        difference_weight: float = 0.01,
        **kwargs,
    ):
        super().__init__(
            task_names,
            use_shared=True,
            use_private=True,
            adversarial_weight=adversarial_weight,
            difference_weight=difference_weight,
            **kwargs,
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
