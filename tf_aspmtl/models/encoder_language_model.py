"""A next-word language model built from the classifier's own parts, to pretrain its encoders.

Dai & Le (2015) and ULMFiT pretrain a text classifier's recurrent encoder as
a language model on unlabelled text of the same domain, then fine-tune it on
the labels. :class:`EncoderLanguageModel` is that language model for the
encoders of :class:`~tf_aspmtl.models.SharedPrivateBackbone`: a word
embedding, one :class:`~tf_aspmtl.layers.encoders.FusedLSTM` per reading
direction (the sub-layer ``LSTMEncoder.lstm`` / ``BiLSTMEncoder.forward_lstm``
and ``backward_lstm`` are made of) and a softmax over the vocabulary, so its
weights copy one to one into an encoder
(:func:`tf_aspmtl.training.apply_pretrained_encoders`).
"""

from __future__ import annotations

from typing import Sequence

import keras
import numpy as np
import tensorflow as tf

from tf_aspmtl.distribute import all_replica_rows, replica_share
from tf_aspmtl.layers.embedding import SparseReadEmbedding
from tf_aspmtl.layers.encoders import FusedLSTM

DIRECTIONS = ("forward", "backward")
PADDING_ID = 0
OOV_ID = 1


def parse_directions(direction: str | Sequence[str]) -> tuple[str, ...]:
    """``direction`` (a name or a sequence of them) as a checked tuple in the order forward, backward."""
    names = (direction,) if isinstance(direction, str) else tuple(direction)
    if not names or len(set(names)) != len(names) or any(d not in DIRECTIONS for d in names):
        raise ValueError(f"direction must be 'forward', 'backward' or both; got {direction!r}")
    return tuple(d for d in DIRECTIONS if d in names)


def reading_order(token_ids: tf.Tensor, direction: str) -> tf.Tensor:
    """``token_ids`` [batch, length] as the ``direction`` reads them: each row's real tokens reversed for "backward".

    Padding (id 0) stays on the right, as in ``BiLSTMEncoder``, whose
    backward LSTM reads the same reversed rows.
    """
    token_ids = tf.cast(token_ids, tf.int32)
    if direction == "forward":
        return token_ids
    lengths = tf.reduce_sum(tf.cast(token_ids != PADDING_ID, tf.int32), axis=1)
    return tf.reverse_sequence(token_ids, lengths, seq_axis=1, batch_axis=0)


def _log_uniform_candidates(num_sampled: int, range_max: int, seed: tf.Tensor):
    """``num_sampled`` ids drawn with replacement from P(k) = log((k+2)/(k+1)) / log(range_max+1).

    Stateless (the draw is a function of ``seed``), so a training run resumed
    from a checkpoint draws the negatives an uninterrupted run would have.

    Returns:
        (sampled int64 [num_sampled], expected_count(ids) -> float32), the
        ``sampled_values`` parts of ``tf.nn.sampled_softmax_loss``.
    """
    log_range = tf.math.log(float(range_max) + 1.0)
    u = tf.random.stateless_uniform([num_sampled], seed=seed, dtype=tf.float32)
    sampled = tf.cast(tf.floor(tf.exp(u * log_range)), tf.int64) - 1
    sampled = tf.clip_by_value(sampled, 0, range_max - 1)

    def expected_count(ids):
        k = tf.cast(ids, tf.float32)
        return num_sampled * (tf.math.log(k + 2.0) - tf.math.log(k + 1.0)) / log_range

    return sampled, expected_count


class _Perplexity(keras.metrics.Mean):
    """exp of the mean of per-token cross entropies (natural log), weighted by tokens."""

    def result(self):
        return tf.exp(super().result())


