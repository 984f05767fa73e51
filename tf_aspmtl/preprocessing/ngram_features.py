"""Raw text to L2-normalised, sublinear tf-idf vectors of word n-grams (optionally NB-scaled), in the TensorFlow graph."""

from __future__ import annotations

import logging
import time
from typing import Sequence

import keras
import numpy as np
import tensorflow as tf

from tf_aspmtl.data.table_reader import check_present
from tf_aspmtl.preprocessing.integer_ngram_tables import IntegerNgramTables
from tf_aspmtl.preprocessing.ngram_vocabulary import most_frequent_ngrams
from tf_aspmtl.preprocessing.tokenizer import standardize

logger = logging.getLogger(__name__)

_NOT_MADE = object()
"""``NgramFeatures._tables`` before :meth:`NgramFeatures._integer_tables` first runs."""
WEIGHTINGS = ("tfidf", "nb")
""":class:`NgramFeatures`' ``weighting``: tf-idf alone, or tf-idf scaled by naive-Bayes log-count ratios."""
ANALYZERS = ("word", "char_wb")
""":class:`NgramFeatures`' ``analyzer``: n-grams of words, or of characters inside word boundaries (each word padded
with a space on both sides, as scikit-learn's ``char_wb``)."""
TERM_FREQUENCIES = ("sublinear", "binary")
""":class:`NgramFeatures`' ``term_frequency``: ``1 + log(count)``, or 1 for every n-gram a text holds."""


def char_ngrams(texts: tf.Tensor, shortest: int, longest: int) -> tf.RaggedTensor:
    """Each text's character n-grams of ``shortest`` to ``longest`` characters inside its words: ragged [batch, None].

    Texts are split on whitespace and each word padded with one space on both sides (" good " holds " g", "go",
    ..., "d "); a padded word shorter than ``n`` gives no n-gram of ``n`` characters.

    Example:
    >>> char_ngrams(tf.constant(["ab c"]), 2, 3).to_list()
    [[b' a', b'ab', b'b ', b' ab', b'ab ', b' c', b'c ', b' c ']]
    """
    words = tf.strings.split(texts)
    padded = tf.ragged.map_flat_values(lambda w: tf.strings.join([" ", w, " "]), words)
    characters = tf.strings.unicode_split(padded, "UTF-8")
    grams = tf.concat([tf.strings.ngrams(characters, n, separator="") for n in range(shortest, longest + 1)], axis=2)
    return grams.merge_dims(1, 2)


def nb_log_count_ratios(positive: np.ndarray, negative: np.ndarray, smoothing: float = 1.0) -> np.ndarray:
    """Naive-Bayes log-count ratios ``r = log((p + a) / |p + a|_1) - log((q + a) / |q + a|_1)`` (Wang & Manning, 2012).

    Args:
        positive: float array [features]. ``p``: each feature's count summed over the positive rows.
        negative: float array [features]. ``q``: the same over the negative rows.
        smoothing: float > 0. ``a``, added to every count.

    Returns:
        float64 array [features]: > 0 for a feature more frequent in positive rows, < 0 in negative ones.

    Example:
    >>> nb_log_count_ratios(np.array([3.0, 0.0, 1.0]), np.array([0.0, 3.0, 1.0])).round(3).tolist()
    [1.386, -1.386, 0.0]
    """
    if not (np.isfinite(smoothing) and smoothing > 0):
        raise ValueError(f"smoothing must be a finite number > 0; got {smoothing!r}")
    p = np.asarray(positive, np.float64) + smoothing
    q = np.asarray(negative, np.float64) + smoothing
    if p.shape != q.shape or p.ndim != 1:
        raise ValueError(f"positive and negative must be 1-d counts of the same features; got {p.shape}, {q.shape}")
    return np.log(p / p.sum()) - np.log(q / q.sum())


