"""The paper's four model families, each a :class:`MultiTaskClassifier` with its encoders fixed, and ASP-MTL with a
wide path (``wide_and_deep_mtl``, which takes a WideAndDeepPreprocessor).

Each family is a class in its own module (``single_task_classifier``,
``fully_shared_mtl``, ``shared_private_mtl``, ``adversarial_shared_private_mtl``;
their base is in ``family``). :data:`MODEL_FAMILIES` maps the command-line
names to the classes, and this module re-exports them, so adding a family is
one class and one line here.

==============  ======  =======  ===========  ==========
family          shared  private  adversarial  difference
==============  ======  =======  ===========  ==========
single-task     yes     no       no           no
FS-MTL          yes     no       no           no
SP-MTL          yes     yes      no           no
ASP-MTL         yes     yes      lambda       gamma
==============  ======  =======  ===========  ==========
"""

from __future__ import annotations

from tf_aspmtl.models.adversarial_shared_private_mtl import AdversarialSharedPrivateMTL
from tf_aspmtl.models.fully_shared_mtl import FullySharedMTL
from tf_aspmtl.models.multitask_classifier import MultiTaskClassifier
from tf_aspmtl.models.shared_private_mtl import SharedPrivateMTL
from tf_aspmtl.models.single_task_classifier import SingleTaskClassifier
from tf_aspmtl.models.wide_and_deep_mtl import WideAndDeepMTL

__all__ = [
    "MODEL_FAMILIES",
    "AdversarialSharedPrivateMTL",
    "FullySharedMTL",
    "SharedPrivateMTL",
    "SingleTaskClassifier",
    "WideAndDeepMTL",
    "get_model_family",
]


MODEL_FAMILIES: dict[str, type[MultiTaskClassifier]] = {
    "single": SingleTaskClassifier,
    "fs-mtl": FullySharedMTL,
    "sp-mtl": SharedPrivateMTL,
    "asp-mtl": AdversarialSharedPrivateMTL,
    "wide-deep": WideAndDeepMTL,  # ASP-MTL plus the n-gram linear path; needs a WideAndDeepPreprocessor
}


def get_model_family(name: str) -> type[MultiTaskClassifier]:
    """The class registered under ``name`` in :data:`MODEL_FAMILIES`."""
    if name not in MODEL_FAMILIES:
        raise ValueError(f"Unknown model family {name!r}; expected one of {sorted(MODEL_FAMILIES)}")
    return MODEL_FAMILIES[name]
