"""The shared/private split in a linear model of word n-grams: a fast, strong multi-task model and ensemble member."""

from __future__ import annotations

from typing import Any, Hashable, Mapping, Sequence

import keras
import numpy as np
import pandas as pd
import tensorflow as tf

from tf_aspmtl.distribute import all_replica_rows, replica_share
from tf_aspmtl.layers.sparse_linear_head import (SparseLinearHead, load_interleaved_task_kernels, sparse_matmul,
                                                 task_kernel_slice, task_sparse_matmul)
from tf_aspmtl.metrics import PerTaskAccuracy
from tf_aspmtl.models.parallel_rows import parallel_row_slices
from tf_aspmtl.models.task import LOGITS, PROBABILITIES, ServingFunction, Task
from tf_aspmtl.preprocessing.ngram_feature_union import NgramFeatureUnion
from tf_aspmtl.preprocessing.ngram_features import NgramFeatures, nb_log_count_ratios
from tf_aspmtl.preprocessing.ngram_preprocessor import NGRAM_FEATURES, NgramPreprocessor
from tf_aspmtl.preprocessing.tokenizer import standardize
from tf_aspmtl.preprocessing.task_preprocessor import TASK, TASK_ID, TEXT, text_list


@keras.saving.register_keras_serializable(package="tf_aspmtl")
class SharedPrivateNgramClassifier(Task):
    """Logistic regression on n-gram tf-idf with a shared and a private weight matrix per task.

    A row of task ``k`` gets the logits ``x W_shared + x W_private[k] + b[k]``,
    where ``x`` is the :class:`~tf_aspmtl.preprocessing.NgramPreprocessor`'s
    features of its text. Every task trains ``W_shared``; only task ``k``
    trains ``W_private[k]``, and a step reads and updates only the rows of
    its batch's n-grams and tasks (:func:`~tf_aspmtl.layers.task_sparse_matmul`:
    an absent task's weights and optimizer state stay as they are). Early stopping on dev (and an optional L2
    penalty) decides how much each task leans on the shared weights: the
    split ASP-MTL makes with LSTMs, made here by "frustratingly easy" feature
    augmentation (Daumé III, 2007). It trains in seconds per epoch on a CPU,
    is a strong baseline on review sentiment, and its errors differ from an
    LSTM's, which makes it a useful ensemble member.

    It takes raw rows (:class:`Task`): ``fit`` on raw rows serves an endless
    stream of mixed-task batches reshuffled every pass (``seed`` fixes it;
    ``sample_weight``, one number per row, weighs each row's cross-entropy).
    ``call`` takes ``{"text": tf.string [batch], "task" or "task_id"}``, or
    the features the preprocessor's datasets hold (``{"ngram_features":
    tf.SparseTensor, "task_id"}``, computed once rather than every epoch), and
    returns ``{"probabilities": [batch, max_classes], "logits", "task_id"}``.
    A task's export holds the n-gram vocabulary and idf and one matrix,
    ``W_shared + W_private[task]`` (:meth:`task_head`).

    Args:
        preprocessor: an :class:`~tf_aspmtl.preprocessing.NgramPreprocessor` (tasks, classes, adapted features).
        l2: float >= 0. Weight of the L2 penalty; 0 (the default) leaves the
            regularisation to early stopping on dev and keeps every update
            sparse (only the batch's n-grams change, with LazyAdam).
        per_task_metrics: bool. Also log each task's accuracy.
        feature_dropout: float in [0, 1). In training, each n-gram of a row is left out with this probability and
            the rest scaled by ``1 / (1 - p)`` (dropout on the features: Wager, Wang & Liang, 2013, an adaptive
            regulariser of bag-of-words models); 0 (the default): off. A left-out n-gram's weights are not touched
            by the step. Which n-grams a step leaves out follows from ``feature_dropout_seed`` and the optimizer's
            step count alone, so a resumed run leaves out the same ones.
        feature_dropout_seed: int. The seed of those draws.
        task_nb_ratios: bool. The private path reads each row's features scaled by its own task's naive-Bayes
            log-count ratios instead of the ratios of all tasks (features of ``weighting="nb"`` only): a word's
            polarity differs between tasks. The scale (``r_task / r``, 0 where ``r`` is 0) is a non-trainable
            weight set by :meth:`adapt_task_nb_ratios` from the training rows; until then it is 1 (the model as
            without the option). Exports fold it into each task's kernel.
        label_smoothing: float in [0, 1). The training loss's targets: ``1 - label_smoothing`` on a row's label
            plus ``label_smoothing / n`` on each of its task's ``n`` classes (Szegedy et al., 2016); 0 (the
            default): off. Only the loss changes: predictions, exports and metrics are as without it.
        private_learning_rate_multiplier: float > 0. ``c``: the private path's learning rate relative to the
            shared path's. The private logits are ``c * x W_private[k]`` and the optimizer moves ``W_private``;
            Adam's step does not depend on the gradient's scale, so ``c * W_private`` moves ``c`` times as far per
            step as ``W_shared`` does: ``c < 1`` leans the tasks on the shared weights, ``c > 1`` on their own.
            1 (the default): the model as without it. Exports fold ``c`` into each task's kernel.
        shared_trainable: bool. False freezes ``W_shared`` (a model of :meth:`transfer`); True (the default).
        **kwargs: standard `keras.Model` arguments (name, ...).

    Example:
    >>> frame = pd.DataFrame({"text": ["good book", "bad book", "good film", "bad film"],
    ...                       "task": ["books", "books", "dvd", "dvd"], "label": ["pos", "neg", "pos", "neg"]})
    >>> model = SharedPrivateNgramClassifier.from_frame(frame, max_features=50)
    >>> model.compile()
    >>> _ = model.fit({"text": frame.text, "task": frame.task}, frame.label, epochs=2, verbose=0)
    >>> model.predict({"text": ["good book"], "task": ["books"]}, verbose=0).shape
    (1, 2)
    """

    takes_sparse_features = True
    training_dataset_options = ("seed", "sample_weight")

    def __init__(self, preprocessor: NgramPreprocessor, l2: float = 0.0, per_task_metrics: bool = True,
                 feature_dropout: float = 0.0, feature_dropout_seed: int = 0, task_nb_ratios: bool = False,
                 label_smoothing: float = 0.0, private_learning_rate_multiplier: float = 1.0,
                 shared_trainable: bool = True, **kwargs):
        super().__init__(preprocessor, **kwargs)
        if not isinstance(preprocessor, NgramPreprocessor):
            raise ValueError(f"preprocessor must be an NgramPreprocessor; got {type(preprocessor).__name__}")
        if not np.isfinite(l2) or l2 < 0:
            raise ValueError(f"l2 must be a finite number >= 0; got {l2!r}")
        if isinstance(feature_dropout, bool) or not np.isfinite(feature_dropout) or not 0 <= feature_dropout < 1:
            raise ValueError(f"feature_dropout must be a number in [0, 1); got {feature_dropout!r}")
        if isinstance(label_smoothing, bool) or not np.isfinite(label_smoothing) or not 0 <= label_smoothing < 1:
            raise ValueError(f"label_smoothing must be a number in [0, 1); got {label_smoothing!r}")
        multiplier = private_learning_rate_multiplier
        if isinstance(multiplier, bool) or not np.isfinite(multiplier) or multiplier <= 0:
            raise ValueError(f"private_learning_rate_multiplier must be a finite number > 0; got {multiplier!r}")
        self.private_learning_rate_multiplier = float(multiplier)
        self.l2 = float(l2)
        self.label_smoothing = float(label_smoothing)
        self.feature_dropout = float(feature_dropout)
        self.feature_dropout_seed = int(feature_dropout_seed)
        self.per_task_metrics = bool(per_task_metrics)
        if task_nb_ratios and isinstance(preprocessor.features, NgramFeatureUnion):
            raise ValueError("task_nb_ratios counts the word features' n-grams: it takes an NgramFeatures, not "
                             f"{type(preprocessor.features).__name__}")
        if task_nb_ratios and preprocessor.features.weighting != "nb":
            raise ValueError("task_nb_ratios scales the private path's NB-weighted features: the preprocessor's "
                             f"features need weighting='nb'; got {preprocessor.features.weighting!r}")
        self.task_nb_ratios = bool(task_nb_ratios)
        self.max_classes = max(self.num_classes)
        width, tasks, classes = preprocessor.vocabulary_size, self.num_tasks, self.max_classes
        self.shared_trainable = bool(shared_trainable)
        self.shared_kernel = self.add_weight(shape=(width, classes), initializer="zeros", name="shared_kernel",
                                             trainable=self.shared_trainable)
        # Row i * tasks + k is W_private[k]'s row i (task_sparse_matmul); the same memory as [width, tasks * classes].
        self.private_kernel = self.add_weight(shape=(width * tasks, classes), initializer="zeros",
                                              name="private_kernel")
        self.bias = self.add_weight(shape=(tasks, classes), initializer="zeros", name="bias")
        self.private_scale = None
        if self.task_nb_ratios:  # interleaved as the private kernel's rows: entry i * tasks + k scales column i for k
            self.private_scale = self.add_weight(shape=(width * tasks,), initializer="ones", trainable=False,
                                                 name="private_scale")
        self._class_mask = tf.constant([[j < n for j in range(classes)] for n in self.num_classes], dtype=tf.bool)
        self.task_loss_tracker = keras.metrics.Mean(name="task_loss")
        self.l2_loss_tracker = keras.metrics.Mean(name="l2_loss")
        self.task_accuracy = PerTaskAccuracy(self.task_names, per_task=self.per_task_metrics)
        self.built = True

    @classmethod
    def from_frame(cls, frame: pd.DataFrame, max_features: int | None = None, ngrams: int | None = None,
                   text_column: str = TEXT, task_column: str = TASK, label_column: str = "label",
                   classes: Mapping[str, Sequence[Hashable]] | None = None,
                   features: NgramFeatures | NgramFeatureUnion | None = None,
                   **kwargs) -> SharedPrivateNgramClassifier:
        """A model whose tasks, classes and n-gram features are learnt from ``frame`` (training rows only;
        :meth:`NgramPreprocessor.from_frame` takes the arguments up to ``features``, e.g. NB-weighted
        ``NgramFeatures(weighting="nb")`` learnt from the frame's labels; the constructor the ``**kwargs``)."""
        preprocessor = NgramPreprocessor.from_frame(frame, max_features, ngrams, text_column, task_column,
                                                    label_column, classes, features)
        return cls(preprocessor, **kwargs)

    def with_class_names(self, class_names: Sequence[Sequence[str]]) -> SharedPrivateNgramClassifier:
        """The same model (same features, weights and per-task temperatures) with its classes renamed, e.g.
        ``"0"``/``"1"`` to ``"negative"``/``"positive"``, to serve those names or to average it with models that use
        them.

        Args:
            class_names: one sequence of names per task, as many as the task has classes, in class-id order.
        """
        class_names = [[str(c) for c in names] for names in class_names]
        if [len(c) for c in class_names] != self.num_classes:
            raise ValueError(f"class_names must keep each task's number of classes {self.num_classes}; got "
                             f"{[len(c) for c in class_names]}")
        preprocessor = NgramPreprocessor(self.task_names, dict(zip(self.task_names, class_names)),
                                         self.preprocessor.features, name=self.preprocessor.name)
        copy = type(self)(preprocessor, l2=self.l2, per_task_metrics=self.per_task_metrics,
                          feature_dropout=self.feature_dropout, feature_dropout_seed=self.feature_dropout_seed,
                          task_nb_ratios=self.task_nb_ratios, label_smoothing=self.label_smoothing,
                          private_learning_rate_multiplier=self.private_learning_rate_multiplier,
                          shared_trainable=self.shared_trainable, temperatures=self.temperatures, name=self.name)
        copy.set_weights(self.get_weights())
        return copy

    def transfer(self, task: str, classes: Sequence, mode: str = "bc", train_shared: bool = False,
                 compile: bool = True, **kwargs) -> SharedPrivateNgramClassifier:
        """A model of a new task on this model's shared weights (the paper's Table 3, for the linear model).

        The shared space of a linear model is its shared kernel: the new model has this model's features (the
        same adapted layer: n-grams, idf, NB ratios), a copy of ``W_shared`` (frozen unless ``train_shared``) and
        a new private kernel and bias for ``task``, from zero, so its logits start as the shared weights' and its
        training learns the task's own correction (``"bc"``: the shared and a new private path). ``"sc"``, a new
        output layer on frozen shared features, has no counterpart: the shared path's features are the n-grams
        themselves, so a new output layer would be a new model. The other settings (``l2``, ``label_smoothing``,
        ``private_learning_rate_multiplier``, ``feature_dropout``) are this model's unless given; with
        ``task_nb_ratios``, call :meth:`adapt_task_nb_ratios` with the new task's rows before training.

        Args:
            task: str. The new task's name.
            classes: sequence. Its label values (class id j is ``classes[j]``), at most as many as the shared
                kernel has columns. When every source task has the same classes and these are them in another
                order, each class keeps its column of ``W_shared``; otherwise class id j gets column j.
            mode: ``"bc"``.
            train_shared: bool. Also train the copied ``W_shared``.
            compile: bool. Compile with the defaults of :meth:`compile`.
            **kwargs: other constructor arguments of the new model.

        Raises:
            ValueError: another mode, or more classes than the shared kernel's columns.
        """
        if mode != "bc":
            raise ValueError(f"The n-gram model transfers in mode 'bc' only (its shared weights and a new private "
                             f"path); got {mode!r}: 'sc' would put a new output layer on the n-grams themselves")
        classes = list(classes)
        if not 1 <= len(classes) <= self.max_classes:
            raise ValueError(f"{task!r} has {len(classes)} classes; the shared kernel has {self.max_classes} columns")
        preprocessor = NgramPreprocessor([task], {task: classes}, self.features, name=self.preprocessor.name)
        settings = {"l2": self.l2, "per_task_metrics": self.per_task_metrics, "feature_dropout": self.feature_dropout,
                    "feature_dropout_seed": self.feature_dropout_seed, "task_nb_ratios": self.task_nb_ratios,
                    "label_smoothing": self.label_smoothing,
                    "private_learning_rate_multiplier": self.private_learning_rate_multiplier, "name": f"bc_{task}"}
        new = type(self)(preprocessor, **{**settings, **kwargs, "shared_trainable": bool(train_shared)})
        columns = list(range(len(classes)))  # W_shared's column j is class id j of the source tasks
        source_classes = {tuple(names) for names in self.class_names}
        if len(source_classes) == 1:  # every source task has these classes: a class keeps its column, by name
            (names,) = source_classes
            if sorted(names) == sorted(map(str, classes)):
                columns = [names.index(str(c)) for c in classes]
        new.shared_kernel.assign(tf.gather(self.shared_kernel, columns, axis=1))
        if compile:
            new.compile()
        return new

    @property
    def features(self):
        """The n-gram features (the preprocessor's)."""
        return self.preprocessor.features

    @property
    def metrics(self):
        """Keras' (``loss``, the task loss, the accuracies), and the L2 term's mean only when ``l2 > 0``."""
        return [m for m in super().metrics if m is not self.l2_loss_tracker or self.l2 > 0]

    # ----------------------------------------------------------- forward
    def call(self, inputs, training=None):
        if not (isinstance(inputs, dict) and NGRAM_FEATURES in inputs and TASK_ID in inputs):
            inputs = self.preprocessor(inputs)  # raw {"text", "task"}; the datasets hold the features already
        x, task_ids = inputs[NGRAM_FEATURES], inputs[TASK_ID]
        if training and self.feature_dropout > 0:
            x = self._dropped_features(x)
        shared = sparse_matmul(x, self.shared_kernel)
        private = task_sparse_matmul(self._private_features(x, task_ids), self.private_kernel, task_ids,
                                     self.num_tasks)
        if self.private_learning_rate_multiplier != 1.0:  # left out at 1: the graph of the model without it
            private = self.private_learning_rate_multiplier * private
        logits = shared + private + tf.gather(self.bias, task_ids)
        logits = tf.where(tf.gather(self._class_mask, task_ids), logits, tf.fill(tf.shape(logits), -1e9))
        return {PROBABILITIES: tf.nn.softmax(logits), LOGITS: logits, TASK_ID: task_ids}

    def _private_features(self, x: tf.SparseTensor, task_ids: tf.Tensor) -> tf.SparseTensor:
        """``x`` as the private path reads it: with ``task_nb_ratios``, each value scaled for its row's task."""
        if self.private_scale is None:
            return x
        task_of_value = tf.gather(tf.cast(tf.reshape(task_ids, [-1]), tf.int64), x.indices[:, 0])
        scale = tf.gather(self.private_scale, x.indices[:, 1] * self.num_tasks + task_of_value)
        return tf.SparseTensor(x.indices, x.values * scale, x.dense_shape)

    def adapt_task_nb_ratios(self, texts, labels, tasks, batch_size: int = 512) -> None:
        """Sets the private path's scale ``r_task / r`` (``task_nb_ratios``) from training rows.

        Each task's NB log-count ratios are counted over its own rows as :meth:`NgramFeatures.adapt` counts the
        ratios ``r`` of all rows (with the features' ``nb_smoothing``); columns whose ``r`` is 0 (and column 0,
        outside the vocabulary) get 0, as their features are 0.

        Args:
            texts: the training texts (those the features' NB ratios were learnt from).
            labels: 0/1 per text (1 positive).
            tasks: each text's task name.
            batch_size: texts counted at a time.

        Raises:
            ValueError: the option is off, or the inputs' lengths, labels or task names are wrong.
        """
        if self.private_scale is None:
            raise ValueError(f"{self.name} has task_nb_ratios off: there is no private scale to set")
        texts = text_list(texts, "texts")
        labels, tasks = np.asarray(labels), list(tasks)
        if not (len(texts) == len(labels) == len(tasks)) or not np.isin(labels, (0, 1)).all():
            raise ValueError(f"adapt_task_nb_ratios needs one 0/1 label and one task per text; got {len(texts)} "
                             f"texts, {len(labels)} labels, {len(tasks)} tasks")
        task_ids = self.task_ids(tasks)  # as the data names them; an unknown one: ValueError naming its row
        width, num_tasks = self.features.vocabulary_size, self.num_tasks
        present = np.zeros((num_tasks, 2, width), np.int64)  # rows of each task and class holding each n-gram
        for start in range(0, len(texts), batch_size):
            counts = self.features.count(standardize(tf.constant(texts[start:start + batch_size], tf.string)))
            rows, columns = counts.indices[:, 0].numpy() + start, counts.indices[:, 1].numpy()
            np.add.at(present, (task_ids[rows], labels[rows].astype(int), columns), 1)
        shared = self.features.nb_ratio.numpy().astype(np.float64)
        scale = np.zeros((width, num_tasks))
        for k in range(num_tasks):
            own = nb_log_count_ratios(present[k, 1, 1:], present[k, 0, 1:], self.features.nb_smoothing)
            scale[1:, k] = np.divide(own, shared[1:], out=np.zeros_like(own), where=shared[1:] != 0)
        self.private_scale.assign(scale.reshape(-1).astype("float32"))

    def _dropped_features(self, x: tf.SparseTensor) -> tf.SparseTensor:
        """``x`` without a random ``feature_dropout`` share of its entries, the rest scaled by ``1 / (1 - p)``; the
        draws are a function of ``feature_dropout_seed`` and the optimizer's step (0 without an optimizer)."""
        optimizer = getattr(self, "optimizer", None)  # not compiled: no attribute
        step = optimizer.iterations if optimizer is not None else 0
        seed = tf.stack([tf.constant(self.feature_dropout_seed, tf.int64), tf.cast(step, tf.int64)])
        kept = tf.random.stateless_uniform(tf.shape(x.values), seed=seed) >= self.feature_dropout
        x = tf.sparse.retain(x, kept)
        return tf.SparseTensor(x.indices, x.values * (1.0 / (1.0 - self.feature_dropout)), x.dense_shape)

    def load_own_variables(self, store):
        super().load_own_variables(load_interleaved_task_kernels(
            store, self._trainable_variables + self._non_trainable_variables, self.private_kernel))

    # ----------------------------------------------------------- training
    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """Mean cross-entropy of the labelled rows (against smoothed targets with ``label_smoothing``) plus
        ``l2 * (|W_shared|^2 + |W_private|^2)``; in training under a strategy, the mean over the global batch's rows
        (each row's cross-entropy is gathered, not its sparse features), the total scaled by ``1 / replicas``."""
        labels = tf.cast(tf.reshape(y, [-1]), tf.int32)
        labelled = labels >= 0
        weight = tf.cast(labelled, tf.float32)
        if sample_weight is not None:
            weight *= tf.cast(tf.reshape(sample_weight, [-1]), tf.float32)
        if self.label_smoothing > 0:
            per_row = tf.nn.softmax_cross_entropy_with_logits(self._smoothed_targets(labels, y_pred[TASK_ID]),
                                                              y_pred[LOGITS])
        else:
            per_row = tf.nn.sparse_softmax_cross_entropy_with_logits(tf.maximum(labels, 0), y_pred[LOGITS])
        own_weight = tf.reduce_sum(weight)
        if training:  # under a strategy: the mean over every replica's rows (one process: unchanged)
            per_row, weight = all_replica_rows([per_row, weight])
        task_loss = tf.math.divide_no_nan(tf.reduce_sum(per_row * weight), tf.reduce_sum(weight))
        self.task_loss_tracker.update_state(task_loss, sample_weight=own_weight)
        total = task_loss
        if self.l2 > 0:  # its gradient is dense: every step then updates every weight
            l2_loss = tf.reduce_sum(tf.square(self.shared_kernel)) + tf.reduce_sum(tf.square(self.private_kernel))
            self.l2_loss_tracker.update_state(l2_loss)
            total += self.l2 * l2_loss
        return replica_share(total)

    def _smoothed_targets(self, labels: tf.Tensor, task_ids: tf.Tensor) -> tf.Tensor:
        """float32 ``[batch, max_classes]``: ``1 - e`` on each row's label plus ``e / n`` on its task's ``n``
        classes (0 on the classes its task lacks, whose logits are masked); an unlabelled row's (-1) is unused."""
        valid = tf.cast(tf.gather(self._class_mask, task_ids), tf.float32)
        spread = valid * (self.label_smoothing / tf.reduce_sum(valid, axis=-1, keepdims=True))
        return (1.0 - self.label_smoothing) * tf.one_hot(tf.maximum(labels, 0), self.max_classes) + spread

    def compute_metrics(self, x, y, y_pred, sample_weight=None):
        self.task_accuracy.update_state(y, y_pred[LOGITS], y_pred[TASK_ID], sample_weight)
        return self.get_metrics_result()

    # ----------------------------------------------------------- serving
    def task_head(self, task: str | int) -> SparseLinearHead:
        """A :class:`SparseLinearHead` of one task's current weights: kernel ``W_shared + W_private[task]``
        (its classes only) and the task's bias; ``head(features(texts))`` are that task's logits."""
        k = self.task_id(task)
        classes = self.num_classes[k]
        private = task_kernel_slice(self.private_kernel, k, self.num_tasks, classes)
        if self.private_scale is not None:  # x (s_k * W_private[k]) = (x * s_k) W_private[k]
            private = tf.reshape(self.private_scale, [-1, self.num_tasks])[:, k : k + 1] * private
        if self.private_learning_rate_multiplier != 1.0:
            private = self.private_learning_rate_multiplier * private
        kernel = self.shared_kernel[:, :classes] + private
        return SparseLinearHead(self.preprocessor.vocabulary_size, classes, kernel=kernel,
                                bias=self.bias[k, :classes], name=f"{self.name}_{self.task_names[k]}_head")

    def serving_function(self, task_index: int, chunk_rows: int | None = None) -> ServingFunction:
        """The n-gram features and this task's folded :meth:`task_head` (built from the current weights);
        ``chunk_rows`` is ignored: nothing here runs over a text's length. A batch's logits are computed in
        :func:`~tf_aspmtl.models.parallel_rows.parallel_row_slices` (the same logits, on two cores)."""
        head = self.task_head(task_index)
        features = self.preprocessor.features
        if not features.built:  # a loaded model that was never called: one call builds it
            features(tf.constant([""]))

        def probabilities(texts: tf.Tensor) -> tf.Tensor:
            return tf.nn.softmax(parallel_row_slices(lambda rows: head(features(rows)), tf.reshape(texts, [-1])))

        return ServingFunction(probabilities, (features, head))

    def serving_info(self, is_multitask: bool) -> dict[str, Any]:
        weighting = " scaled by NB log-count ratios" if self.features.weighting == "nb" else ""
        characters = " and character n-grams" if isinstance(self.features, NgramFeatureUnion) else ""
        return {**super().serving_info(is_multitask), "features": f"word n-gram{characters} tf-idf{weighting}",
                "ngrams": self.features.ngrams, "vocabulary_size": self.features.vocabulary_size,
                "heads_in_graph": self.num_tasks if is_multitask else 1, "encoders_run_per_review": 0}

    def get_config(self):
        config = super().get_config()
        config.update({"l2": self.l2, "per_task_metrics": self.per_task_metrics})
        if self.feature_dropout > 0:  # left out when off: configs (and run folders' fingerprints) stay as they were
            config.update({"feature_dropout": self.feature_dropout, "feature_dropout_seed": self.feature_dropout_seed})
        if self.task_nb_ratios:
            config["task_nb_ratios"] = True
        if self.label_smoothing > 0:
            config["label_smoothing"] = self.label_smoothing
        if self.private_learning_rate_multiplier != 1.0:
            config["private_learning_rate_multiplier"] = self.private_learning_rate_multiplier
        if not self.shared_trainable:
            config["shared_trainable"] = False
        return config
