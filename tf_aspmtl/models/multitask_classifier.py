"""The shared-private multi-task text classifier: a backbone, per-task heads, the adversary, and an objective.

The paper's families (single-task, FS-, SP- and ASP-MTL: :mod:`tf_aspmtl.models.families`) and the wide-and-deep
model build the backbone and the objective from a few settings.
"""

from __future__ import annotations

from typing import Any, Sequence

import keras
import numpy as np
import tensorflow as tf

from tf_aspmtl.distribute import replica_share
from tf_aspmtl.initializers import weight_initializer
from tf_aspmtl.layers.feature_memory import FeatureMemory
from tf_aspmtl.layers.gradient_reversal import GradientReversal
from tf_aspmtl.layers.task_heads import TaskHeads
from tf_aspmtl.metrics import PerTaskAccuracy
from tf_aspmtl.models.length_sorted_chunks import length_sorted_map
from tf_aspmtl.models.reversal_warmup import with_reversal_warmup
from tf_aspmtl.models.shared_private_backbone import FEATURES, PRIVATE, SHARED, SharedPrivateBackbone
from tf_aspmtl.models.task import LOGITS, PROBABILITIES, ServingFunction, Task
from tf_aspmtl.models.transfer import FREEZABLE, transfer_arguments
from tf_aspmtl.objective import (CONFUSION_LOGITS, DISCRIMINATOR_LOGITS, MEMORY_FEATURES, MEMORY_LOGITS,
                                 MEMORY_TASK_ID, MultiTaskObjective)
from tf_aspmtl.preprocessing.multitask_preprocessor import TASK, TASK_ID, TEXT, TOKEN_IDS, MultiTaskPreprocessor
from tf_aspmtl.preprocessing.task_preprocessor import raw_inputs
from tf_aspmtl.serialization import deserialize_fields


