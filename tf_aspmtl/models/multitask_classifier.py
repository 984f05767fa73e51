"""The shared-private multi-task text classifier and its training step.

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

from typing import Sequence

import keras
import numpy as np
import tensorflow as tf

from tf_aspmtl.layers.embedding import SparseReadEmbedding
from tf_aspmtl.layers.encoders import ENCODERS, get_encoder
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

TOKEN_IDS = "token_ids"
TEXT = "text"
TASK_ID = "task_id"
ADVERSARIAL_OBJECTIVES = ("reversal", "confusion")


@keras.saving.register_keras_serializable(package="tf_aspmtl")
class MultiTaskClassifier(keras.Model):
    """Shared and/or private encoders, per-task heads, optional adversary and difference loss.

    Inputs are a dict: ``"task_id"`` (int [batch]) and either ``"token_ids"``
    (int [batch, length], 0 = padding) or ``"text"`` (tf.string [batch], when
    the model holds a ``preprocessor``). ``call`` returns class probabilities
    [batch, max_classes]; a task with fewer classes gets probability 0 on the
    others. Labels are int class ids, -1 for unlabelled rows, which then feed
    only the adversarial and difference terms.

    The objective is ``sum_k alpha_k L_task_k + lambda L_adv + gamma L_diff``
    (``task_weights``, ``adversarial_weight``, ``difference_weight``). The
    min-max of the adversarial term is one minimisation through a
    gradient-reversal layer between the shared feature and the discriminator.

    Private encoders: a batch whose rows all belong to one task (what
    :func:`tf_aspmtl.data.pipeline.make_training_dataset` yields) runs only that
    task's private encoder, chosen in-graph with ``tf.switch_case``, so a step
    costs one shared and one private pass per row and one traced function
    serves every task. A batch that mixes tasks (``predict`` on mixed input)
    is partitioned by task instead.

    Args:
        task_names: sequence of str. One per task; task id i is ``task_names[i]``.
        num_classes: int or sequence of int. Classes per task.
        vocabulary_size: int. Rows of the word embedding (padding id 0 included).
        embedding_dim: int. Word vector size.
        encoder: str. Encoder kind, one of ``"lstm"``, ``"bilstm"``, ``"cnn"``.
        hidden_dim: int. Encoder size (LSTM units per direction, CNN filters per width).
        use_shared: bool. Build the shared encoder.
        use_private: bool. Build one private encoder per task.
        adversarial_weight: float. lambda; > 0 builds the task discriminator.
        difference_weight: float. gamma; > 0 needs both encoders.
        task_weights: optional sequence of float. alpha_k (1 each by default).
        difference_normalization: str. See :func:`tf_aspmtl.losses.difference_loss`.
        dropout: float. Dropout on the features the heads read.
        preprocessor: optional layer mapping tf.string [batch] to token ids
            (:class:`tf_aspmtl.preprocessing.TextVectorizer`); lets the model take raw text.
        per_task_metrics: bool. Log ``acc_<task>`` for every task.
        gradient_reversal_scale: float. Factor of the reversed gradient the
            shared encoder receives from the discriminator. 1 is the paper's
            min-max; 0 lets the discriminator learn unopposed and -1 lets the
            encoder help it (diagnostics).
        adversarial_objective: str. How the shared encoder fights the
            discriminator. ``"reversal"`` (the paper): it maximises the
            discriminator's cross entropy through gradient reversal, which it
            can also do by making the discriminator confidently wrong, so
            the task may stay readable from the shared feature.
            ``"confusion"``: the discriminator is trained on its cross
            entropy and the encoder on the cross entropy between the uniform
            distribution and the discriminator's output, which is lowest
            only when the discriminator is at chance.
        class_names: optional sequence (one per task) of sequences of str.
            The name of each class id, for people and for serving; by
            default the ids as strings.

    Example:
    >>> model = MultiTaskClassifier(["books", "dvd"], vocabulary_size=100,
    ...     embedding_dim=8, hidden_dim=8, use_private=True,
    ...     adversarial_weight=0.05, difference_weight=0.01)
    >>> probs = model({"token_ids": tf.constant([[5, 6, 0]]), "task_id": tf.constant([1])})
    >>> probs.shape
    TensorShape([1, 2])
    """

    def __init__(
        self,
        task_names: Sequence[str],
        num_classes: int | Sequence[int] = 2,
        vocabulary_size: int = 30000,
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
        preprocessor: keras.layers.Layer | None = None,
        per_task_metrics: bool = True,
        gradient_reversal_scale: float = 1.0,
        adversarial_objective: str = "reversal",
        class_names: Sequence[Sequence[str]] | None = None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.task_names = [str(t) for t in task_names]
        k = len(self.task_names)
        if k == 0 or len(set(self.task_names)) != k:
            raise ValueError(f"task_names must be non-empty and unique; got {self.task_names}")
        if isinstance(num_classes, (int, np.integer)):
            num_classes = [int(num_classes)] * k
        self.num_classes = [int(c) for c in num_classes]
        if len(self.num_classes) != k:
            raise ValueError(f"num_classes has {len(self.num_classes)} entries for {k} tasks")
        if encoder not in ENCODERS:
            raise ValueError(f"Unknown encoder {encoder!r}; expected one of {sorted(ENCODERS)}")
        if not (use_shared or use_private):
            raise ValueError("At least one of use_shared and use_private must be True.")
        if adversarial_weight < 0 or difference_weight < 0:
            raise ValueError(
                f"Loss weights must be >= 0; got adversarial_weight={adversarial_weight}, "
                f"difference_weight={difference_weight}"
            )
        if adversarial_weight > 0 and not use_shared:
            raise ValueError("adversarial_weight > 0 needs the shared encoder (use_shared=True).")
        if adversarial_weight > 0 and k < 2:
            raise ValueError("adversarial_weight > 0 needs at least 2 tasks to discriminate.")
        if difference_weight > 0 and not (use_shared and use_private):
            raise ValueError("difference_weight > 0 needs both shared and private encoders.")
        if difference_normalization not in DIFFERENCE_NORMALIZATIONS:
            raise ValueError(
                f"Unknown difference_normalization {difference_normalization!r}; "
                f"expected one of {list(DIFFERENCE_NORMALIZATIONS)}"
            )
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

        self.vocabulary_size = int(vocabulary_size)
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
        self.preprocessor = preprocessor
        self.per_task_metrics = bool(per_task_metrics)
        self.gradient_reversal_scale = float(gradient_reversal_scale)
        if adversarial_objective not in ADVERSARIAL_OBJECTIVES:
            raise ValueError(
                f"Unknown adversarial_objective {adversarial_objective!r}; "
                f"expected one of {list(ADVERSARIAL_OBJECTIVES)}"
            )
        self.adversarial_objective = adversarial_objective

        self.embedding = SparseReadEmbedding(
            self.vocabulary_size, self.embedding_dim, mask_zero=True, name="embedding"
        )
        self.shared_encoder = (
            get_encoder(encoder, self.hidden_dim, name="shared_encoder") if use_shared else None
        )
        self.private_encoders = (
            [get_encoder(encoder, self.hidden_dim, name=f"private_encoder_{i}") for i in range(k)]
            if use_private
            else []
        )
        self.feature_dropout = keras.layers.Dropout(self.dropout, name="feature_dropout")
        self.heads = TaskHeads(self.num_classes, name="task_heads")
        self.discriminator = None
        if self.adversarial_weight > 0:
            self.gradient_reversal = GradientReversal(self.gradient_reversal_scale, name="gradient_reversal")
            self.discriminator = keras.layers.Dense(k, name="task_discriminator")

        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.task_loss_tracker = keras.metrics.Mean(name="task_loss")
        self.adv_loss_tracker = keras.metrics.Mean(name="adv_loss")
        self.diff_loss_tracker = keras.metrics.Mean(name="diff_loss")
        self.confusion_loss_tracker = keras.metrics.Mean(name="confusion_loss")
        self.discriminator_accuracy = keras.metrics.SparseCategoricalAccuracy(name="discriminator_accuracy")
        self.task_accuracy = PerTaskAccuracy(self.task_names, per_task=self.per_task_metrics)
        # Every shape is known from the arguments: build now, so that weights
        # exist before fit (BackupAndRestore, set_word_vectors, summary need them).
        self.build()

    # ------------------------------------------------------------------ build
    @property
    def num_tasks(self) -> int:
        return len(self.task_names)

    @property
    def feature_dim(self) -> int:
        """Size of the feature the heads read."""
        enc = self.shared_encoder or self.private_encoders[0]
        return enc.output_dim * (int(self.use_shared) + int(self.use_private))

    def build(self, input_shape=None):
        if self.built:
            return
        seq_shape = (None, None, self.embedding_dim)
        self.embedding.build((None, None))
        if self.shared_encoder is not None:
            self.shared_encoder.build(seq_shape)
        for enc in self.private_encoders:
            enc.build(seq_shape)
        self.heads.build((None, self.feature_dim))
        if self.discriminator is not None:
            self.discriminator.build((None, self.shared_encoder.output_dim))
        super().build(input_shape)

    def set_word_vectors(self, matrix: np.ndarray) -> None:
        """Initialises the word embedding with ``matrix`` [vocabulary_size, embedding_dim]."""
        matrix = np.asarray(matrix, dtype="float32")
        expected = (self.vocabulary_size, self.embedding_dim)
        if matrix.shape != expected:
            raise ValueError(f"Word-vector matrix has shape {matrix.shape}; the model expects {expected}")
        self.build()
        self.embedding.embeddings.assign(matrix)

    # ---------------------------------------------------------------- forward
    def _token_ids(self, inputs):
        if TOKEN_IDS in inputs:
            ids = inputs[TOKEN_IDS]
        elif TEXT in inputs:
            if self.preprocessor is None:
                raise ValueError(
                    "Got raw 'text' but the model has no preprocessor; pass token ids as "
                    "'token_ids' or build the model with preprocessor=TextVectorizer(...)."
                )
            ids = self.preprocessor(inputs[TEXT])
        else:
            raise ValueError(f"Inputs need '{TOKEN_IDS}' or '{TEXT}' and '{TASK_ID}'; got keys {sorted(inputs)}")
        return ids

    def _embed(self, ids):
        """Word vectors [batch, length, dim] and the real-token mask of token ids."""
        ids = tf.cast(ids, tf.int32)
        # An LSTM needs at least one step: give an all-empty batch one padding column.
        ids = tf.pad(ids, [[0, 0], [0, tf.maximum(0, 1 - tf.shape(ids)[1])]])
        return self.embedding(ids), ids != 0

    def _join(self, embedded, mask, private, training):
        """The shared feature (or None) and the feature the heads read: [shared; private]."""
        shared = None
        parts = [] if private is None else [private]
        if self.shared_encoder is not None:
            shared = self.shared_encoder(embedded, mask=mask, training=training)
            parts.insert(0, shared)
        return shared, parts[0] if len(parts) == 1 else tf.concat(parts, axis=-1)

    def task_logits(self, token_ids, task: str | int) -> tf.Tensor:
        """Logits [batch, num_classes(task)] of rows that all belong to ``task``, for inference.

        The arithmetic of ``call`` without the per-row task dispatch: only the
        shared encoder, this task's private encoder and this task's head, so
        a graph traced from it (a served per-task classifier) holds nothing
        of the other tasks.

        Args:
            token_ids: int [batch, length]. Token ids, 0 = padding.
            task: str or int. Task name or id.
        """
        k = self.task_id(task)
        embedded, mask = self._embed(token_ids)
        private = self.private_encoders[k](embedded, mask=mask, training=False) if self.private_encoders else None
        _, features = self._join(embedded, mask, private, training=False)
        classes = self.num_classes[k]
        kernel = tf.convert_to_tensor(self.heads.kernel)[k, :, :classes]
        bias = tf.convert_to_tensor(self.heads.bias)[k, :classes]
        return tf.matmul(features, kernel) + bias

    def _private_features(self, embedded, mask, task_ids, training, single_task_batch):
        """Runs each row through its own task's private encoder only.

        With ``single_task_batch`` (training and evaluation, whose batches
        hold one task each) only the ``tf.switch_case`` path is traced; a
        batch that breaks the promise fails loudly instead of being
        misclassified. Otherwise a mixed batch is partitioned by task.
        """

        def one_task():
            branches = [
                (lambda enc=enc: enc(embedded, mask=mask, training=training)) for enc in self.private_encoders
            ]
            return tf.switch_case(task_ids[0], branches)

        def mixed_tasks():
            rows = tf.range(tf.shape(task_ids)[0])
            parts = tf.dynamic_partition(rows, task_ids, self.num_tasks)
            outputs = [
                enc(tf.gather(embedded, part), mask=tf.gather(mask, part), training=training)
                for enc, part in zip(self.private_encoders, parts)
            ]
            return tf.dynamic_stitch(parts, outputs)

        homogeneous = tf.logical_and(tf.size(task_ids) > 0, tf.reduce_all(task_ids == task_ids[:1]))
        if single_task_batch:
            check = tf.debugging.Assert(
                homogeneous,
                ["fit() and evaluate() need batches that hold one task each (see "
                 "tf_aspmtl.data.make_training_dataset); got task ids", task_ids],
            )
            with tf.control_dependencies([check]):
                features = one_task()
        else:
            features = tf.cond(homogeneous, one_task, mixed_tasks)
        features.set_shape([None, self.private_encoders[0].output_dim])
        return features

    def call(self, inputs, training=None, return_features=False, single_task_batch=False):
        if not isinstance(inputs, dict):
            raise ValueError(
                f"MultiTaskClassifier takes a dict with '{TASK_ID}' and '{TOKEN_IDS}' or '{TEXT}'; "
                f"got {type(inputs).__name__}"
            )
        embedded, mask = self._embed(self._token_ids(inputs))
        task_ids = tf.cast(tf.reshape(inputs[TASK_ID], [-1]), tf.int32)
        private = discriminator_logits = None
        if self.private_encoders:
            private = self._private_features(embedded, mask, task_ids, training, single_task_batch)
        shared, features = self._join(embedded, mask, private, training)
        logits = self.heads(self.feature_dropout(features, training=training), task_ids)
        if not return_features:
            return tf.nn.softmax(logits)
        confusion_logits = None
        if self.discriminator is not None and self.adversarial_objective == "reversal":
            discriminator_logits = self.discriminator(self.gradient_reversal(shared))
        elif self.discriminator is not None:
            # The discriminator learns from features it cannot change; the
            # encoder learns through a frozen copy of the discriminator.
            discriminator_logits = self.discriminator(tf.stop_gradient(shared))
            confusion_logits = tf.matmul(shared, tf.stop_gradient(self.discriminator.kernel)) + tf.stop_gradient(
                self.discriminator.bias
            )
        return {
            "logits": logits,
            "shared": shared,
            "private": private,
            "discriminator_logits": discriminator_logits,
            "confusion_logits": confusion_logits,
            "task_ids": task_ids,
        }

    # ----------------------------------------------------------------- losses
    def compute_losses(self, outputs, labels, sample_weight=None) -> dict[str, tf.Tensor]:
        """The objective and each of its terms, from ``call(..., return_features=True)``."""
        task_ids = outputs["task_ids"]
        losses = {
            "task_loss": task_loss(labels, outputs["logits"], task_ids, self.task_weights, sample_weight)
        }
        total = losses["task_loss"]
        if self.discriminator is not None:
            losses["adv_loss"] = adversarial_loss(task_ids, outputs["discriminator_logits"])
            total += self.adversarial_weight * losses["adv_loss"]
            if outputs["confusion_logits"] is not None:
                losses["confusion_loss"] = confusion_loss(outputs["confusion_logits"])
                total += self.adversarial_weight * losses["confusion_loss"]
        if self.difference_weight > 0:
            losses["diff_loss"] = difference_loss(
                outputs["shared"], outputs["private"], task_ids, self.difference_normalization
            )
            total += self.difference_weight * losses["diff_loss"]
        losses["loss"] = total
        return losses

    @property
    def metrics(self):
        trackers = [self.loss_tracker, self.task_loss_tracker]
        if self.discriminator is not None:
            trackers += [self.adv_loss_tracker, self.discriminator_accuracy]
            if self.adversarial_objective == "confusion":
                trackers.append(self.confusion_loss_tracker)
        if self.difference_weight > 0:
            trackers.append(self.diff_loss_tracker)
        return trackers + [self.task_accuracy]

    def _update_metrics(self, losses, outputs, labels, sample_weight):
        # Weighted by rows, as Keras does, so the epoch value is a per-row mean
        # and an empty batch (the end of a dataset of unknown length) counts for nothing.
        rows = tf.cast(tf.size(outputs["task_ids"]), self.loss_tracker.dtype)
        labelled = tf.reduce_sum(tf.cast(tf.reshape(labels, [-1]) >= 0, rows.dtype))
        self.loss_tracker.update_state(losses["loss"], sample_weight=rows)
        self.task_loss_tracker.update_state(losses["task_loss"], sample_weight=labelled)
        if "adv_loss" in losses:
            self.adv_loss_tracker.update_state(losses["adv_loss"], sample_weight=rows)
            self.discriminator_accuracy.update_state(outputs["task_ids"], outputs["discriminator_logits"])
        if "confusion_loss" in losses:
            self.confusion_loss_tracker.update_state(losses["confusion_loss"], sample_weight=rows)
        if "diff_loss" in losses:
            self.diff_loss_tracker.update_state(losses["diff_loss"], sample_weight=rows)
        self.task_accuracy.update_state(labels, outputs["logits"], outputs["task_ids"], sample_weight)
        results = {}
        for metric in self.metrics:
            result = metric.result()
            results.update(result if isinstance(result, dict) else {metric.name: result})
        return results

    def train_step(self, data):
        x, labels, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        with tf.GradientTape() as tape:
            outputs = self(x, training=True, return_features=True, single_task_batch=True)
            losses = self.compute_losses(outputs, labels, sample_weight)
            # Under a tf.distribute strategy each replica's gradient is summed.
            scaled = losses["loss"] / tf.distribute.get_strategy().num_replicas_in_sync
        variables = self.trainable_variables
        gradients = tape.gradient(scaled, variables)
        self.optimizer.apply(gradients, variables)
        return self._update_metrics(losses, outputs, labels, sample_weight)

    def test_step(self, data):
        x, labels, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        outputs = self(x, training=False, return_features=True, single_task_batch=True)
        losses = self.compute_losses(outputs, labels, sample_weight)
        return self._update_metrics(losses, outputs, labels, sample_weight)

    # -------------------------------------------------------------- inference
    def task_id(self, task: str | int) -> int:
        """The id of ``task``, given by name or id."""
        if isinstance(task, (int, np.integer)):
            if not 0 <= int(task) < self.num_tasks:
                raise ValueError(f"Task id {task} out of range; the model has {self.num_tasks} tasks")
            return int(task)
        if task not in self.task_names:
            raise ValueError(f"Unknown task {task!r}; expected one of {self.task_names}")
        return self.task_names.index(task)

    def predict_texts(self, texts: Sequence[str], task: str | int, batch_size: int = 64, **kwargs) -> np.ndarray:
        """Class probabilities [len(texts), num_classes(task)] for raw texts of one task.

        Args:
            texts: sequence of str or bytes. Raw texts (bytes may hold invalid UTF-8).
            task: str or int. Task name or id.
            batch_size: int. Passed to ``predict``.
            **kwargs: passed to ``predict`` (for example ``verbose=0``).
        """
        if self.preprocessor is None:
            raise ValueError("predict_texts needs a model built with a preprocessor.")
        task_id = self.task_id(task)
        texts = [t if isinstance(t, bytes) else str(t) for t in texts]  # bytes pass as they are
        inputs = {TEXT: tf.constant(texts, tf.string), TASK_ID: tf.fill([len(texts)], task_id)}
        dataset = tf.data.Dataset.from_tensor_slices(inputs).batch(batch_size)
        probs = self.predict(dataset, **kwargs)
        return probs[:, : self.num_classes[task_id]]

    # ---------------------------------------------------------------- config
    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "task_names": self.task_names,
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
                "preprocessor": None if self.preprocessor is None else keras.layers.serialize(self.preprocessor),
                "per_task_metrics": self.per_task_metrics,
                "gradient_reversal_scale": self.gradient_reversal_scale,
                "adversarial_objective": self.adversarial_objective,
                "class_names": self.class_names,
            }
        )
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if config.get("preprocessor") is not None:
            config["preprocessor"] = keras.layers.deserialize(config["preprocessor"])
        return cls(**config)
