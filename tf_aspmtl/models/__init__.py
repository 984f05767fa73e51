"""Task models (the four families), their backbone, the family registry, and the n-gram linear model."""

from tf_aspmtl.models.families import (
    MODEL_FAMILIES,
    AdversarialSharedPrivateMTL,
    FullySharedMTL,
    SharedPrivateMTL,
    SingleTaskClassifier,
    get_model_family,
)
from tf_aspmtl.models.encoder_language_model import EncoderLanguageModel
from tf_aspmtl.models.multitask_classifier import MultiTaskClassifier
from tf_aspmtl.models.multitask_ensemble import MultiTaskEnsemble
from tf_aspmtl.models.shared_private_backbone import SharedPrivateBackbone
from tf_aspmtl.models.shared_private_ngram_classifier import SharedPrivateNgramClassifier

__all__ = [
    "MODEL_FAMILIES",
    "AdversarialSharedPrivateMTL",
    "EncoderLanguageModel",
    "FullySharedMTL",
    "MultiTaskClassifier",
    "MultiTaskEnsemble",
    "SharedPrivateBackbone",
    "SharedPrivateMTL",
    "SharedPrivateNgramClassifier",
    "SingleTaskClassifier",
    "get_model_family",
]
