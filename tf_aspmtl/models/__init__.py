"""Model families: single-task, FS-MTL, SP-MTL and ASP-MTL."""

from tf_aspmtl.models.families import (
    MODEL_FAMILIES,
    AdversarialSharedPrivateMTL,
    FullySharedMTL,
    SharedPrivateMTL,
    SingleTaskClassifier,
    get_model_family,
)
from tf_aspmtl.models.multitask_classifier import MultiTaskClassifier

__all__ = [
    "MODEL_FAMILIES",
    "AdversarialSharedPrivateMTL",
    "FullySharedMTL",
    "MultiTaskClassifier",
    "SharedPrivateMTL",
    "SingleTaskClassifier",
    "get_model_family",
]
