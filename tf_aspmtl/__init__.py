"""tf-aspmtl: adversarial shared-private multi-task text classification in Keras.

``import tf_aspmtl`` registers every serialisable class of the library, so
``keras.models.load_model(path, safe_mode=True)`` works after it alone.

Example (tiny sizes; the defaults are the paper's: hidden 100, GloVe vectors):
>>> import pandas as pd
>>> import tf_aspmtl
>>> train = pd.DataFrame({"text": ["good book", "dull book", "great film", "bad film"],
...                       "task": ["books", "books", "dvd", "dvd"], "label": ["pos", "neg", "pos", "neg"]})
>>> pre = tf_aspmtl.MultiTaskPreprocessor.from_frame(train, max_length=8)
>>> model = tf_aspmtl.AdversarialSharedPrivateMTL(pre, embedding_dim=4, hidden_dim=4, word_vectors="random")
>>> model.compile()
>>> _ = model.fit({"text": train.text, "task": train.task}, train.label, batch_size=2, epochs=1, verbose=0)
"""

__version__ = "0.1.0"

from tf_aspmtl import layers, metrics, optimizers  # noqa: F401  (registers the serialisable classes)
from tf_aspmtl.export import exporter as _exporter  # noqa: F401  (registers Task.export's "tf_serving" format)
from tf_aspmtl.models import (
    MODEL_FAMILIES,
    AdversarialSharedPrivateMTL,
    EncoderLanguageModel,
    FullySharedMTL,
    MultiTaskClassifier,
    MultiTaskEnsemble,
    SharedPrivateBackbone,
    SharedPrivateMTL,
    SharedPrivateNgramClassifier,
    SingleTaskClassifier,
    Task,
    WideAndDeepMTL,
    get_model_family,
)
from tf_aspmtl.objective import MultiTaskObjective
from tf_aspmtl.optimizers import LazyAdam
from tf_aspmtl.preprocessing import (
    MultiTaskPreprocessor,
    NgramFeatureUnion,
    NgramFeatures,
    NgramPreprocessor,
    TaskPreprocessor,
    TextVectorizer,
    WideAndDeepPreprocessor,
)

__all__ = [
    "MODEL_FAMILIES",
    "AdversarialSharedPrivateMTL",
    "EncoderLanguageModel",
    "FullySharedMTL",
    "LazyAdam",
    "MultiTaskClassifier",
    "MultiTaskEnsemble",
    "MultiTaskObjective",
    "MultiTaskPreprocessor",
    "NgramFeatureUnion",
    "NgramFeatures",
    "NgramPreprocessor",
    "SharedPrivateBackbone",
    "SharedPrivateMTL",
    "SharedPrivateNgramClassifier",
    "SingleTaskClassifier",
    "Task",
    "TaskPreprocessor",
    "TextVectorizer",
    "WideAndDeepMTL",
    "WideAndDeepPreprocessor",
    "get_model_family",
]
