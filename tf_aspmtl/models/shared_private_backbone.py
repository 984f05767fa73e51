"""The backbone: word embedding, the shared encoder, one private encoder per task, and the one-task dispatch."""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from tf_aspmtl.initializers import check_weight_initializer, weight_initializer
from tf_aspmtl.layers.embedding import SparseReadEmbedding
from tf_aspmtl.layers.encoders import ENCODERS, get_encoder
from tf_aspmtl.layers.task_mean_projection import TaskMeanProjection

SHARED = "shared"
PRIVATE = "private"
FEATURES = "features"


@keras.saving.register_keras_serializable(package="tf_aspmtl")
class SharedPrivateBackbone(keras.layers.Layer):
    """Token ids and task ids to the shared feature, the private feature and ``[shared; private]``.

    The embedding feeds a shared encoder (if ``use_shared``) and, for each
    row, the private encoder of the row's task (if ``use_private``). A
    batch whose rows all belong to one task (what training and evaluation
    batches are) runs only that task's private encoder, chosen in the graph
    with ``tf.switch_case``, so a step costs one shared and one private pass
    per row; a batch that mixes tasks is partitioned by task.

    Args:
        num_tasks: int. Number of tasks (private encoders).
        vocabulary_size: int. Rows of the word embedding (padding id 0 included).
        embedding_dim: int. Word vector size.
        encoder: str. ``"lstm"``, ``"bilstm"`` or ``"cnn"``.
        hidden_dim: int. Encoder size (LSTM units per direction, CNN filters per width).
        use_shared: bool. Build the shared encoder.
        use_private: bool. Build one private encoder per task.
        initializer: str. How the embedding and the encoders' kernels start
            (:data:`~tf_aspmtl.initializers.WEIGHT_INITIALIZERS`): ``"default"``,
            Keras' defaults, or ``"uniform"``, U(-0.1, 0.1) as in the paper.
            Word vectors set later (:meth:`set_word_vectors`) replace the embedding's.
        shared_mean_projection: bool. Pass the shared feature through a
            :class:`~tf_aspmtl.layers.TaskMeanProjection`: the directions in which the tasks' (moving-average)
            mean shared features differ are removed, in training and serving alike, so every task's mean shared
            feature is the same. Needs a shared encoder and two tasks or more.
        **kwargs: standard `keras.layers.Layer` arguments.

    Example:
    >>> backbone = SharedPrivateBackbone(2, vocabulary_size=50, embedding_dim=4, hidden_dim=3, use_private=True)
    >>> out = backbone(tf.constant([[5, 6, 0]]), tf.constant([1]))
    >>> out["features"].shape
    TensorShape([1, 6])
    """

    def __init__(
        self,
        num_tasks: int,
        vocabulary_size: int = 30000,
        embedding_dim: int = 50,
        encoder: str = "lstm",
        hidden_dim: int = 100,
        use_shared: bool = True,
        use_private: bool = False,
        initializer: str = "default",
        shared_mean_projection: bool = False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if int(num_tasks) < 1:
            raise ValueError(f"num_tasks must be >= 1; got {num_tasks}")
        if encoder not in ENCODERS:
            raise ValueError(f"Unknown encoder {encoder!r}; expected one of {sorted(ENCODERS)}")
        if not (use_shared or use_private):
            raise ValueError("At least one of use_shared and use_private must be True.")
        if int(vocabulary_size) < 2 or int(embedding_dim) < 1 or int(hidden_dim) < 1:
            raise ValueError(
                f"vocabulary_size must be >= 2 and embedding_dim, hidden_dim >= 1; got {vocabulary_size}, "
                f"{embedding_dim}, {hidden_dim}"
            )
        self.num_tasks = int(num_tasks)
        self.vocabulary_size = int(vocabulary_size)
        self.embedding_dim = int(embedding_dim)
        self.encoder = encoder
        self.hidden_dim = int(hidden_dim)
        self.use_shared = bool(use_shared)
        self.use_private = bool(use_private)
        self.initializer = check_weight_initializer(initializer)
        if shared_mean_projection and (not use_shared or self.num_tasks < 2):
            raise ValueError("shared_mean_projection removes the differences between the tasks' mean shared "
                             f"features: it needs a shared encoder and two tasks or more; got use_shared={use_shared}, "
                             f"num_tasks={self.num_tasks}")
        self.shared_mean_projection = bool(shared_mean_projection)
        self.embedding = SparseReadEmbedding(
            self.vocabulary_size, self.embedding_dim, mask_zero=True, name="embedding", dtype=self.dtype_policy,
            embeddings_initializer=weight_initializer(self.initializer, "uniform"),  # Keras' default: U(-0.05, 0.05)
        )
        self.shared_encoder = (
            get_encoder(encoder, self.hidden_dim, self.initializer, name="shared_encoder", dtype=self.dtype_policy)
            if use_shared else None
        )
        self.private_encoders = (
            [
                get_encoder(encoder, self.hidden_dim, self.initializer, name=f"private_encoder_{i}",
                            dtype=self.dtype_policy)
                for i in range(self.num_tasks)
            ]
            if use_private
            else []
        )
        self.shared_projection = (  # after the encoders: the weights they draw stay those of a backbone without it
            TaskMeanProjection(self.num_tasks, self.encoder_dim, name="shared_projection", dtype=self.dtype_policy)
            if self.shared_mean_projection else None
        )

    @property
    def encoder_dim(self) -> int:
        """Size of one encoder's output."""
        return (self.shared_encoder or self.private_encoders[0]).output_dim

    @property
    def feature_dim(self) -> int:
        """Size of ``[shared; private]``, the feature the heads read."""
        return self.encoder_dim * (int(self.use_shared) + int(self.use_private))

    def build(self, input_shape=None):
        if self.built:
            return
        seq_shape = (None, None, self.embedding_dim)
        self.embedding.build((None, None))
        if self.shared_encoder is not None:
            self.shared_encoder.build(seq_shape)
        for enc in self.private_encoders:
            enc.build(seq_shape)
        self.built = True

    def set_word_vectors(self, matrix: np.ndarray) -> None:
        """Initialises the word embedding with ``matrix`` [vocabulary_size, embedding_dim]."""
        matrix = np.asarray(matrix, dtype="float32")
        expected = (self.vocabulary_size, self.embedding_dim)
        if matrix.shape != expected:
            raise ValueError(f"Word-vector matrix has shape {matrix.shape}; the model expects {expected}")
        self.build()
        self.embedding.embeddings.assign(matrix)

    # ------------------------------------------------------------- forward
    def embed(self, token_ids):
        """Word vectors [batch, length, dim] and the real-token mask of token ids."""
        ids = tf.cast(token_ids, tf.int32)
        # An LSTM needs at least one step: give an all-empty batch one padding column.
        ids = tf.pad(ids, [[0, 0], [0, tf.maximum(0, 1 - tf.shape(ids)[1])]])
        return self.embedding(ids), ids != 0

    def _join(self, embedded, mask, private, training, task_ids, update_statistics):
        shared = None
        parts = [] if private is None else [private]
        if self.shared_encoder is not None:
            shared = self.shared_encoder(embedded, mask=mask, training=training)
            if self.shared_projection is not None:
                shared = self.shared_projection(shared, task_ids, training=update_statistics)
            parts.insert(0, shared)
        return shared, parts[0] if len(parts) == 1 else tf.concat(parts, axis=-1)

    @staticmethod
    def _outputs(shared, features, private) -> dict[str, tf.Tensor]:
        out = {FEATURES: features}
        if shared is not None:
            out[SHARED] = shared
        if private is not None:
            out[PRIVATE] = private
        return out

    def _private_features(self, embedded, mask, task_ids, training, single_task_batch):
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
                ["fit() and evaluate() need batches that hold one task each (pass raw arrays to fit, or see "
                 "tf_aspmtl.data.make_training_dataset); got task ids", task_ids],
            )
            with tf.control_dependencies([check]):
                features = one_task()
        else:
            features = tf.cond(homogeneous, one_task, mixed_tasks)
        features.set_shape([None, self.private_encoders[0].output_dim])
        return features

    def call(self, token_ids, task_ids, training=None, single_task_batch=False):
        """``{"shared", "private", "features"}`` for each row (a missing encoder's entry is absent).

        Args:
            token_ids: int [batch, length]. 0 = padding.
            task_ids: int [batch]. Each row's task.
            training: bool.
            single_task_batch: bool. Promise that every row has the same task
                (checked): only the ``tf.switch_case`` path is traced.
        """
        embedded, mask = self.embed(token_ids)
        return self.encode(embedded, mask, task_ids, training=training, single_task_batch=single_task_batch)

    def encode(self, embedded, mask, task_ids, training=None, single_task_batch=False,
               update_statistics=None) -> dict[str, tf.Tensor]:
        """:meth:`call` from the word vectors on: the encoders of :meth:`embed`'s output (or of a perturbed copy).

        Args:
            embedded: float [batch, length, dim]. Word vectors, as :meth:`embed` gives them.
            mask: bool [batch, length]. True on real tokens.
            task_ids: int [batch]. Each row's task.
            training: bool.
            single_task_batch: bool. As in :meth:`call`.
            update_statistics: bool or None. Whether this pass updates the shared projection's averages (None:
                ``training``); a step's extra passes (perturbed copies) leave them alone.
        """
        task_ids = tf.cast(tf.reshape(task_ids, [-1]), tf.int32)
        private = None
        if self.private_encoders:
            private = self._private_features(embedded, mask, task_ids, training, single_task_batch)
        update = training if update_statistics is None else update_statistics
        return self._outputs(*self._join(embedded, mask, private, training, task_ids, update), private)

    def unprojected_shared(self, token_ids, training=False) -> tf.Tensor:
        """The shared encoder's features [batch, dim] before the shared projection (what its means average)."""
        embedded, mask = self.embed(token_ids)
        return self.shared_encoder(embedded, mask=mask, training=training)

    def task_features(self, token_ids, task: int, training=False) -> dict[str, tf.Tensor]:
        """:meth:`call` for rows that all belong to task id ``task``, without the dispatch.

        Only the shared encoder and this task's private encoder enter the
        graph, so a graph traced from it (a served per-task classifier)
        holds nothing of the other tasks.
        """
        embedded, mask = self.embed(token_ids)
        private = self.private_encoders[task](embedded, mask=mask, training=training) if self.private_encoders else None
        task_ids = tf.fill([tf.shape(embedded)[0]], task)
        return self._outputs(*self._join(embedded, mask, private, training, task_ids, False), private)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "num_tasks": self.num_tasks,
                "vocabulary_size": self.vocabulary_size,
                "embedding_dim": self.embedding_dim,
                "encoder": self.encoder,
                "hidden_dim": self.hidden_dim,
                "use_shared": self.use_shared,
                "use_private": self.use_private,
            }
        )
        # Left out at its default, so a model's config, and the fingerprint that a run folder made before the
        # option records (tf_aspmtl.training.model_fingerprint), stay as they were and such a run resumes.
        if self.initializer != "default":
            config["initializer"] = self.initializer
        if self.shared_mean_projection:  # likewise
            config["shared_mean_projection"] = True
        return config