@keras.saving.register_keras_serializable(package="tf_aspmtl")
class EncoderLanguageModel(keras.Model):
    """Word embedding + a FusedLSTM per direction, trained to predict the next word (sampled softmax).

    Input: int token ids [batch, length] of a
    :class:`~tf_aspmtl.preprocessing.TextVectorizer` (0 = padding on the
    right, 1 = "[UNK]", real words from 2, most frequent first). ``call``
    returns ``{direction: hidden states [batch, length, units]}``, each in
    its direction's reading order (:func:`reading_order`); the state after a
    word predicts the word that the direction reads next ("forward": the
    following word; "backward": the preceding one, the row being reversed
    as ``BiLSTMEncoder`` reverses it). The first word a direction reads is
    context only (there is no start token). With both directions the
    embedding and the softmax are shared and the loss is the mean of the two
    (as in ELMo's biLM), so one embedding matches both LSTMs.

    Loss (:meth:`compute_loss`, run by Keras' own ``train_step``): the mean
    cross entropy over the real target tokens of the batch, never padding.
    "[UNK]" targets are left out by default (``predict_unknown=False``): a
    pooled out-of-vocabulary class is the most frequent "word" in review
    text, easy to predict and of no use to the encoder; "[UNK]" inputs are
    still read. In training the softmax is sampled: ``num_sampled`` negative
    ids per step from a log-uniform (Zipf) proposal, which fits the
    vectorizer's frequency-sorted ids (another order only makes the
    estimate noisier; the correction for the proposal keeps it consistent);
    with ``num_sampled >= vocabulary_size`` the full softmax is used.
    Evaluation always uses the full softmax and logs ``perplexity`` (exp of
    the token-weighted mean cross entropy; with two directions also
    ``forward_perplexity`` and ``backward_perplexity``); its memory is
    ``target tokens of a batch x vocabulary_size`` floats, so evaluate in
    small batches (a few rows of 200 tokens for 30k words).

    Args:
        vocabulary_size: int. Rows of the embedding and classes of the softmax (padding and "[UNK]" included).
        embedding_dim: int. Word vector size.
        units: int. LSTM units per direction (the classifier's ``hidden_dim``).
        direction: ``"forward"``, ``"backward"`` or both (a sequence).
        num_sampled: int. Negative ids per training step.
        predict_unknown: bool. Also predict "[UNK]" targets.
        word_vectors: optional float matrix [vocabulary_size, embedding_dim]: the initial embedding.
        seed: int. Seed of the sampled negatives (the weights follow Keras' global seed).
        **kwargs: standard `keras.Model` arguments (name, ...).

    Example:
    >>> import tf_aspmtl
    >>> lm = EncoderLanguageModel(vocabulary_size=50, embedding_dim=8, units=8, num_sampled=16)
    >>> lm.compile(optimizer=tf_aspmtl.LazyAdam(1e-2))
    >>> ids = np.array([[5, 6, 7, 8, 0], [9, 10, 11, 0, 0]])
    >>> _ = lm.fit(ids, batch_size=2, epochs=1, verbose=0)
    >>> lm(ids)["forward"].shape
    TensorShape([2, 5, 8])
    """

    def __init__(
        self,
        vocabulary_size: int,
        embedding_dim: int = 50,
        units: int = 100,
        direction: str | Sequence[str] = "forward",
        num_sampled: int = 512,
        predict_unknown: bool = False,
        word_vectors: np.ndarray | None = None,
        seed: int = 0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.directions = parse_directions(direction)
        if int(vocabulary_size) < 3 or int(embedding_dim) < 1 or int(units) < 1 or int(num_sampled) < 1:
            raise ValueError(
                "vocabulary_size must be >= 3 and embedding_dim, units, num_sampled >= 1; got "
                f"{vocabulary_size}, {embedding_dim}, {units}, {num_sampled}"
            )
        self.vocabulary_size = int(vocabulary_size)
        self.embedding_dim = int(embedding_dim)
        self.units = int(units)
        self.direction = self.directions[0] if len(self.directions) == 1 else list(self.directions)
        self.num_sampled = int(num_sampled)
        self.predict_unknown = bool(predict_unknown)
        self.seed = int(seed)
        self.embedding = SparseReadEmbedding(self.vocabulary_size, self.embedding_dim, name="embedding")
        self.forward_lstm = FusedLSTM(self.units, name="forward_lstm") if "forward" in self.directions else None
        self.backward_lstm = FusedLSTM(self.units, name="backward_lstm") if "backward" in self.directions else None
        self.perplexity = _Perplexity(name="perplexity")
        self.direction_perplexity = (
            {d: _Perplexity(name=f"{d}_perplexity") for d in self.directions} if len(self.directions) > 1 else {}
        )
        self._evaluation_metrics = ["perplexity"] + [f"{d}_perplexity" for d in self.direction_perplexity]
        self._training_step = True  # set by compute_loss while a step is traced
        self.build()
        if word_vectors is not None:
            self.set_word_vectors(word_vectors)

    def lstm(self, direction: str) -> FusedLSTM:
        """The FusedLSTM that reads ``direction``."""
        layer = self.forward_lstm if direction == "forward" else self.backward_lstm
        if layer is None:
            raise ValueError(f"This language model reads {list(self.directions)}, not {direction!r}")
        return layer

    def build(self, input_shape=None):
        if self.built:
            return
        self.embedding.build((None, None))
        for d in self.directions:
            self.lstm(d).build((None, None, self.embedding_dim))
        # The layout tf.nn.sampled_softmax_loss takes: one row per class.
        self.softmax_kernel = self.add_weight(
            shape=(self.vocabulary_size, self.units), initializer="glorot_uniform", name="softmax_kernel"
        )
        self.softmax_bias = self.add_weight(shape=(self.vocabulary_size,), initializer="zeros", name="softmax_bias")
        super().build(input_shape)

    def set_word_vectors(self, matrix: np.ndarray) -> None:
        """Initialises the embedding with ``matrix`` [vocabulary_size, embedding_dim]."""
        matrix = np.asarray(matrix, dtype="float32")
        expected = (self.vocabulary_size, self.embedding_dim)
        if matrix.shape != expected:
            raise ValueError(f"Word-vector matrix has shape {matrix.shape}; the language model expects {expected}")
        self.embedding.embeddings.assign(matrix)

    def set_unigram_bias(self, counts: np.ndarray) -> None:
        """Starts the output bias at the log unigram frequencies of ``counts`` [vocabulary_size] (add-one smoothed).

        With a sampled softmax, the logits of words that are seldom sampled
        barely move from their start; from a zero bias, every rare word keeps
        logit ~0 and the full softmax's normaliser is dominated by them (its
        perplexity then stays above a unigram model's). From the unigram
        bias, the untrained model already is the unigram model.
        """
        counts = np.asarray(counts, dtype=np.float64)
        if counts.shape != (self.vocabulary_size,):
            raise ValueError(f"counts has shape {counts.shape}; expected ({self.vocabulary_size},)")
        self.build()
        self.softmax_bias.assign(np.log((counts + 1.0) / (counts.sum() + len(counts))).astype("float32"))

    # ------------------------------------------------------------ forward
    def call(self, token_ids, training=None):
        """``{direction: hidden states [batch, length, units]}`` in each direction's reading order."""
        token_ids = tf.cast(token_ids, tf.int32)
        token_ids = tf.pad(token_ids, [[0, 0], [0, tf.maximum(0, 1 - tf.shape(token_ids)[1])]])
        outputs = {}
        for d in self.directions:
            embedded = self.embedding(reading_order(token_ids, d))
            outputs[d] = tf.transpose(self.lstm(d).states(embedded), [1, 0, 2])  # FusedLSTM is time-major
        return outputs

    # ---------------------------------------------------------- objective
    def _targets(self, token_ids, states, direction):
        """(hidden states [n, units] float32, target ids [n]) of the real target tokens of ``direction``."""
        ordered = reading_order(token_ids, direction)
        ordered = tf.pad(ordered, [[0, 0], [0, tf.maximum(0, 1 - tf.shape(ordered)[1])]])
        targets = ordered[:, 1:]
        keep = targets != PADDING_ID
        if not self.predict_unknown:
            keep = tf.logical_and(keep, targets != OOV_ID)
        hidden = tf.boolean_mask(tf.cast(states[:, :-1], tf.float32), keep)
        return hidden, tf.boolean_mask(targets, keep)

    def full_softmax_losses(self, hidden, targets):
        """Cross entropy of each target over the whole vocabulary: float32 [n]."""
        logits = tf.matmul(hidden, tf.cast(self.softmax_kernel, tf.float32), transpose_b=True)
        logits += tf.cast(self.softmax_bias, tf.float32)
        return tf.nn.sparse_softmax_cross_entropy_with_logits(labels=targets, logits=logits)

    def sampled_softmax_losses(self, hidden, targets, seed):
        """Sampled-softmax cross entropy of each target (``num_sampled`` shared negatives): float32 [n]."""
        targets = tf.cast(targets, tf.int64)[:, None]
        sampled, expected_count = _log_uniform_candidates(self.num_sampled, self.vocabulary_size, seed)
        # The variables themselves, so their gradients are row slices (LazyAdam moves only those rows).
        kernel = getattr(self.softmax_kernel, "value", self.softmax_kernel)
        bias = getattr(self.softmax_bias, "value", self.softmax_bias)
        return tf.nn.sampled_softmax_loss(
            weights=kernel, biases=bias, labels=targets, inputs=hidden, num_sampled=self.num_sampled,
            num_classes=self.vocabulary_size,
            sampled_values=(sampled, expected_count(targets), expected_count(sampled)),
            remove_accidental_hits=True,
        )

    def _step_seed(self, index: int) -> tf.Tensor:
        step = tf.cast(self.optimizer.iterations, tf.int64) if self.optimizer is not None else tf.constant(0, tf.int64)
        return tf.stack([tf.constant(self.seed, tf.int64), step * len(DIRECTIONS) + index])

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """Mean next-word cross entropy over the real target tokens (sampled softmax in training).

        With two directions, the mean of the two directions' losses. ``y``
        and ``sample_weight`` are not used: the targets are ``x`` shifted.
        In training under a strategy whose replicas each hold a slice of the
        global batch, the mean is over every replica's target tokens (their
        cross entropies are gathered; the sampled negatives are a function of
        the seed and the step, the same on every replica), and the total is
        scaled by ``1 / replicas`` as Keras' own losses are: the summed
        gradient and the logged loss are the global batch's.
        """
        self._training_step = bool(training)
        sampled = training and self.num_sampled < self.vocabulary_size
        per_direction = []
        for index, d in enumerate(self.directions):
            hidden, targets = self._targets(x, y_pred[d], d)
            if sampled:
                losses = self.sampled_softmax_losses(hidden, targets, self._step_seed(index))
            else:
                losses = self.full_softmax_losses(hidden, targets)
            if not training:
                self.perplexity.update_state(losses)
                if d in self.direction_perplexity:
                    self.direction_perplexity[d].update_state(losses)
            if training:  # under a strategy: every replica's target tokens (all_replica_rows; one process: as is)
                (losses,) = all_replica_rows([losses])
            count = tf.cast(tf.size(losses), tf.float32)
            per_direction.append(tf.math.divide_no_nan(tf.reduce_sum(losses), count))
        total = tf.add_n(per_direction) / float(len(per_direction))
        for extra in self.losses:
            total += tf.cast(tf.reduce_sum(extra), total.dtype)
        return replica_share(total)

    def compute_metrics(self, x, y, y_pred, sample_weight=None):
        """Every metric in evaluation; the perplexities (full softmax, evaluation only) are left out in training."""
        results = self.get_metrics_result()
        if self._training_step:
            results = {k: v for k, v in results.items() if k not in self._evaluation_metrics}
        return results

    def predict_step(self, data):
        x, _, _ = keras.utils.unpack_x_y_sample_weight(data)
        return self(x, training=False)

    # ------------------------------------------------------------- config
    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "vocabulary_size": self.vocabulary_size,
                "embedding_dim": self.embedding_dim,
                "units": self.units,
                "direction": self.direction,
                "num_sampled": self.num_sampled,
                "predict_unknown": self.predict_unknown,
                "seed": self.seed,
            }
        )
        return config
