"""The shared-private multi-task text classifier: a backbone, per-task heads, the adversary and the objective.

One class covers the paper's families; :mod:`tf_aspmtl.models.families`
fixes its switches:

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

import os
from typing import Any, Mapping, Sequence

import keras
import numpy as np
import pandas as pd
import tensorflow as tf

from tf_aspmtl.data.pipeline import make_eval_dataset, make_training_dataset
from tf_aspmtl.embedding_perturbation import (
    EMBEDDING_PERTURBATIONS,
    adversarial_perturbation,
    kl_divergence,
    virtual_adversarial_perturbation,
)
from tf_aspmtl.layers.gradient_reversal import GradientReversal
from tf_aspmtl.layers.task_heads import TaskHeads
from tf_aspmtl.losses import (
    DIFFERENCE_NORMALIZATIONS,
    adversarial_loss,
    confusion_loss,
    difference_loss,
    task_loss,
)
from tf_aspmtl.metrics import PerTaskAccuracy
from tf_aspmtl.models.shared_private_backbone import FEATURES, PRIVATE, SHARED, SharedPrivateBackbone
from tf_aspmtl.optimizers import compile_from_saved_config, resolve_optimizer
from tf_aspmtl.preprocessing.multitask_preprocessor import TASK, TASK_ID, TEXT, TOKEN_IDS, MultiTaskPreprocessor
from tf_aspmtl.preprocessing.text_vectorizer import TextVectorizer

ADVERSARIAL_OBJECTIVES = ("reversal", "confusion")
WORD_VECTORS = ("glove", "random")
FREEZABLE = ("embedding", "shared_encoder")
TRANSFER_MODES = ("sc", "bc")
PROBABILITIES = "probabilities"
LOGITS = "logits"
DISCRIMINATOR_LOGITS = "discriminator_logits"
CONFUSION_LOGITS = "confusion_logits"


def _is_raw_arrays(x) -> bool:
    return isinstance(x, Mapping) and TEXT in x and TASK in x


@keras.saving.register_keras_serializable(package="tf_aspmtl")
class MultiTaskClassifier(keras.Model):
    """Shared and/or private encoders, per-task heads, optional adversary and difference loss.

    Build it from a :class:`~tf_aspmtl.preprocessing.MultiTaskPreprocessor`
    and it takes raw rows: ``fit``, ``evaluate`` and ``predict`` accept
    ``{"text": [...], "task": [...]}`` and raw labels (strings or ints, as
    in the data), and build one-task batches inside. Prepared inputs work
    too: ``{"token_ids": int [batch, length], "task_id": int [batch]}`` with
    int class ids (tf.data batches that hold one task each for ``fit``).

    ``call`` returns one dict: ``probabilities`` [batch, max_classes] (a task
    with fewer classes gets 0 on the others), ``logits``, ``task_ids``, the
    ``shared`` and ``private`` features when those encoders exist, and the
    discriminator's logits in ASP-MTL. ``predict`` returns the probabilities.

    The objective, in :meth:`compute_loss`, is
    ``sum_k alpha_k L_task_k + lambda L_adv + gamma L_diff``
    (``task_weights``, ``adversarial_weight``, ``difference_weight``),
    plus ``beta L_perturbation`` with an ``embedding_perturbation``; the
    min-max of the adversarial term is one minimisation through a
    gradient-reversal layer between the shared feature and the
    discriminator. Training is Keras' own ``train_step``: ``compute_loss``,
    then ``optimizer.scale_loss``, so mixed precision and ``loss_scale_factor`` work.
    Labels are class ids; -1 marks an unlabelled row, which feeds only the
    adversarial and difference terms.

    Args:
        preprocessor: :class:`MultiTaskPreprocessor` (tasks, classes,
            vocabulary), or, for prepared inputs only, a sequence of task names.
        num_classes: int or sequence of int. Classes per task (taken from
            the preprocessor when there is one).
        vocabulary_size: int. Rows of the word embedding (the preprocessor's
            vocabulary size when there is one).
        embedding_dim: int. Word vector size.
        encoder: str. ``"lstm"``, ``"bilstm"`` or ``"cnn"``.
        hidden_dim: int. Encoder size (LSTM units per direction, CNN filters per width).
        use_shared: bool. Build the shared encoder.
        use_private: bool. Build one private encoder per task.
        adversarial_weight: float. lambda; > 0 builds the task discriminator.
        difference_weight: float. gamma; > 0 needs both encoders.
        task_weights: optional sequence of float. alpha_k (1 each by default).
        difference_normalization: str. See :func:`tf_aspmtl.losses.difference_loss`.
        dropout: float. Dropout on the features the heads read.
        per_task_metrics: bool. Log ``acc_<task>`` for every task.
        gradient_reversal_scale: float. Factor of the reversed gradient the
            shared encoder gets from the discriminator (1: the paper's min-max).
        adversarial_objective: str. ``"reversal"`` (the paper: the encoder
            maximises the discriminator's cross entropy) or ``"confusion"``
            (the encoder pushes the discriminator's output toward uniform).
        class_names: optional per-task class names (default: the
            preprocessor's classes, else the ids as strings).
        word_vectors: ``"glove"`` (GloVe 6B 50-d for the preprocessor's
            vocabulary; the default when there is a preprocessor and
            ``embedding_dim`` is 50), ``"random"``, or a matrix
            [vocabulary_size, embedding_dim].
        frozen: sequence of ``"embedding"`` and ``"shared_encoder"``: backbone
            parts that ``fit`` does not train (transfer).
        seed: optional int. Seed of the random rows of the GloVe matrix and of
            the batch order when ``fit`` builds the batches.
        embedding_perturbation: str. ``"none"`` (default), ``"adversarial"``
            (AT) or ``"virtual"`` (VAT): a perturbation of the word vectors
            and its loss term ``perturbation_loss`` (Miyato, Dai & Goodfellow,
            ICLR 2017; :mod:`tf_aspmtl.embedding_perturbation`). AT: the task
            loss of the labelled rows at the word vectors plus ``r_adv``, the
            loss's normalised gradient. VAT: ``KL(p(x) || p(x + r_vadv))`` over
            every row, unlabelled ones (label -1) included, with ``r_vadv``
            from one power iteration. The perturbed passes run the same
            encoders, dropout and heads as the clean one: two more forward
            and backward passes through the encoders (one for the direction,
            one for the term), about 2.5 times the step time of ``"none"``;
            ``evaluate`` computes the term too.
        perturbation_weight: float. beta, the weight of ``perturbation_loss``.
        perturbation_norm: float. epsilon: the L2 norm of each row's
            perturbation over its whole ``[length, dim]`` sequence of real
            tokens (as in the paper; padding gets none). The word vectors are
            not normalised first (the paper normalises them): GloVe 50-d
            vectors have norms of about 4 to 6 per word.
        vat_xi: float. xi, the norm of VAT's finite-difference step (per
            row, like epsilon). 0.1 as in Miyato et al.'s code: in float32,
            1e-6 moves a 200-token, 50-d text by less than rounding and gives
            many rows no or a wrongly signed direction.
        **kwargs: standard `keras.Model` arguments (name, ...).

    Example:
    >>> frame = pd.DataFrame({"text": ["good book", "bad film", "great read", "awful"],
    ...                       "task": ["books", "dvd", "books", "dvd"], "label": ["pos", "neg", "neg", "pos"]})
    >>> pre = MultiTaskPreprocessor.from_frame(frame, max_length=8)
    >>> model = MultiTaskClassifier(pre, hidden_dim=4, use_private=True, word_vectors="random")
    >>> model.compile()
    >>> _ = model.fit({"text": frame.text, "task": frame.task}, frame.label, batch_size=2, verbose=0)
    >>> model.predict({"text": ["good film"], "task": ["dvd"]}, verbose=0).shape
    (1, 2)
    """

    def __init__(
        self,
        preprocessor: MultiTaskPreprocessor | Sequence[str] | None = None,
        num_classes: int | Sequence[int] | None = None,
        vocabulary_size: int | None = None,
        embedding_dim: int = 50,
        encoder: str = "lstm",
        hidden_dim: int = 100,
        use_shared: bool = True,
        use_private: bool = False,
        adversarial_weight: float = 0.0,
        difference_weight: float = 0.0,
        task_weights: Sequence[float] | None = None,
        difference_normalization: str = "normalized",
        dropout: float = 0.0,
        per_task_metrics: bool = True,
        gradient_reversal_scale: float = 1.0,
        adversarial_objective: str = "reversal",
        class_names: Sequence[Sequence[str]] | None = None,
        word_vectors: str | np.ndarray | None = None,
        frozen: Sequence[str] = (),
        seed: int | None = None,
        task_names: Sequence[str] | None = None,
        text_vectorizer: TextVectorizer | None = None,
        embedding_perturbation: str = "none",
        perturbation_weight: float = 1.0,
        perturbation_norm: float = 1.0,
        vat_xi: float = 0.1,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if word_vectors is None and not isinstance(preprocessor, MultiTaskPreprocessor):
            word_vectors = "random"
        preprocessor, task_names = self._resolve_preprocessor(
            preprocessor, task_names, num_classes, class_names, text_vectorizer
        )
        self.preprocessor = preprocessor
        self.task_names = task_names
        k = len(self.task_names)
        if preprocessor is not None:
            num_classes = preprocessor.num_classes
            class_names = preprocessor.class_names if class_names is None else class_names
            adapted = preprocessor.vocabulary_size > 2  # padding and OOV only: not adapted (yet)
            if adapted and vocabulary_size is not None and int(vocabulary_size) != preprocessor.vocabulary_size:
                raise ValueError(
                    f"vocabulary_size={vocabulary_size} but the preprocessor's vocabulary has "
                    f"{preprocessor.vocabulary_size} entries"
                )
            if adapted or vocabulary_size is None:
                vocabulary_size = preprocessor.vocabulary_size
        if num_classes is None:
            num_classes = 2
        if isinstance(num_classes, (int, np.integer)):
            num_classes = [int(num_classes)] * k
        self.num_classes = [int(c) for c in num_classes]
        if len(self.num_classes) != k:
            raise ValueError(f"num_classes has {len(self.num_classes)} entries for {k} tasks")
        for name, value in (("adversarial_weight", adversarial_weight), ("difference_weight", difference_weight),
                            ("dropout", dropout), ("gradient_reversal_scale", gradient_reversal_scale)):
            if not np.isfinite(float(value)):
                raise ValueError(f"{name} must be a finite number; got {value!r}")
        if adversarial_weight < 0 or difference_weight < 0:
            raise ValueError(
                f"Loss weights must be >= 0; got adversarial_weight={adversarial_weight}, "
                f"difference_weight={difference_weight}"
            )
        if not 0.0 <= float(dropout) < 1.0:
            raise ValueError(f"dropout must be in [0, 1); got {dropout}")
        if adversarial_weight > 0 and not use_shared:
            raise ValueError("adversarial_weight > 0 needs the shared encoder (use_shared=True).")
        if adversarial_weight > 0 and k < 2:
            raise ValueError("adversarial_weight > 0 needs at least 2 tasks to discriminate.")
        if difference_weight > 0 and not (use_shared and use_private):
            raise ValueError("difference_weight > 0 needs both shared and private encoders.")
        self.check_loss_options(difference_normalization, adversarial_objective)
        self._check_perturbation(embedding_perturbation, perturbation_weight, perturbation_norm, vat_xi)
        if class_names is None:
            class_names = [[str(i) for i in range(c)] for c in self.num_classes]
        self.class_names = [[str(n) for n in names] for names in class_names]
        if [len(n) for n in self.class_names] != self.num_classes:
            raise ValueError(
                f"class_names has {[len(n) for n in self.class_names]} names per task; "
                f"num_classes is {self.num_classes}"
            )
        if task_weights is not None and len(task_weights) != k:
            raise ValueError(f"task_weights has {len(task_weights)} entries for {k} tasks")
        unknown = sorted(set(frozen) - set(FREEZABLE))
        if unknown:
            raise ValueError(f"frozen names unknown parts {unknown}; expected some of {list(FREEZABLE)}")

        self.vocabulary_size = int(30000 if vocabulary_size is None else vocabulary_size)
        self.embedding_dim = int(embedding_dim)
        self.encoder = encoder
        self.hidden_dim = int(hidden_dim)
        self.use_shared = bool(use_shared)
        self.use_private = bool(use_private)
        self.adversarial_weight = float(adversarial_weight)
        self.difference_weight = float(difference_weight)
        self.task_weights = None if task_weights is None else [float(w) for w in task_weights]
        self.difference_normalization = difference_normalization
        self.dropout = float(dropout)
        self.per_task_metrics = bool(per_task_metrics)
        self.gradient_reversal_scale = float(gradient_reversal_scale)
        self.adversarial_objective = adversarial_objective
        self.frozen = [str(f) for f in frozen]
        self.seed = None if seed is None else int(seed)
        self.embedding_perturbation = embedding_perturbation
        self.perturbation_weight = float(perturbation_weight)
        self.perturbation_norm = float(perturbation_norm)
        self.vat_xi = float(vat_xi)

        # Creation order (embedding, shared, private, heads, discriminator) fixes the initial weights.
        self.backbone = SharedPrivateBackbone(
            k, self.vocabulary_size, self.embedding_dim, encoder, self.hidden_dim,
            use_shared=self.use_shared, use_private=self.use_private, name="backbone",
        )
        self.feature_dropout = keras.layers.Dropout(self.dropout, name="feature_dropout")
        self.heads = TaskHeads(self.num_classes, name="task_heads")
        self.discriminator = None
        if self.adversarial_weight > 0:
            self.gradient_reversal = GradientReversal(self.gradient_reversal_scale, name="gradient_reversal")
            self.discriminator = keras.layers.Dense(k, name="task_discriminator")

        self.task_loss_tracker = keras.metrics.Mean(name="task_loss")
        if self.discriminator is not None:
            self.adv_loss_tracker = keras.metrics.Mean(name="adv_loss")
            self.discriminator_accuracy = keras.metrics.SparseCategoricalAccuracy(name="discriminator_accuracy")
            if self.adversarial_objective == "confusion":
                self.confusion_loss_tracker = keras.metrics.Mean(name="confusion_loss")
        if self.difference_weight > 0:
            self.diff_loss_tracker = keras.metrics.Mean(name="diff_loss")
        if self.embedding_perturbation != "none":
            self.perturbation_loss_tracker = keras.metrics.Mean(name="perturbation_loss")
        self.task_accuracy = PerTaskAccuracy(self.task_names, per_task=self.per_task_metrics)
        # A subclassed model is built on its first call; everything here has
        # known shapes, so build now (BackupAndRestore, set_word_vectors and
        # summary need the weights before fit).
        self.build()
        for part in self.frozen:
            getattr(self.backbone, part).trainable = False
        self._init_word_vectors(word_vectors)

    # ------------------------------------------------------------ set-up
    @staticmethod
    def _resolve_preprocessor(preprocessor, task_names, num_classes, class_names, text_vectorizer):
        """(MultiTaskPreprocessor or None, task names) from the first argument, ``task_names`` and ``text_vectorizer``."""
        if isinstance(preprocessor, MultiTaskPreprocessor):
            if task_names is not None and list(task_names) != preprocessor.task_names:
                raise ValueError(f"task_names {list(task_names)} differ from the preprocessor's {preprocessor.task_names}")
            if text_vectorizer is not None:
                raise ValueError("Pass a MultiTaskPreprocessor or a text_vectorizer, not both.")
            return preprocessor, list(preprocessor.task_names)
        if isinstance(preprocessor, TextVectorizer):
            raise ValueError("Pass a TextVectorizer as text_vectorizer= (with the task names first), or a "
                             "MultiTaskPreprocessor as the first argument.")
        if text_vectorizer is not None:  # task names + a bare vectorizer: labels are class ids
            names = [str(t) for t in (task_names if task_names is not None else preprocessor or [])]
            if preprocessor is not None and task_names is not None:
                raise ValueError("Pass the task names once: as the first argument or as task_names.")
            if not names:
                raise ValueError("A model built on a text_vectorizer needs the task names.")
            counts = num_classes if num_classes is not None else 2
            counts = [int(counts)] * len(names) if isinstance(counts, (int, np.integer)) else list(counts)
            classes = class_names if class_names is not None else [[str(i) for i in range(c)] for c in counts]
            return MultiTaskPreprocessor(names, dict(zip(names, classes)), text_vectorizer=text_vectorizer,
                                         name="preprocessor"), names
        if preprocessor is not None and not isinstance(preprocessor, (str, bytes)):
            if task_names is not None:
                raise ValueError("Pass the task names once: as the first argument or as task_names.")
            task_names = list(preprocessor)
        elif preprocessor is not None:
            raise ValueError(f"The first argument must be a MultiTaskPreprocessor or a list of task names; got {preprocessor!r}")
        if not task_names:
            raise ValueError("Give a MultiTaskPreprocessor (or, for prepared inputs, a list of task names).")
        names = [str(t) for t in task_names]
        if len(set(names)) != len(names):
            raise ValueError(f"task_names must be unique; got {names}")
        return None, names

    @staticmethod
    def check_loss_options(difference_normalization: str, adversarial_objective: str) -> None:
        """Raises ``ValueError`` naming the option if either is not one this model knows.

        Shared with the tuning hypermodel, which checks them before a search starts.
        """
        if difference_normalization not in DIFFERENCE_NORMALIZATIONS:
            raise ValueError(
                f"Unknown difference_normalization {difference_normalization!r}; "
                f"expected one of {list(DIFFERENCE_NORMALIZATIONS)}"
            )
        if adversarial_objective not in ADVERSARIAL_OBJECTIVES:
            raise ValueError(
                f"Unknown adversarial_objective {adversarial_objective!r}; "
                f"expected one of {list(ADVERSARIAL_OBJECTIVES)}"
            )

    @staticmethod
    def _check_perturbation(kind, weight, norm, xi) -> None:
        if kind not in EMBEDDING_PERTURBATIONS:
            raise ValueError(
                f"Unknown embedding_perturbation {kind!r}; expected one of {list(EMBEDDING_PERTURBATIONS)}"
            )
        for name, value, strict in (("perturbation_weight", weight, False), ("perturbation_norm", norm, True),
                                    ("vat_xi", xi, True)):
            if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
                raise ValueError(f"{name} must be a number; got {value!r}")
            if not np.isfinite(float(value)) or value < 0 or (strict and value == 0):
                raise ValueError(f"{name} must be a finite number {'>' if strict else '>='} 0; got {value!r}")

    def _init_word_vectors(self, word_vectors) -> None:
        if word_vectors is None:
            word_vectors = "glove" if self.preprocessor is not None and self.embedding_dim == 50 else "random"
        if isinstance(word_vectors, str):
            if word_vectors not in WORD_VECTORS:
                raise ValueError(f"Unknown word_vectors {word_vectors!r}; expected one of {list(WORD_VECTORS)} or a matrix")
            if word_vectors == "random":
                return
            if self.preprocessor is None or self.embedding_dim != 50:
                raise ValueError("word_vectors='glove' needs a preprocessor and embedding_dim=50 (GloVe 6B 50-d).")
            from tf_aspmtl.preprocessing.word_vectors import glove_embedding_matrix

            word_vectors, _ = glove_embedding_matrix(self.preprocessor.text_vectorizer, seed=self.seed or 0)
        self.set_word_vectors(word_vectors)

    # ------------------------------------------------------------ layout
    @property
    def num_tasks(self) -> int:
        return len(self.task_names)

    @property
    def embedding(self):
        return self.backbone.embedding

    @property
    def shared_encoder(self):
        return self.backbone.shared_encoder

    @property
    def private_encoders(self):
        return self.backbone.private_encoders

    @property
    def feature_dim(self) -> int:
        """Size of the feature the heads read."""
        return self.backbone.feature_dim

    def build(self, input_shape=None):
        if self.built:
            return
        self.backbone.build()
        self.heads.build((None, self.feature_dim))
        if self.discriminator is not None:
            self.discriminator.build((None, self.backbone.encoder_dim))
        super().build(input_shape)

    def set_word_vectors(self, matrix: np.ndarray) -> None:
        """Initialises the word embedding with ``matrix`` [vocabulary_size, embedding_dim]."""
        self.backbone.set_word_vectors(matrix)

    # ----------------------------------------------------------- forward
    def _ids(self, inputs):
        """(token ids, task ids) of prepared or raw inputs."""
        if not isinstance(inputs, Mapping):
            raise ValueError(
                f"{type(self).__name__} takes a dict with {TEXT!r} and {TASK!r} (raw) or {TOKEN_IDS!r} and "
                f"{TASK_ID!r} (prepared); got {type(inputs).__name__}"
            )
        if TOKEN_IDS in inputs and TASK_ID in inputs:
            return inputs[TOKEN_IDS], inputs[TASK_ID]
        if TEXT in inputs and (TASK in inputs or TASK_ID in inputs):
            if self.preprocessor is None:
                raise ValueError(
                    "Got raw 'text' but the model has no preprocessor; pass 'token_ids' or build the model "
                    "from a MultiTaskPreprocessor."
                )
            task = inputs[TASK] if TASK in inputs else inputs[TASK_ID]
            prepared = self.preprocessor({TEXT: inputs[TEXT], TASK: task})
            return prepared[TOKEN_IDS], prepared[TASK_ID]
        raise ValueError(
            f"Inputs need {TEXT!r} and {TASK!r}, or {TOKEN_IDS!r} and {TASK_ID!r}; got keys {sorted(inputs)}"
        )

    def call(self, inputs, training=None, single_task_batch=None):
        """One dict per batch (see the class docstring).

        Args:
            inputs: dict of raw or prepared inputs.
            training: bool.
            single_task_batch: bool or None. Promise (checked) that all rows
                share a task; None means ``training`` (training batches hold
                one task each).
        """
        token_ids, task_ids = self._ids(inputs)
        task_ids = tf.cast(tf.reshape(task_ids, [-1]), tf.int32)
        single = bool(training) if single_task_batch is None else single_task_batch
        features = self.backbone(token_ids, task_ids, training=training, single_task_batch=single)
        logits = self._head_logits(features, task_ids, training)
        outputs = {PROBABILITIES: tf.nn.softmax(logits), LOGITS: logits, TASK_ID: task_ids}
        for key in (SHARED, PRIVATE):
            if key in features:
                outputs[key] = features[key]
        if self.discriminator is not None:
            shared = features[SHARED]
            if self.adversarial_objective == "reversal":
                outputs[DISCRIMINATOR_LOGITS] = self.discriminator(self.gradient_reversal(shared))
            else:
                # The discriminator learns from features it cannot change; the
                # encoder learns through a frozen copy of the discriminator.
                outputs[DISCRIMINATOR_LOGITS] = self.discriminator(tf.stop_gradient(shared))
                outputs[CONFUSION_LOGITS] = tf.matmul(
                    shared, tf.stop_gradient(self.discriminator.kernel)
                ) + tf.stop_gradient(self.discriminator.bias)
        return outputs

    def _head_logits(self, features, task_ids, training):
        return self.heads(self.feature_dropout(features[FEATURES], training=training), task_ids)

    def logits_from_embedded(self, embedded, mask, task_ids, training=None, single_task_batch=False) -> tf.Tensor:
        """Logits [batch, max_classes] of word vectors: :meth:`call`'s path from the embedding output on.

        The backbone's encoders (:meth:`SharedPrivateBackbone.encode`), the
        feature dropout and the task heads; the perturbed passes of
        ``embedding_perturbation`` run through it.

        Args:
            embedded: float [batch, length, embedding_dim]. Word vectors (perturbed or not).
            mask: bool [batch, length]. True on real tokens.
            task_ids: int [batch].
            training: bool.
            single_task_batch: bool. As in :meth:`call`.
        """
        task_ids = tf.cast(tf.reshape(task_ids, [-1]), tf.int32)
        features = self.backbone.encode(
            embedded, mask, task_ids, training=training, single_task_batch=single_task_batch
        )
        return self._head_logits(features, task_ids, training)

    def task_logits(self, token_ids, task: str | int) -> tf.Tensor:
        """Logits [batch, num_classes(task)] of rows that all belong to ``task`` (inference, serving).

        The arithmetic of ``call`` without the per-row dispatch: only the
        shared encoder, this task's private encoder and this task's head.
        """
        k = self.task_id(task)
        features = self.backbone.task_features(token_ids, k)[FEATURES]
        classes = self.num_classes[k]
        kernel = tf.convert_to_tensor(self.heads.kernel)[k, :, :classes]
        bias = tf.convert_to_tensor(self.heads.bias)[k, :classes]
        return tf.matmul(features, tf.cast(kernel, features.dtype)) + tf.cast(bias, features.dtype)

    # --------------------------------------------------------- objective
    def loss_terms(self, y, y_pred, sample_weight=None, x=None, training=True) -> dict[str, tf.Tensor]:
        """Each term of the objective (unweighted) and ``loss``, their weighted sum.

        ``perturbation_loss`` (see :meth:`perturbation_loss`) is a term when the
        model has an ``embedding_perturbation`` and the inputs ``x`` are given.
        """
        task_ids = y_pred[TASK_ID]
        logits = tf.cast(y_pred[LOGITS], tf.float32)
        terms = {"task_loss": task_loss(y, logits, task_ids, self.task_weights, sample_weight)}
        total = terms["task_loss"]
        if self.discriminator is not None:
            terms["adv_loss"] = adversarial_loss(task_ids, tf.cast(y_pred[DISCRIMINATOR_LOGITS], tf.float32))
            total += self.adversarial_weight * terms["adv_loss"]
            if CONFUSION_LOGITS in y_pred:
                terms["confusion_loss"] = confusion_loss(tf.cast(y_pred[CONFUSION_LOGITS], tf.float32))
                total += self.adversarial_weight * terms["confusion_loss"]
        if self.difference_weight > 0:
            terms["diff_loss"] = difference_loss(
                tf.cast(y_pred[SHARED], tf.float32), tf.cast(y_pred[PRIVATE], tf.float32), task_ids,
                self.difference_normalization,
            )
            total += self.difference_weight * terms["diff_loss"]
        if self.embedding_perturbation != "none" and x is not None:
            terms["perturbation_loss"] = self.perturbation_loss(x, y, y_pred, sample_weight, training)
            total += self.perturbation_weight * terms["perturbation_loss"]
        terms["loss"] = total
        return terms

    def perturbation_loss(self, x, y, y_pred, sample_weight=None, training=True) -> tf.Tensor:
        """The ``embedding_perturbation`` term: AT's task loss at ``x + r_adv`` or VAT's ``KL(p(x) || p(x + r_vadv))``.

        The word vectors of ``x`` are looked up again and the perturbed
        passes run :meth:`logits_from_embedded` (encoders, dropout, heads),
        so the term's gradient reaches every weight the clean pass does,
        the embedding included; the perturbations themselves are constants.
        AT uses the labelled rows (weighted as the task loss); VAT uses every
        row, label -1 included, with ``y_pred``'s logits as ``p(x)``.

        Args:
            x: the model's inputs (prepared or raw).
            y: int [batch]. Class ids, -1 for unlabelled rows.
            y_pred: :meth:`call`'s output for ``x``.
            sample_weight: optional float [batch] (AT only).
            training: bool. Dropout in the perturbed passes, as in the clean one.
        """
        token_ids, task_ids = self._ids(x)
        task_ids = tf.cast(tf.reshape(task_ids, [-1]), tf.int32)
        embedded, mask = self.backbone.embed(token_ids)
        single = bool(training)
        optimizer = getattr(self, "optimizer", None)
        scale_loss = None if optimizer is None else optimizer.scale_loss

        def logits_at(vectors):
            return self.logits_from_embedded(vectors, mask, task_ids, training=training, single_task_batch=single)

        if self.embedding_perturbation == "adversarial":
            def loss_at(vectors):
                logits = tf.cast(logits_at(vectors), tf.float32)
                return task_loss(y, logits, task_ids, self.task_weights, sample_weight)

            r_adv = adversarial_perturbation(loss_at, embedded, mask, self.perturbation_norm, scale_loss)
            return loss_at(embedded + r_adv)
        r_vadv = virtual_adversarial_perturbation(
            logits_at, y_pred[LOGITS], embedded, mask, self.perturbation_norm, self.vat_xi, scale_loss
        )
        return kl_divergence(y_pred[LOGITS], logits_at(embedded + r_vadv))

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """``sum_k alpha_k L_task_k + lambda L_adv + gamma L_diff (+ beta L_perturbation)``; updates the trackers."""
        terms = self.loss_terms(y, y_pred, sample_weight, x=x, training=training)
        rows = tf.cast(tf.size(y_pred[TASK_ID]), tf.float32)
        labelled = tf.reduce_sum(tf.cast(tf.reshape(y, [-1]) >= 0, tf.float32))
        # Weighted by rows, as Keras does, so the epoch value is a per-row mean.
        self.task_loss_tracker.update_state(terms["task_loss"], sample_weight=labelled)
        for name in ("adv_loss", "confusion_loss", "diff_loss"):
            if name in terms:
                getattr(self, name.replace("_loss", "_loss_tracker")).update_state(terms[name], sample_weight=rows)
        if "perturbation_loss" in terms:  # AT: a mean over labelled rows; VAT: over all rows
            per = labelled if self.embedding_perturbation == "adversarial" else rows
            self.perturbation_loss_tracker.update_state(terms["perturbation_loss"], sample_weight=per)
        total = terms["loss"]
        for extra in self.losses:  # regularisers, add_loss
            total += tf.cast(tf.reduce_sum(extra), total.dtype)
        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        if replicas > 1:  # each replica's gradient is summed, as Keras' own losses assume
            total = total * (1.0 / replicas)
        return total

    def compute_metrics(self, x, y, y_pred, sample_weight=None):
        if self.discriminator is not None:
            self.discriminator_accuracy.update_state(y_pred[TASK_ID], y_pred[DISCRIMINATOR_LOGITS])
        self.task_accuracy.update_state(y, y_pred[LOGITS], y_pred[TASK_ID], sample_weight)
        return self.get_metrics_result()

    def predict_step(self, data):
        x, _, _ = keras.utils.unpack_x_y_sample_weight(data)
        return self(x, training=False)[PROBABILITIES]

    # ------------------------------------------------- raw-data training
    def compile(self, optimizer=None, learning_rate: float = 1e-3, **kwargs):
        """Compiles with LazyAdam(``learning_rate``) unless ``optimizer`` is given.

        Args:
            optimizer: None (LazyAdam), a name in :data:`tf_aspmtl.optimizers.OPTIMIZERS`
                (``"lazy-adam"``, ``"adam"``) or any Keras optimizer.
            learning_rate: float. Used when ``optimizer`` is None or a name.
            **kwargs: passed to ``keras.Model.compile`` (``loss`` is not
                used: the objective is :meth:`compute_loss`).
        """
        super().compile(optimizer=resolve_optimizer(optimizer, learning_rate), **kwargs)

    def compile_from_config(self, config):
        """Recompiles a loaded model with its saved optimizer (and its state, restored after)."""
        compile_from_saved_config(self, config)

    def _frame(self, x, y=None, where: str = "x") -> pd.DataFrame:
        """Raw ``{"text", "task"}`` arrays (and raw labels) as a frame of task names, texts and class ids."""
        if self.preprocessor is None:
            raise ValueError("Raw text needs a model built from a MultiTaskPreprocessor.")
        texts = [t if isinstance(t, (str, bytes)) else str(t) for t in list(x[TEXT])]
        tasks = list(x[TASK])
        if len(texts) != len(tasks):
            raise ValueError(f"{where}: {len(texts)} texts but {len(tasks)} tasks")
        task_ids = self.preprocessor.task_ids(tasks)
        frame = pd.DataFrame({"task": [self.task_names[i] for i in task_ids], "text": texts})
        if y is not None:
            labels = list(y)
            if len(labels) != len(texts):
                raise ValueError(f"{where}: {len(texts)} texts but {len(labels)} labels")
            frame["label"] = self.preprocessor.encode_labels(task_ids, labels)
        return frame

    def _eval_dataset(self, x, y, batch_size, where):
        frame = self._frame(x, y, where)
        return make_eval_dataset(frame, self.preprocessor.text_vectorizer, self.task_names, batch_size=batch_size)

    def fit(
        self,
        x=None,
        y=None,
        batch_size: int | None = None,
        epochs: int = 1,
        validation_data=None,
        sampling: str = "proportional",
        unlabeled: Mapping[str, Sequence] | None = None,
        unlabeled_fraction: float = 0.0,
        **kwargs,
    ):
        """``keras.Model.fit`` that also takes raw rows.

        With ``x = {"text": [...], "task": [...]}`` and raw labels ``y``, the
        rows are tokenised once and served as an endless shuffled stream of
        one-task batches (length-bucketed; ``sampling`` picks each batch's
        task, see :func:`tf_aspmtl.data.make_training_dataset`), one epoch
        being about one pass over the rows. ``validation_data`` may be raw
        ``(x, y)`` too. Anything else goes to ``keras.Model.fit`` as it is.

        Args:
            x, y: raw arrays as above, or what ``keras.Model.fit`` takes.
            batch_size: int. Rows per batch (16 by default for raw rows).
            epochs: int.
            validation_data: raw ``(x, y)`` or what ``keras.Model.fit`` takes.
            sampling: ``"proportional"`` or ``"uniform"`` (raw rows only).
            unlabeled: optional raw ``{"text", "task"}`` rows without labels,
                mixed into the batches for the adversarial and difference terms.
            unlabeled_fraction: float. Their expected share of a batch.
            **kwargs: passed to ``keras.Model.fit``.
        """
        if int(epochs) < 1:
            raise ValueError(f"epochs must be >= 1; got {epochs}")
        if _is_raw_arrays(x):
            if y is None:
                raise ValueError("fit on raw rows needs labels y.")
            frame = self._frame(x, y)
            extra = None if unlabeled is None else self._frame(unlabeled, where="unlabeled")
            seed = kwargs.pop("seed", self.seed or 0)
            x, steps = make_training_dataset(
                frame, self.preprocessor.text_vectorizer, self.task_names, batch_size=batch_size or 16,
                sampling=sampling, unlabeled=extra, unlabeled_fraction=unlabeled_fraction,
                max_length=self.preprocessor.max_length, seed=seed,
            )
            y, batch_size = None, None
            kwargs.setdefault("steps_per_epoch", steps)
        elif unlabeled is not None:
            raise ValueError("unlabeled= works with raw rows; mix unlabelled rows into your own dataset otherwise.")
        if isinstance(validation_data, tuple) and validation_data and _is_raw_arrays(validation_data[0]):
            validation_data = self._eval_dataset(*validation_data[:2], 64, "validation_data")
        return super().fit(x, y, batch_size=batch_size, epochs=epochs, validation_data=validation_data, **kwargs)

    def evaluate(self, x=None, y=None, batch_size: int | None = None, **kwargs):
        """``keras.Model.evaluate`` that also takes raw ``{"text", "task"}`` rows and raw labels."""
        if _is_raw_arrays(x):
            x, y = self._eval_dataset(x, y, batch_size or 64, "x"), None
            batch_size = None
        return super().evaluate(x, y, batch_size=batch_size, **kwargs)

    def predict(self, x, batch_size: int | None = None, **kwargs):
        """Probabilities [rows, max_classes] in row order; raw rows may mix tasks."""
        if _is_raw_arrays(x):
            texts = [t if isinstance(t, bytes) else str(t) for t in list(x[TEXT])]
            task_ids = self.preprocessor.task_ids(list(x[TASK])) if self.preprocessor else None
            if task_ids is None:
                raise ValueError("Raw text needs a model built from a MultiTaskPreprocessor.")
            x = tf.data.Dataset.from_tensor_slices(
                {TEXT: tf.constant(texts, tf.string), TASK_ID: tf.constant(task_ids, tf.int32)}
            ).batch(batch_size or 64)
            batch_size = None
        return super().predict(x, batch_size=batch_size, **kwargs)

    # -------------------------------------------------------- inference
    def task_id(self, task: str | int) -> int:
        """The id of ``task``, given by name or id."""
        if isinstance(task, (int, np.integer)) and not isinstance(task, bool):
            if not 0 <= int(task) < self.num_tasks:
                raise ValueError(f"Task id {task} out of range; the model has {self.num_tasks} tasks")
            return int(task)
        if task not in self.task_names:
            raise ValueError(f"Unknown task {task!r}; expected one of {self.task_names}")
        return self.task_names.index(task)

    def export(self, filepath: str | os.PathLike, format: str = "tf_serving", verbose: bool = True, **kwargs):
        """Writes TF Serving-ready SavedModels: ``<filepath>/<task>/<version>/`` per task and ``models.config``.

        The same as ``python -m export``: raw text in, ``probabilities``,
        ``label_id`` and ``label`` out (:func:`tf_aspmtl.export.export_model`,
        which takes the keyword arguments: ``tasks``, ``version``,
        ``multitask``, ``chunk_rows``...). ``format="tf_saved_model"`` is
        Keras' own export of ``call``.

        Returns:
            list of :class:`tf_aspmtl.export.ExportedModel` (``tf_serving``).
        """
        if format != "tf_serving":
            return super().export(filepath, format=format, verbose=verbose, **kwargs)
        from tf_aspmtl.export.exporter import export_for_serving

        return export_for_serving(self, filepath, verbose, **kwargs)

    # ---------------------------------------------------------- transfer
    def transfer(
        self,
        task: str,
        classes: Sequence,
        mode: str = "sc",
        train_shared: bool = False,
        difference_weight: float = 0.0,
        compile: bool = True,
        **kwargs,
    ) -> MultiTaskClassifier:
        """A classifier for a new task on this model's shared space (the paper's Table 3).

        ``"sc"``: the shared encoder's feature and a new output layer.
        ``"bc"``: that plus a new private encoder for the task; the difference
        term between the (frozen) shared and the new private feature is an
        option (``difference_weight``). The word embedding and the shared
        encoder are copied and, unless ``train_shared``, frozen. The new model
        takes raw rows of ``task`` and trains, saves, loads and exports like
        any model.

        Args:
            task: str. The new task's name.
            classes: sequence. Its label values (class id j is ``classes[j]``).
            mode: ``"sc"`` or ``"bc"``.
            train_shared: bool. Also train the copied embedding and shared encoder.
            difference_weight: float. gamma of the new model (``"bc"`` only).
            compile: bool. Compile with the defaults of :meth:`compile`.
            **kwargs: other constructor arguments of the new model (dropout, name...).
        """
        if mode not in TRANSFER_MODES:
            raise ValueError(f"Unknown transfer mode {mode!r}; expected one of {list(TRANSFER_MODES)}")
        if self.shared_encoder is None:
            raise ValueError("transfer needs a model with a shared encoder.")
        if self.preprocessor is None:
            raise ValueError("transfer needs a model built from a MultiTaskPreprocessor.")
        if mode == "sc" and difference_weight:
            raise ValueError("difference_weight needs a private encoder: use mode='bc'.")
        vectorizer = self.preprocessor.text_vectorizer
        # Every text setting of the source (vocabulary, length, truncation...), so a word keeps its row.
        new_vectorizer = TextVectorizer.from_config({**vectorizer.get_config(), "name": "text_vectorizer"})
        preprocessor = MultiTaskPreprocessor([task], {task: list(classes)}, text_vectorizer=new_vectorizer,
                                             name="preprocessor")
        kwargs.setdefault("dropout", self.dropout)
        kwargs.setdefault("name", f"{mode}_{task}")
        new = MultiTaskClassifier(
            preprocessor, embedding_dim=self.embedding_dim, encoder=self.encoder, hidden_dim=self.hidden_dim,
            use_shared=True, use_private=mode == "bc", difference_weight=difference_weight,
            difference_normalization=self.difference_normalization, word_vectors="random",
            frozen=() if train_shared else FREEZABLE, seed=self.seed, **kwargs,
        )
        new.backbone.embedding.set_weights(self.backbone.embedding.get_weights())
        new.backbone.shared_encoder.set_weights(self.backbone.shared_encoder.get_weights())
        if compile:
            new.compile()
        return new

    # ------------------------------------------------------------ config
    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "preprocessor": None if self.preprocessor is None else keras.layers.serialize(self.preprocessor),
                "task_names": None if self.preprocessor is not None else self.task_names,
                "num_classes": self.num_classes,
                "vocabulary_size": self.vocabulary_size,
                "embedding_dim": self.embedding_dim,
                "encoder": self.encoder,
                "hidden_dim": self.hidden_dim,
                "use_shared": self.use_shared,
                "use_private": self.use_private,
                "adversarial_weight": self.adversarial_weight,
                "difference_weight": self.difference_weight,
                "task_weights": self.task_weights,
                "difference_normalization": self.difference_normalization,
                "dropout": self.dropout,
                "per_task_metrics": self.per_task_metrics,
                "gradient_reversal_scale": self.gradient_reversal_scale,
                "adversarial_objective": self.adversarial_objective,
                "class_names": self.class_names,
                "frozen": self.frozen,
                "seed": self.seed,
                "embedding_perturbation": self.embedding_perturbation,
                "perturbation_weight": self.perturbation_weight,
                "perturbation_norm": self.perturbation_norm,
                "vat_xi": self.vat_xi,
            }
        )
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if config.get("preprocessor") is not None:
            config["preprocessor"] = keras.layers.deserialize(config["preprocessor"])
        config["word_vectors"] = "random"  # the saved weights replace them
        return cls(**config)
