"""Wide and deep: the shared/private n-gram linear path and ASP-MTL's encoders feed the same per-task heads."""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
import tensorflow as tf

from tf_aspmtl.layers.shared_private_sparse_linear import SharedPrivateSparseLinear
from tf_aspmtl.layers.sparse_linear_head import sparse_matmul
from tf_aspmtl.models.adversarial_shared_private_mtl import AdversarialSharedPrivateMTL
from tf_aspmtl.models.task import LOGITS, PROBABILITIES, ServingFunction
from tf_aspmtl.preprocessing.ngram_preprocessor import NGRAM_FEATURES
from tf_aspmtl.preprocessing.task_preprocessor import TASK, TASK_ID, TEXT, TOKEN_IDS, raw_inputs
from tf_aspmtl.preprocessing.wide_and_deep_preprocessor import WideAndDeepPreprocessor

WIDE_LOGITS = "wide_logits"
"""The wide path's part of the logits, among ``call``'s outputs."""


@keras.saving.register_keras_serializable(package="tf_aspmtl")
class WideAndDeepMTL(AdversarialSharedPrivateMTL):
    """ASP-MTL plus the shared/private n-gram linear model, summed into each task's logits and trained together.

    A row of task ``k`` with text ``t`` gets the logits
    ``head_k([shared(t); private_k(t)]) + c * x(t) (V_shared + V_private[k])``:
    the deep path is :class:`AdversarialSharedPrivateMTL`'s (embedding,
    shared and private encoders, task heads, discriminator), the wide path
    a :class:`~tf_aspmtl.layers.SharedPrivateSparseLinear` of the text's
    n-gram tf-idf ``x(t)`` (the split of
    :class:`~tf_aspmtl.models.SharedPrivateNgramClassifier`, its weights
    starting at zero). ``x(t)`` is what the preprocessor's
    :class:`~tf_aspmtl.preprocessing.NgramFeatures` gives: tf-idf, or, with
    ``weighting="nb"``, tf-idf scaled by each n-gram's naive-Bayes log-count
    ratio learnt from the train rows' labels (``--wide-feature-weighting nb``
    of the main job); the ratios are a weight of that layer, so a saved or
    exported model computes the same features from raw text. ``fit`` minimises the ASP-MTL objective
    (:class:`~tf_aspmtl.objective.MultiTaskObjective`) with the task loss
    of the summed logits; the adversarial and difference terms act on the
    deep path's features, the only ones they have. A word-vector
    perturbation (AT or VAT) moves the deep path's logits; the batch's wide
    logits are added to the perturbed ones unchanged (:meth:`perturbed_logits`).

    Learning rates: on FDU-MTL's 22,180 train rows the n-gram model chose
    epoch 17-19 at LazyAdam 1e-3 on batches of 64 (about 6,000 steps), the
    best LSTM configuration epoch 4-5 at 1e-3 on one-task batches of 16
    (about 7,000-9,000 steps): the wide path gets about the steps it needs
    at the deep path's rate and batches, so one rate may serve both.
    ``wide_learning_rate_multiplier`` (``c``) sets the wide path's rate
    relative to the optimizer's, with one optimizer for both paths (see
    :class:`~tf_aspmtl.layers.SharedPrivateSparseLinear`), to screen the
    balance on dev.

    ``fit``, ``evaluate`` and ``predict`` take raw rows, as every model does;
    prepared inputs are ``{"token_ids", "ngram_features", "task_id"}`` (what
    the :class:`~tf_aspmtl.preprocessing.WideAndDeepPreprocessor`'s datasets
    hold). ``call`` returns :class:`MultiTaskClassifier`'s outputs, the
    logits being the sum, and ``wide_logits``. A task's export runs the
    vectorizer, embedding, shared encoder, the task's private encoder and
    head, the n-gram features and one ``ngrams x classes`` matrix, the
    task's folded wide weights. :meth:`transfer` carries the deep path's
    shared space (its new model has no wide path).

    Args:
        preprocessor: a :class:`~tf_aspmtl.preprocessing.WideAndDeepPreprocessor` of at least two tasks.
        wide_learning_rate_multiplier: float > 0. The wide path's learning rate relative to the optimizer's.
        **kwargs: :class:`AdversarialSharedPrivateMTL`'s (``adversarial_weight``, ``difference_weight``,
            ``hidden_dim``, ``word_vectors``, the objective's settings, ``dropout``, ``seed``, name...).

    Example:
    >>> import pandas as pd
    >>> train = pd.DataFrame({"text": ["good book", "dull book", "great film", "bad film"],
    ...                       "task": ["books", "books", "dvd", "dvd"], "label": ["pos", "neg", "pos", "neg"]})
    >>> pre = WideAndDeepPreprocessor.from_frame(train, max_length=8)   # text, task, label columns
    >>> model = WideAndDeepMTL(pre, embedding_dim=4, hidden_dim=4, word_vectors="random")  # tiny, no GloVe
    >>> model.compile()
    >>> _ = model.fit({"text": train.text, "task": train.task}, train.label, batch_size=2, epochs=1, verbose=0)
    >>> sorted(model({"text": tf.constant(["good film"]), "task": tf.constant(["dvd"])}))
    ['discriminator_logits', 'logits', 'private', 'probabilities', 'shared', 'task_id', 'wide_logits']
    """

    takes_sparse_features = True

    def __init__(self, preprocessor=None, wide_learning_rate_multiplier: float = 1.0, **kwargs):
        if not isinstance(preprocessor, WideAndDeepPreprocessor):
            raise ValueError(f"{type(self).__name__} needs a WideAndDeepPreprocessor (token ids and n-gram "
                             f"features); got {type(preprocessor).__name__}")
        if isinstance(wide_learning_rate_multiplier, bool) or not np.isfinite(float(wide_learning_rate_multiplier)) \
                or float(wide_learning_rate_multiplier) <= 0:
            raise ValueError(f"wide_learning_rate_multiplier must be a finite number > 0; got "
                             f"{wide_learning_rate_multiplier!r}")
        self._wide_learning_rate_multiplier = float(wide_learning_rate_multiplier)  # build() reads it
        super().__init__(preprocessor, **kwargs)  # builds the model, the wide path last (build)

    def build(self, input_shape=None):
        if self.built:
            return
        super().build(input_shape)
        self.wide = SharedPrivateSparseLinear(self.preprocessor.ngram_vocabulary_size, self.num_classes,
                                              learning_rate_multiplier=self._wide_learning_rate_multiplier,
                                              name="wide")

    @property
    def wide_learning_rate_multiplier(self) -> float:
        return self.wide.learning_rate_multiplier

    # ----------------------------------------------------------- forward
    def _prepared(self, inputs) -> dict:
        """``{"token_ids", "ngram_features", "task_id"}`` of prepared or raw inputs."""
        if isinstance(inputs, dict) and all(k in inputs for k in (TOKEN_IDS, NGRAM_FEATURES, TASK_ID)):
            return inputs
        if isinstance(inputs, dict) and TEXT in inputs and (TASK in inputs or TASK_ID in inputs):
            return self.preprocessor(raw_inputs(inputs))
        got = sorted(inputs) if isinstance(inputs, dict) else type(inputs).__name__
        raise ValueError(f"{type(self).__name__} takes a dict with {TEXT!r} and {TASK!r} (raw) or {TOKEN_IDS!r}, "
                         f"{NGRAM_FEATURES!r} and {TASK_ID!r} (prepared); got {got}")

    def call(self, inputs, training=None, single_task_batch=None):
        prepared = self._prepared(inputs)
        outputs = super().call(prepared, training=training, single_task_batch=single_task_batch)
        wide = self.wide(prepared[NGRAM_FEATURES], outputs[TASK_ID])
        logits = outputs[LOGITS] + tf.cast(wide, outputs[LOGITS].dtype)
        outputs.update({LOGITS: logits, PROBABILITIES: tf.nn.softmax(logits), WIDE_LOGITS: wide})
        return outputs

    def perturbed_logits(self, embedded, mask, task_ids, y_pred, training=None) -> tf.Tensor:
        """The deep path's logits at the perturbed word vectors plus the batch's wide logits, which they do not reach."""
        logits = super().perturbed_logits(embedded, mask, task_ids, y_pred, training)
        return logits + tf.cast(y_pred[WIDE_LOGITS], logits.dtype)

    # ----------------------------------------------------------- serving
    def serving_logits(self, texts: tf.Tensor, task_index: int, chunk_rows: int | None = None) -> tf.Tensor:
        """Both paths' logits [batch, num_classes(task)] of raw texts of one task. It reads every task's wide
        weights; a served graph holds the task's folded ones instead (:meth:`serving_function`)."""
        k = self.task_id(task_index)
        texts = tf.reshape(texts, [-1])
        deep = super().serving_logits(texts, k, chunk_rows)
        wide = sparse_matmul(self.preprocessor.ngram_features(texts), self.wide.task_kernel(k))
        return deep + tf.cast(wide, deep.dtype)

    def serving_function(self, task_index: int, chunk_rows: int | None = None) -> ServingFunction:
        """The deep path's served layers (:meth:`MultiTaskClassifier.serving_function`), the n-gram features and
        the task's wide weights folded into one matrix (built from the current weights)."""
        k = self.task_id(task_index)
        deep = super().serving_function(k, chunk_rows)
        deep_logits = super().serving_logits
        head = self.wide.task_head(k, name=f"{self.name}_{self.task_names[k]}_wide_head")
        features = self.preprocessor.ngram_features
        if not features.built:  # a loaded model that was never called: one call builds it
            features(tf.constant([""]))

        def probabilities(texts: tf.Tensor) -> tf.Tensor:
            texts = tf.reshape(texts, [-1])
            logits = deep_logits(texts, k, chunk_rows)
            return tf.nn.softmax(logits + tf.cast(head(features(texts)), logits.dtype))

        return ServingFunction(probabilities, deep.layers + (features, head))

    def serving_info(self, is_multitask: bool) -> dict[str, Any]:
        features = self.preprocessor.ngram_features
        weighting = " scaled by NB log-count ratios" if features.weighting == "nb" else ""
        return {**super().serving_info(is_multitask), "features": f"token ids and word n-gram tf-idf{weighting}",
                "ngrams": features.ngrams, "ngram_vocabulary_size": features.vocabulary_size}

    # ------------------------------------------------------------ config
    def get_config(self):
        config = super().get_config()
        config["wide_learning_rate_multiplier"] = self.wide_learning_rate_multiplier
        return config

