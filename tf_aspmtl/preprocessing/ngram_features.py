"""Raw text to L2-normalised, sublinear tf-idf vectors of word n-grams, in the TensorFlow graph."""

from __future__ import annotations

import logging
import time
from typing import Sequence

import keras
import numpy as np
import tensorflow as tf

from tf_aspmtl.preprocessing.tokenizer import standardize

logger = logging.getLogger(__name__)


@keras.saving.register_keras_serializable(package="tf_aspmtl")
class NgramFeatures(keras.layers.Layer):
    """Texts to a sparse bag of word n-grams weighted ``(1 + log tf) * idf``, each row of unit L2 norm.

    The texts are tokenised by :func:`tf_aspmtl.preprocessing.standardize`
    (the rules the word-vector models use), then
    ``keras.layers.TextVectorization`` counts the n-grams of 1 to ``ngrams``
    words of a vocabulary of the ``max_features`` most frequent ones (index 0
    collects the others and is given no weight). :meth:`adapt` learns the
    vocabulary and each n-gram's smoothed inverse document frequency
    ``log((1 + n) / (1 + df)) + 1`` from training text; pass train text only
    (never dev or test). The output is a ``tf.SparseTensor`` of float32
    ``[batch, vocabulary_size]``, the input of a linear model such as
    :class:`tf_aspmtl.models.SharedPrivateNgramClassifier`.

    Args:
        max_features: int. Most n-grams kept (the rest count as unknown).
        ngrams: int. Longest n-gram, in words (2: words and word pairs).
        vocabulary_size: int or None. Set by :meth:`adapt` (and by a saved
            config); None before.

    Example:
    >>> features = NgramFeatures(max_features=20)
    >>> features.adapt(["a good book", "a bad book"])
    >>> x = features(tf.constant(["a good read"]))
    >>> round(float(tf.norm(x.values)), 4), x.dense_shape.numpy().tolist() == [1, features.vocabulary_size]
    (1.0, True)
    """

    def __init__(self, max_features: int = 200_000, ngrams: int = 2, vocabulary_size: int | None = None,
                 **kwargs):
        super().__init__(**kwargs)
        if int(max_features) < 2:
            raise ValueError(f"max_features must be >= 2; got {max_features!r}")
        if int(ngrams) < 1:
            raise ValueError(f"ngrams must be >= 1; got {ngrams!r}")
        self.max_features = int(max_features)
        self.ngrams = int(ngrams)
        self.vocabulary_size = None if vocabulary_size is None else int(vocabulary_size)
        self.counter = keras.layers.TextVectorization(
            max_tokens=self.max_features, standardize=None, split="whitespace", ngrams=self.ngrams or None,
            output_mode="count", sparse=True, name="ngram_counts",
        )
        self.idf = None
        if self.vocabulary_size is not None:
            self._make_idf()

    def _make_idf(self) -> None:
        self.idf = self.add_weight(shape=(self.vocabulary_size,), initializer="zeros", trainable=False, name="idf")

    @property
    def adapted(self) -> bool:
        return self.idf is not None

    def adapt(self, texts: Sequence[str] | np.ndarray, batch_size: int = 512) -> None:
        """Learns the vocabulary and the inverse document frequencies from ``texts`` (training text only).

        Raises:
            ValueError: no text, or the layer was adapted already.
        """
        if self.adapted:
            raise ValueError(f"{self.name} is adapted already; make a new NgramFeatures to learn other text")
        texts = [t if isinstance(t, (str, bytes)) else str(t) for t in list(texts)]
        if not texts:
            raise ValueError("NgramFeatures.adapt needs at least one text")
        started = time.monotonic()
        batches = tf.data.Dataset.from_tensor_slices(tf.constant(texts, tf.string)).batch(batch_size).map(standardize)
        self.counter.adapt(batches)
        self.vocabulary_size = int(self.counter.vocabulary_size())
        document_frequency = np.zeros(self.vocabulary_size, np.int64)
        for batch in batches:
            counts = self.counter(batch)
            document_frequency += np.bincount(counts.indices[:, 1].numpy(), minlength=self.vocabulary_size)
        idf = np.log((1.0 + len(texts)) / (1.0 + document_frequency)) + 1.0
        idf[0] = 0.0  # the n-grams outside the vocabulary carry no weight
        self._make_idf()
        self.idf.assign(idf.astype("float32"))
        self.built = True
        logger.info("NgramFeatures: %d n-grams (1-%d words) from %d texts in %.1f s", self.vocabulary_size,
                    self.ngrams, len(texts), time.monotonic() - started)

    def build(self, input_shape=None):
        self.built = True

    def call(self, texts):
        if not self.adapted:
            raise ValueError(f"{self.name} has no vocabulary yet: call adapt(train_texts) first")
        counts = self.counter(standardize(tf.reshape(texts, [-1])))
        counts = tf.sparse.reorder(counts)
        columns = counts.indices[:, 1]
        # Computed in float64 and rounded once at the end, a row's features are the same float32 values
        # whatever else is in its batch (float32's vectorised log and its parallel sums round an array's tail
        # and its partial sums differently), so features computed once for training are the ones a served
        # batch computes.
        values = (1.0 + tf.math.log(tf.cast(counts.values, tf.float64))) * tf.cast(tf.gather(self.idf, columns),
                                                                                  tf.float64)
        rows = counts.indices[:, 0]
        norms = tf.math.unsorted_segment_sum(tf.square(values), rows, tf.cast(counts.dense_shape[0], tf.int32))
        values = tf.cast(values / tf.sqrt(tf.maximum(tf.gather(norms, rows), 1e-24)), tf.float32)
        return tf.SparseTensor(counts.indices, values, counts.dense_shape)

    def compute_output_spec(self, texts):
        return keras.KerasTensor((texts.shape[0], self.vocabulary_size), dtype="float32", sparse=True)

    def get_config(self):
        config = super().get_config()
        config.update({"max_features": self.max_features, "ngrams": self.ngrams,
                       "vocabulary_size": self.vocabulary_size})
        return config
