"""A tiny shared/private n-gram model of two tasks with different numbers of classes, for the model's unit tests."""

import numpy as np

from tf_aspmtl.models.shared_private_ngram_classifier import SharedPrivateNgramClassifier
from tf_aspmtl.preprocessing.ngram_features import NgramFeatures
from tf_aspmtl.preprocessing.ngram_preprocessor import NgramPreprocessor

TEXTS = ["good book", "bad book", "dull read", "good film", "bad film", "so so film", "great film"]
TASKS = ["books", "books", "books", "dvd", "dvd", "dvd", "dvd"]
LABELS = [1, 0, 0, 2, 0, 1, 2]  # books has 2 classes, dvd 3


def two_task_model(random_weights_seed: int | None = None, **kwargs) -> SharedPrivateNgramClassifier:
    """The model on unigram features of :data:`TEXTS`; its weights at zero, or drawn from a normal distribution
    with ``random_weights_seed``; ``kwargs`` go to the model."""
    features = NgramFeatures(max_features=40, ngrams=1)
    features.adapt(TEXTS)
    preprocessor = NgramPreprocessor(["books", "dvd"], {"books": ["neg", "pos"], "dvd": ["neg", "mid", "pos"]},
                                     features)
    model = SharedPrivateNgramClassifier(preprocessor, **kwargs)
    if random_weights_seed is not None:
        rng = np.random.default_rng(random_weights_seed)
        for w in (model.shared_kernel, model.private_kernel, model.bias):
            w.assign(rng.normal(size=w.shape).astype("float32"))
    return model