@keras.saving.register_keras_serializable(package="tf_aspmtl")
class MultiTaskClassifier(Task):
    """A :class:`SharedPrivateBackbone`, one softmax head per task, an optional task discriminator.

    It receives its backbone and its preprocessor, as keras-hub's tasks do; the families
    (``AdversarialSharedPrivateMTL(preprocessor)`` etc.) build both from a few settings. ``fit``, ``evaluate``
    and ``predict`` take raw rows (:class:`Task`); ``fit`` on raw rows serves an endless shuffled stream of
    one-task, length-bucketed batches (``sampling``, ``unlabeled``, ``unlabeled_fraction`` and ``seed`` shape it:
    :meth:`MultiTaskPreprocessor.training_dataset`). Prepared inputs work too: ``{"token_ids", "task_id"}``.

    ``call`` returns ``probabilities`` [batch, max_classes], ``logits``, ``task_id``, the ``shared`` and
    ``private`` features when those encoders exist, and the discriminator's logits when the objective has an
    adversary (and of its :class:`~tf_aspmtl.layers.FeatureMemory`'s rows with a ``discriminator_memory``).

    The objective (:class:`~tf_aspmtl.objective.MultiTaskObjective`) is ``sum_k alpha_k L_task_k + lambda L_adv
    + gamma L_diff (+ beta L_perturbation)``, computed in :meth:`compute_loss`; training is Keras' own
    ``train_step`` (``compute_loss``, then ``optimizer.scale_loss``), so mixed precision and ``loss_scale_factor``
    work. The adversarial min-max is one minimisation through a gradient-reversal layer between the shared feature
    and the discriminator. Labels are class ids; -1 marks an unlabelled row (adversarial, difference, VAT terms only).

    Args:
        backbone: :class:`SharedPrivateBackbone` with one private encoder per task (if any); its
            ``initializer`` scheme also sets how the heads' and the discriminator's kernels start.
        preprocessor: :class:`~tf_aspmtl.preprocessing.MultiTaskPreprocessor` of the same tasks.
        objective: optional :class:`~tf_aspmtl.objective.MultiTaskObjective` (task loss alone by default).
        dropout: float. Dropout on the features the heads read.
        per_task_metrics: bool. Log ``acc_<task>`` for every task.
        frozen: sequence of ``"embedding"`` and ``"shared_encoder"``: backbone
            parts that ``fit`` does not train (transfer).
        seed: optional int. Seed of the batch order when ``fit`` builds the batches.
        **kwargs: standard `keras.Model` arguments (name, ...).

    Example:
    >>> import pandas as pd
    >>> frame = pd.DataFrame({"text": ["good book", "bad film", "great read", "awful"],
    ...                       "task": ["books", "dvd", "books", "dvd"], "label": ["pos", "neg", "neg", "pos"]})
    >>> pre = MultiTaskPreprocessor.from_frame(frame, max_length=8)
    >>> backbone = SharedPrivateBackbone(2, pre.vocabulary_size, embedding_dim=4, hidden_dim=4, use_private=True)
    >>> model = MultiTaskClassifier(backbone, pre, MultiTaskObjective(adversarial_weight=0.05))
    >>> model.compile()
    >>> _ = model.fit({"text": frame.text, "task": frame.task}, frame.label, batch_size=2, verbose=0)
    >>> model.predict({"text": ["good film"], "task": ["dvd"]}, verbose=0).shape
    (1, 2)
    """

    default_batch_size = 16
    training_dataset_options = ("seed", "sampling", "unlabeled", "unlabeled_fraction")

    def __init__(self, backbone: SharedPrivateBackbone, preprocessor: MultiTaskPreprocessor,
                 objective: MultiTaskObjective | None = None, dropout: float = 0.0, per_task_metrics: bool = True,
                 frozen: Sequence[str] = (), seed: int | None = None, **kwargs):
        super().__init__(preprocessor, **kwargs)
        if not isinstance(backbone, SharedPrivateBackbone):
            raise ValueError(f"backbone must be a SharedPrivateBackbone; got {type(backbone).__name__}")
        if not isinstance(preprocessor, MultiTaskPreprocessor):
            raise ValueError(f"preprocessor must be a MultiTaskPreprocessor; got {type(preprocessor).__name__}")
        if backbone.num_tasks != preprocessor.num_tasks:
            raise ValueError(f"The backbone has {backbone.num_tasks} tasks; the preprocessor "
                             f"{preprocessor.num_tasks} ({preprocessor.task_names})")
        adapted = preprocessor.vocabulary_size > 2  # padding and OOV only: not adapted (yet)
        if adapted and backbone.vocabulary_size != preprocessor.vocabulary_size:
            raise ValueError(f"The backbone's embedding has {backbone.vocabulary_size} rows but the "
                             f"preprocessor's vocabulary has {preprocessor.vocabulary_size} entries")
        objective = MultiTaskObjective() if objective is None else objective
        if not isinstance(objective, MultiTaskObjective):
            raise ValueError(f"objective must be a MultiTaskObjective; got {type(objective).__name__}")
        objective.check_model(backbone.num_tasks, backbone.use_shared, backbone.use_private)
        if not np.isfinite(float(dropout)) or not 0.0 <= float(dropout) < 1.0:
            raise ValueError(f"dropout must be in [0, 1); got {dropout}")
        unknown = sorted(set(frozen) - set(FREEZABLE))
        if unknown:
            raise ValueError(f"frozen names unknown parts {unknown}; expected some of {list(FREEZABLE)}")
        self.backbone = backbone
        self.objective = objective
        self.dropout = float(dropout)
        self.per_task_metrics = bool(per_task_metrics)
        self.frozen = [str(f) for f in frozen]
        self.seed = None if seed is None else int(seed)

        # Creation order (backbone, dropout, heads, discriminator) fixes the initial weights; the kernels start
        # as the backbone's initializer scheme says.
        kernel_initializer = weight_initializer(backbone.initializer, "glorot_uniform")
        self.feature_dropout = keras.layers.Dropout(self.dropout, name="feature_dropout")
        self.heads = TaskHeads(self.num_classes, kernel_initializer=kernel_initializer, name="task_heads")
        self.discriminator = self.discriminator_memory = None
        if objective.has_adversary:
            self.gradient_reversal = GradientReversal(objective.gradient_reversal_scale,
                                                      objective.reversal_warmup_epochs, name="gradient_reversal")
            self.discriminator = keras.layers.Dense(self.num_tasks, kernel_initializer=kernel_initializer,
                                                    name="task_discriminator")
            if objective.discriminator_memory:  # no random draws: the other weights start as without it
                self.discriminator_memory = FeatureMemory(objective.discriminator_memory, backbone.encoder_dim,
                                                          name="discriminator_memory")
        # One Mean per term of the objective, named as the term (``task_loss`` ...), kept as ``<term>_tracker``.
        for name in objective.term_names:
            setattr(self, f"{name}_tracker", keras.metrics.Mean(name=name))
            if name == "adv_loss":
                self.discriminator_accuracy = keras.metrics.SparseCategoricalAccuracy(name="discriminator_accuracy")
        self.task_accuracy = PerTaskAccuracy(self.task_names, per_task=self.per_task_metrics)
        # Everything has known shapes: build now (BackupAndRestore, set_word_vectors and summary need the weights).
        self.build()
        for part in self.frozen:
            getattr(self.backbone, part).trainable = False

    # ------------------------------------------------------------ layout
    @property
    def embedding(self):
        return self.backbone.embedding

    @property
    def shared_encoder(self):
        return self.backbone.shared_encoder

    @property
    def private_encoders(self):
        return self.backbone.private_encoders

    def build(self, input_shape=None):
        if self.built:
            return
        self.backbone.build()
        self.heads.build((None, self.backbone.feature_dim))
        if self.discriminator is not None:
            self.discriminator.build((None, self.backbone.encoder_dim))
        # VAT's directions' seed generator: checkpoints keep its state (random_state); made last, not to move weights.
        self.perturbation_seed = (keras.random.SeedGenerator(name="perturbation_seed")
                                  if self.objective.embedding_perturbation == "virtual" else None)
        super().build(input_shape)

    def set_word_vectors(self, matrix: np.ndarray) -> None:
        """Initialises the word embedding with ``matrix`` [vocabulary_size, embedding_dim]."""
        self.backbone.set_word_vectors(matrix)

    @property
    def loss_trackers(self) -> dict[str, keras.metrics.Mean]:
        """The Mean of each term of the objective, by term name."""
        return {name: getattr(self, f"{name}_tracker") for name in self.objective.term_names}

    # ----------------------------------------------------------- forward
    def _ids(self, inputs):
        """(token ids, task ids) of prepared or raw inputs."""
        if not isinstance(inputs, dict):
            raise ValueError(f"{type(self).__name__} takes a dict with {TEXT!r} and {TASK!r} (raw) or "
                             f"{TOKEN_IDS!r} and {TASK_ID!r} (prepared); got {type(inputs).__name__}")
        if TOKEN_IDS in inputs and TASK_ID in inputs:
            return inputs[TOKEN_IDS], inputs[TASK_ID]
        if TEXT in inputs and (TASK in inputs or TASK_ID in inputs):
            prepared = self.preprocessor(raw_inputs(inputs))
            return prepared[TOKEN_IDS], prepared[TASK_ID]
        raise ValueError(f"Inputs need {TEXT!r} and {TASK!r}, or {TOKEN_IDS!r} and {TASK_ID!r}; got keys {sorted(inputs)}")

    def call(self, inputs, training=None, single_task_batch=None):
        """One dict per batch (see the class docstring).

        Args:
            inputs: dict of raw or prepared inputs.
            training: bool.
            single_task_batch: bool or None. Promise (checked) that all rows
                share a task; None means ``training`` (training batches hold one task each).
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
            if self.objective.adversarial_objective == "reversal":
                outputs[DISCRIMINATOR_LOGITS] = self.discriminator(self.gradient_reversal(shared))
            else:
                # The discriminator learns from features it cannot change; the
                # encoder learns through a frozen copy of the discriminator.
                outputs[DISCRIMINATOR_LOGITS] = self.discriminator(tf.stop_gradient(shared))
                outputs[CONFUSION_LOGITS] = tf.matmul(
                    shared, tf.stop_gradient(self.discriminator.kernel)
                ) + tf.stop_gradient(self.discriminator.bias)
            if self.discriminator_memory is not None:  # recent rows of every task, for the discriminator alone
                stored, outputs[MEMORY_TASK_ID] = self.discriminator_memory(shared, task_ids, training=training)
                outputs[MEMORY_LOGITS], outputs[MEMORY_FEATURES] = self.discriminator(stored), stored
        return outputs

    def _head_logits(self, features, task_ids, training):
        return self.heads(self.feature_dropout(features[FEATURES], training=training), task_ids)

    def logits_from_embedded(self, embedded, mask, task_ids, training=None, single_task_batch=False) -> tf.Tensor:
        """Logits [batch, max_classes] of word vectors: :meth:`call`'s path from the embedding output on.

        The backbone's encoders, the feature dropout and the task heads; the
        perturbed passes of the objective's embedding perturbation run through it.
        """
        task_ids = tf.cast(tf.reshape(task_ids, [-1]), tf.int32)
        features = self.backbone.encode(embedded, mask, task_ids, training=training,
                                        single_task_batch=single_task_batch, update_statistics=False)
        return self._head_logits(features, task_ids, training)

    def task_logits(self, token_ids, task: str | int) -> tf.Tensor:
        """Logits [batch, num_classes(task)] of rows that all belong to ``task``: the shared encoder, this
        task's private encoder and this task's head, without the per-row dispatch (inference, serving)."""
        k = self.task_id(task)
        return self.heads.task_logits(self.backbone.task_features(token_ids, k)[FEATURES], k)

    # --------------------------------------------------------- objective
    def loss_terms(self, y, y_pred, sample_weight=None, x=None, training=True) -> dict[str, tf.Tensor]:
        """Each term of the objective (unweighted) and ``loss``, their weighted sum (the perturbation term needs ``x``).

        In training under a strategy, each replica holds a slice of the global batch, and every term is that of the
        global batch (see :meth:`MultiTaskObjective.terms`); evaluation hands every replica whole batches
        (:func:`~tf_aspmtl.distribute.distribute_eval_dataset`), so there each replica's batch is its own.
        """
        perturbation = None
        if x is not None and self.objective.has_perturbation:
            def perturbation():
                return self._perturbation_loss(x, y, y_pred, sample_weight, training)
        return self.objective.terms(y, y_pred, sample_weight, perturbation, gather_replicas=bool(training))

    def _perturbation_loss(self, x, y, y_pred, sample_weight, training) -> tf.Tensor:
        # Called by the objective's terms before it gathers the replicas' rows: y, y_pred, sample_weight are this
        # replica's own, as the perturbed passes need; the term's mean is taken over every replica's rows.
        token_ids, task_ids = self._ids(x)
        task_ids = tf.cast(tf.reshape(task_ids, [-1]), tf.int32)
        embedded, mask = self.backbone.embed(token_ids)
        optimizer = getattr(self, "optimizer", None)

        def logits_at(vectors):
            return self.perturbed_logits(vectors, mask, task_ids, y_pred, training)

        return self.objective.perturbation_loss(y, y_pred[LOGITS], task_ids, embedded, mask, logits_at,
                                                None if optimizer is None else optimizer.scale_loss, sample_weight,
                                                seed=self.perturbation_seed, gather_replicas=bool(training))

    def perturbed_logits(self, embedded, mask, task_ids, y_pred, training=None) -> tf.Tensor:
        """The logits the perturbation term reads at (perturbed) word vectors: :meth:`logits_from_embedded`; a
        model with a path the word vectors do not reach adds that path's logits of the batch, from ``y_pred``."""
        return self.logits_from_embedded(embedded, mask, task_ids, training=training, single_task_batch=bool(training))

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """The objective's weighted sum (see :class:`~tf_aspmtl.objective.MultiTaskObjective`); updates the trackers."""
        terms = self.loss_terms(y, y_pred, sample_weight, x=x, training=training)
        rows = tf.cast(tf.size(y_pred[TASK_ID]), tf.float32)
        labelled = tf.reduce_sum(tf.cast(tf.reshape(y, [-1]) >= 0, tf.float32))
        # Weighted by rows, as Keras does, so the epoch value is a per-row mean; the task loss (and AT's term)
        # are means over labelled rows, the others over all rows. Under a strategy in training each replica's
        # terms are the global batch's, weighted by its own rows: summed over replicas, the global batch's rows.
        for name, tracker in self.loss_trackers.items():
            if name in terms:
                per_labelled = name == "task_loss" or (
                    name == "perturbation_loss" and self.objective.embedding_perturbation == "adversarial")
                tracker.update_state(terms[name], sample_weight=labelled if per_labelled else rows)
        total = terms["loss"]
        for extra in self.losses:  # regularisers, add_loss
            total += tf.cast(tf.reduce_sum(extra), total.dtype)
        return replica_share(total)

    def compute_metrics(self, x, y, y_pred, sample_weight=None):
        if self.discriminator is not None:
            self.discriminator_accuracy.update_state(y_pred[TASK_ID], y_pred[DISCRIMINATOR_LOGITS])
        self.task_accuracy.update_state(y, y_pred[LOGITS], y_pred[TASK_ID], sample_weight)
        return self.get_metrics_result()

    # ---------------------------------------------------------- raw rows
    def fit(self, *args, callbacks=None, **kwargs):
        """:meth:`Task.fit`; a reversal with a warm-up gets its callback (:func:`with_reversal_warmup`)."""
        return super().fit(*args, callbacks=with_reversal_warmup(self, callbacks), **kwargs)

    def training_dataset(self, x, y, batch_size: int | None = None, seed: int | None = None,
                         unlabeled=None, **options) -> tuple[tf.data.Dataset, int]:
        """One-task, length-bucketed batches of token ids (``unlabeled``: raw ``{"text", "task"}`` rows mixed in)."""
        if unlabeled is not None:
            texts, task_ids, _ = self.preprocessor.rows(unlabeled, where="unlabeled")
            options["unlabeled"] = (texts, task_ids)
        seed = (self.seed or 0) if seed is None else seed
        return super().training_dataset(x, y, batch_size, seed=seed, **options)

    # ----------------------------------------------------------- serving
    def serving_logits(self, texts: tf.Tensor, task_index: int, chunk_rows: int | None = None) -> tf.Tensor:
        """Logits [batch, num_classes(task)] of raw texts of one task: only that task's encoders and head.

        With ``chunk_rows``, rows are sorted by length and run in chunks, each only as far as its longest text
        (:func:`length_sorted_map`); each row's logits are the same either way.
        """
        k = self.task_id(task_index)
        ids = self.preprocessor.token_ids(tf.reshape(texts, [-1]))
        if chunk_rows is None:
            return self.task_logits(ids, k)
        return length_sorted_map(lambda chunk: self.task_logits(chunk, k), ids, chunk_rows, self.num_classes[k])

    def serving_probabilities(self, texts: tf.Tensor, task_index: int, chunk_rows: int | None = None) -> tf.Tensor:
        """Probabilities [batch, num_classes(task)] of raw texts of one task: the softmax of :meth:`serving_logits`."""
        return tf.nn.softmax(self.serving_logits(texts, task_index, chunk_rows))

    def serving_function(self, task_index: int, chunk_rows: int | None = None) -> ServingFunction:
        """:meth:`serving_probabilities` of one task, reading the vectorizer, embedding, heads, shared encoder (and
        its projection, if any) and that task's private encoder (none of the other tasks' encoders nor the
        discriminator)."""
        k = self.task_id(task_index)
        vectorizer = self.preprocessor.text_vectorizer
        if not vectorizer.built:  # never called yet (an untrained model): one call builds it
            vectorizer(tf.constant([""]))
        layers = [vectorizer, self.embedding, self.heads]
        if self.shared_encoder is not None:
            layers.append(self.shared_encoder)
        if self.backbone.shared_projection is not None:  # the tasks' mean shared features it removes
            layers.append(self.backbone.shared_projection)
        if self.private_encoders:
            layers.append(self.private_encoders[k])
        return ServingFunction(lambda texts: self.serving_probabilities(texts, k, chunk_rows), tuple(layers))

    def serving_info(self, is_multitask: bool) -> dict[str, Any]:
        backbone = self.backbone
        return {
            **super().serving_info(is_multitask),
            "encoder": backbone.encoder,
            "hidden_dim": backbone.hidden_dim,
            "embedding_dim": backbone.embedding_dim,
            "vocabulary_size": backbone.vocabulary_size,
            "max_length": self.preprocessor.max_length,
            "shared_encoder": backbone.use_shared,
            "private_encoders_in_graph": len(self.private_encoders) if is_multitask else int(backbone.use_private),
            "encoders_run_per_review": int(backbone.use_shared) + int(backbone.use_private),
        }

    # ---------------------------------------------------------- transfer
    def transfer(self, task: str, classes: Sequence, mode: str = "sc", train_shared: bool = False,
                 difference_weight: float = 0.0, compile: bool = True, **kwargs) -> MultiTaskClassifier:
        """A classifier for a new task on this model's shared space (the paper's Table 3).

        ``"sc"``: the shared encoder's feature and a new output layer.
        ``"bc"``: that plus a new private encoder for the task; the difference
        term between the (frozen) shared and the new private feature is an
        option (``difference_weight``). The word embedding and the shared
        encoder are copied (:func:`tf_aspmtl.models.transfer.transfer_backbone`)
        and, unless ``train_shared``, frozen. The new model takes raw rows of
        ``task`` and trains, saves, loads and exports like any model.

        Args:
            task: str. The new task's name.
            classes: sequence. Its label values (class id j is ``classes[j]``).
            mode: ``"sc"`` or ``"bc"``.
            train_shared: bool. Also train the copied embedding and shared encoder.
            difference_weight: float. gamma of the new model (``"bc"`` only).
            compile: bool. Compile with the defaults of :meth:`compile`.
            **kwargs: other constructor arguments of the new model (dropout, name, seed: this model's unless given).
        """
        new = MultiTaskClassifier(**transfer_arguments(self, task, classes, mode, train_shared, difference_weight,
                                                       kwargs))
        new.backbone.embedding.set_weights(self.backbone.embedding.get_weights())
        new.backbone.shared_encoder.set_weights(self.backbone.shared_encoder.get_weights())
        if compile:
            new.compile()
        return new

    # ------------------------------------------------------------ config
    def get_config(self):
        config = super().get_config()
        config.update({
            "backbone": keras.layers.serialize(self.backbone),
            "objective": keras.saving.serialize_keras_object(self.objective),
            "dropout": self.dropout,
            "per_task_metrics": self.per_task_metrics,
            "frozen": self.frozen,
            "seed": self.seed,
        })
        return config

    @classmethod
    def from_config(cls, config):
        return cls(**deserialize_fields(config, "preprocessor", "backbone", "objective"))