@keras.saving.register_keras_serializable(package="tf_aspmtl")
class NgramFeatures(keras.layers.Layer):
    """Texts to a sparse bag of word n-grams weighted ``(1 + log tf) * idf``, each row of unit L2 norm.

    With ``term_frequency="binary"`` an n-gram's count is ignored: every n-gram a text holds weighs its idf
    (binarised features, as NBSVM's).

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

    With ``weighting="nb"`` (NBSVM's features, Wang & Manning 2012) each
    column is then scaled by its naive-Bayes log-count ratio ``r_f``
    (:func:`nb_log_count_ratios`, smoothing ``nb_smoothing``), learnt by :meth:`adapt` from
    the training rows' 0/1 labels: ``p_f`` and ``q_f`` count the positive and
    negative rows that hold n-gram ``f`` (binarised counts: document
    frequencies, the counts NBSVM uses, on the scale the smoothing of 1 is
    meant for; the unknown column is left out and gets ``r = 0``). The rows
    are not normalised again: a review of n-grams that say nothing of its
    class (``r`` near 0) keeps features near 0 rather than having them blown
    up to unit norm. ``r`` is a non-trainable weight of the layer, so a saved
    or served model computes the same features from raw text.

    Args:
        max_features: int. Most n-grams kept (the rest count as unknown).
        ngrams: int. Longest n-gram, in words (2: words and word pairs).
        vocabulary_size: int or None. Set by :meth:`adapt` (and by a saved
            config); None before.
        weighting: str. ``"tfidf"`` (the default) or ``"nb"`` (tf-idf times
            each n-gram's NB log-count ratio; :meth:`adapt` then needs labels).
        term_frequency: str. ``"sublinear"`` (the default: ``1 + log(count)``) or ``"binary"`` (1 for each n-gram
            a text holds, however often).
        nb_smoothing: float > 0. With ``weighting="nb"``: the count added to every n-gram's positive and negative
            row counts (:func:`nb_log_count_ratios`' ``smoothing``; 1, the default, is NBSVM's); smaller values
            give rare n-grams larger ratios.

    Example:
    >>> features = NgramFeatures(max_features=20)
    >>> features.adapt(["a good book", "a bad book"])
    >>> x = features(tf.constant(["a good read"]))
    >>> round(float(tf.norm(x.values)), 4), x.dense_shape.numpy().tolist() == [1, features.vocabulary_size]
    (1.0, True)
    """

    def __init__(self, max_features: int = 200_000, ngrams: int = 2, vocabulary_size: int | None = None,
                 weighting: str = "tfidf", term_frequency: str = "sublinear", nb_smoothing: float = 1.0,
                 analyzer: str = "word", min_ngram: int = 1, **kwargs):
        super().__init__(**kwargs)
        if analyzer not in ANALYZERS:
            raise ValueError(f"Unknown analyzer {analyzer!r}; expected one of {list(ANALYZERS)}")
        if not 1 <= int(min_ngram) <= int(ngrams):
            raise ValueError(f"need 1 <= min_ngram <= ngrams; got {min_ngram!r} and {ngrams!r}")
        if analyzer == "word" and int(min_ngram) != 1:
            raise ValueError(f"word n-grams run from 1 word (min_ngram 1); got min_ngram {min_ngram!r}")
        if weighting not in WEIGHTINGS:
            raise ValueError(f"Unknown weighting {weighting!r}; expected one of {list(WEIGHTINGS)}")
        if term_frequency not in TERM_FREQUENCIES:
            raise ValueError(f"Unknown term_frequency {term_frequency!r}; expected one of {list(TERM_FREQUENCIES)}")
        if isinstance(nb_smoothing, bool) or not np.isfinite(nb_smoothing) or nb_smoothing <= 0:
            raise ValueError(f"nb_smoothing must be a finite number > 0; got {nb_smoothing!r}")
        if nb_smoothing != 1.0 and weighting != "nb":
            raise ValueError(f"nb_smoothing smooths the NB ratios of weighting 'nb'; got weighting {weighting!r}")
        if int(max_features) < 2:
            raise ValueError(f"max_features must be >= 2; got {max_features!r}")
        if int(ngrams) < 1:
            raise ValueError(f"ngrams must be >= 1; got {ngrams!r}")
        self.max_features = int(max_features)
        self.ngrams = int(ngrams)
        self.vocabulary_size = None if vocabulary_size is None else int(vocabulary_size)
        self.weighting = weighting
        self.term_frequency = term_frequency
        self.nb_smoothing = float(nb_smoothing)
        self.analyzer = analyzer
        self.min_ngram = int(min_ngram)
        self.counter = keras.layers.TextVectorization(  # characters: the texts arrive as their n-grams (char_ngrams)
            max_tokens=self.max_features, standardize=None, split="whitespace" if analyzer == "word" else None,
            ngrams=(self.ngrams or None) if analyzer == "word" else None, output_mode="count", sparse=True,
            name="ngram_counts",
        )
        self.idf = self.nb_ratio = None
        self._tables = _NOT_MADE  # IntegerNgramTables, or None (keys too large), made on first use (:meth:`count`)
        if self.vocabulary_size is not None:
            self._make_weights()

    def _make_weights(self) -> None:
        self.idf = self.add_weight(shape=(self.vocabulary_size,), initializer="zeros", trainable=False, name="idf")
        if self.weighting == "nb":  # only then: a tf-idf layer keeps the weights (and the run folders) it had
            self.nb_ratio = self.add_weight(shape=(self.vocabulary_size,), initializer="zeros", trainable=False,
                                            name="nb_ratio")

    @property
    def adapted(self) -> bool:
        return self.idf is not None

    def adapt(self, texts: Sequence[str] | np.ndarray, labels: Sequence[int] | np.ndarray | None = None,
              batch_size: int = 512) -> None:
        """Learns the vocabulary and the inverse document frequencies (and, with ``weighting="nb"``, the NB
        log-count ratios) from ``texts``: training rows only, never dev or test.

        Args:
            texts: the training texts.
            labels: with ``weighting="nb"`` only: each text's class, 1 positive, 0 negative.
            batch_size: texts counted at a time.

        Raises:
            ValueError: no text, a missing text (None, NaN; its row named), the layer was adapted already, or
                labels missing (``"nb"``), given (``"tfidf"``), of another length or not all 0/1 with both classes
                present.
        """
        if self.adapted:
            raise ValueError(f"{self.name} is adapted already; make a new NgramFeatures to learn other text")
        texts = list(texts)
        check_present(texts, "texts", "text", blank=False)  # None or NaN would be learnt as the word "nan"
        texts = [t if isinstance(t, (str, bytes)) else str(t) for t in texts]
        if not texts:
            raise ValueError("NgramFeatures.adapt needs at least one text")
        positive = self._check_labels(labels, len(texts))
        started = time.monotonic()
        batches = (tf.data.Dataset.from_tensor_slices(tf.constant(texts, tf.string)).batch(batch_size)
                   .map(standardize).cache())  # standardised once, read twice
        if self.analyzer == "char_wb":
            self.counter.adapt(batches.map(self._char_ngrams))
            self._tables = None
        elif (vocabulary := most_frequent_ngrams((tf.strings.split(batch) for batch in batches), self.ngrams,
                                                 self.max_features)) is None:
            logger.info("NgramFeatures %s: too many distinct words or n-grams to count them as integers; "
                        "TextVectorization.adapt counts them as strings (the same vocabulary, slower)", self.name)
            self.counter.adapt(batches)
        else:  # TextVectorization.adapt's vocabulary, counted as integers (most_frequent_ngrams)
            self.counter.set_vocabulary(vocabulary)
            self._tables = IntegerNgramTables.from_vocabulary(vocabulary, self.ngrams)
        self.vocabulary_size = int(self.counter.vocabulary_size())
        document_frequency = np.zeros(self.vocabulary_size, np.int64)
        positive_frequency = np.zeros(self.vocabulary_size, np.int64)  # the same over the positive rows ("nb")
        for start, batch in zip(range(0, len(texts), batch_size), batches):
            counts = self.count(batch)  # column 0 differs from the counter's; its idf and NB ratio are 0 anyway
            rows, columns = counts.indices[:, 0].numpy(), counts.indices[:, 1].numpy()
            document_frequency += np.bincount(columns, minlength=self.vocabulary_size)
            if positive is not None:
                in_positive = positive[start + rows]
                positive_frequency += np.bincount(columns[in_positive], minlength=self.vocabulary_size)
        idf = np.log((1.0 + len(texts)) / (1.0 + document_frequency)) + 1.0
        idf[0] = 0.0  # the n-grams outside the vocabulary carry no weight
        self._make_weights()
        self.idf.assign(idf.astype("float32"))
        if positive is not None:  # p, q: rows of each class holding the n-gram; the unknown column left out
            ratio = np.zeros(self.vocabulary_size)
            ratio[1:] = nb_log_count_ratios(positive_frequency[1:], (document_frequency - positive_frequency)[1:],
                                            self.nb_smoothing)
            self.nb_ratio.assign(ratio.astype("float32"))
        self.built = True
        logger.info("NgramFeatures: %d n-grams (%d-%d %s) from %d texts in %.1f s", self.vocabulary_size,
                    self.min_ngram, self.ngrams, "words" if self.analyzer == "word" else "characters", len(texts),
                    time.monotonic() - started)

    def _char_ngrams(self, texts: tf.Tensor) -> tf.RaggedTensor:
        return char_ngrams(texts, self.min_ngram, self.ngrams)

    def _check_labels(self, labels, rows: int) -> np.ndarray | None:
        """``labels`` as a bool array (True: positive) for ``"nb"``; None for ``"tfidf"``. Raises ValueError."""
        if self.weighting != "nb":
            if labels is not None:
                raise ValueError(f"{self.name} has weighting {self.weighting!r}: labels are for 'nb' only")
            return None
        if labels is None:
            raise ValueError(f"{self.name} has weighting 'nb': adapt needs the training rows' 0/1 labels")
        labels = np.asarray(labels)
        if labels.shape != (rows,) or not np.isin(labels, (0, 1)).all() or len(np.unique(labels)) < 2:
            raise ValueError(f"weighting 'nb' needs one label per text ({rows}), each 0 (negative) or 1 (positive), "
                             f"both present; got shape {labels.shape}, values {np.unique(labels)[:5].tolist()}")
        return labels == 1

    def build(self, input_shape=None):
        self.built = True

    @tf.autograph.experimental.do_not_convert
    def _integer_tables(self) -> IntegerNgramTables | None:
        """The vocabulary as :class:`IntegerNgramTables` (made once, eagerly, also when first called in a traced
        function), or None when its trie's keys would not fit in int64 (then the counter's strings).

        Never converted by AutoGraph: traced in ``tf.function`` (as :meth:`NgramPreprocessor.featurize` and every
        export do), AutoGraph would otherwise convert the Python that reads the vocabulary, one call per n-gram
        (57 s for a million n-grams, against 2 s eagerly).
        """
        if self._tables is _NOT_MADE:  # once: the vocabulary never changes after adapt (a second adapt is refused)
            with tf.init_scope():
                self._tables = IntegerNgramTables.from_vocabulary(self.counter.get_vocabulary(), self.ngrams)
            if self._tables is None:
                logger.info("NgramFeatures %s: the trie of its n-grams of up to %d words has too many nodes for "
                            "int64 keys; counting n-gram strings", self.name, self.ngrams)
        return self._tables

    def count(self, texts: tf.Tensor) -> tf.SparseTensor:
        """Each text's count of every vocabulary n-gram: int64 ``[batch, vocabulary_size]``, rows in order.

        Columns 1 and up hold the counts the layer's ``TextVectorization`` (``counter``) gives; column 0 (idf 0:
        no weight) holds other counts (:meth:`IntegerNgramTables.count`). Computed from integer ids
        (:class:`IntegerNgramTables`): no n-gram string is made or hashed; with the counter's strings when the
        trie's integer keys would not fit in int64 (more than three billion nodes).

        Args:
            texts: tf.string ``[batch]``, already standardised (:func:`standardize`).
        """
        tables = None if self.analyzer == "char_wb" else self._integer_tables()
        if tables is not None:
            return tables.count(tf.strings.split(texts))
        # The counter refuses a batch of no rows (as a multi-task serving graph gives the tasks a request has no row
        # of): it counts one more text, "", which holds no n-gram, and that row is left out of the shape.
        padded = tf.concat([texts, tf.constant([""])], 0)
        counts = tf.sparse.reorder(self.counter(self._char_ngrams(padded) if self.analyzer == "char_wb" else padded))
        return tf.SparseTensor(counts.indices, counts.values,
                               tf.stack([tf.shape(texts, out_type=tf.int64)[0], counts.dense_shape[1]]))

    def call(self, texts):
        if not self.adapted:
            raise ValueError(f"{self.name} has no vocabulary yet: call adapt(train_texts) first")
        counts = self.count(standardize(tf.reshape(texts, [-1])))
        columns = counts.indices[:, 1]
        # Computed in float64 and rounded once at the end, a row's features are the same float32 values
        # whatever else is in its batch (float32's vectorised log and its parallel sums round an array's tail
        # and its partial sums differently), so features computed once for training are the ones a served
        # batch computes.
        idf = tf.cast(tf.gather(self.idf, columns), tf.float64)
        if self.term_frequency == "binary":
            values = idf
        else:
            values = (1.0 + tf.math.log(tf.cast(counts.values, tf.float64))) * idf
        rows = counts.indices[:, 0]
        norms = tf.math.unsorted_segment_sum(tf.square(values), rows, tf.cast(counts.dense_shape[0], tf.int32))
        values = values / tf.sqrt(tf.maximum(tf.gather(norms, rows), 1e-24))
        if self.nb_ratio is not None:  # after the norm, in float64 too: still one rounding, batch-independent
            values = values * tf.cast(tf.gather(self.nb_ratio, columns), tf.float64)
        return tf.SparseTensor(counts.indices, tf.cast(values, tf.float32), counts.dense_shape)

    def compute_output_spec(self, texts):
        return keras.KerasTensor((texts.shape[0], self.vocabulary_size), dtype="float32", sparse=True)

    def get_config(self):
        config = super().get_config()
        config.update({"max_features": self.max_features, "ngrams": self.ngrams,
                       "vocabulary_size": self.vocabulary_size})
        if self.weighting != "tfidf":  # a tf-idf layer's config stays the one earlier versions saved (run folders)
            config["weighting"] = self.weighting
        if self.term_frequency != "sublinear":  # likewise: left out at their defaults
            config["term_frequency"] = self.term_frequency
        if self.nb_smoothing != 1.0:
            config["nb_smoothing"] = self.nb_smoothing
        if self.analyzer != "word":
            config.update({"analyzer": self.analyzer, "min_ngram": self.min_ngram})
        return config
