"""Task models: the base :class:`Task`, the shared-private classifier and its families, the n-gram linear model,
the ensemble, and the backbone they share."""

from tf_aspmtl.models.families import (
    MODEL_FAMILIES,
    AdversarialSharedPrivateMTL,
    FullySharedMTL,
    SharedPrivateMTL,
    SingleTaskClassifier,
    WideAndDeepMTL,
    get_model_family,
)
from tf_aspmtl.models.encoder_language_model import EncoderLanguageModel
from tf_aspmtl.models.multitask_classifier import MultiTaskClassifier
from tf_aspmtl.models.multitask_ensemble import MultiTaskEnsemble
from tf_aspmtl.models.shared_private_backbone import SharedPrivateBackbone
from tf_aspmtl.models.shared_private_ngram_classifier import SharedPrivateNgramClassifier
from tf_aspmtl.models.task import ServingFunction, Task

__all__ = [
    "MODEL_FAMILIES",
    "AdversarialSharedPrivateMTL",
    "EncoderLanguageModel",
    "FullySharedMTL",
    "MultiTaskClassifier",
    "MultiTaskEnsemble",
    "ServingFunction",
    "SharedPrivateBackbone",
    "SharedPrivateMTL",
    "SharedPrivateNgramClassifier",
    "SingleTaskClassifier",
    "Task",
    "WideAndDeepMTL",
    "get_model_family",
]
