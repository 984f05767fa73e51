"""The base of every tf_aspmtl model: a preprocessor, raw rows in ``fit``/``evaluate``/``predict``, per-task export."""

from __future__ import annotations

import dataclasses
import os
import zipfile
from typing import Any, Callable, Sequence

import keras
import numpy as np
import tensorflow as tf

from tf_aspmtl.calibration import fit_temperature, scale_probabilities
from tf_aspmtl.optimizers import build_optimizer_before_tracing, compile_from_saved_config, resolve_optimizer
from tf_aspmtl.preprocessing.task_preprocessor import TaskPreprocessor, is_raw_rows
from tf_aspmtl.serialization import deserialize_fields

PROBABILITIES = "probabilities"
LOGITS = "logits"

EXPORT_FORMATS: dict[str, Callable[..., Any]] = {}
"""``Task.export`` formats besides Keras' own, by name: ``fn(model, filepath, verbose=..., **kwargs)``.

Registered by the package that writes them (``tf_aspmtl.export`` registers
``"tf_serving"`` when ``tf_aspmtl`` is imported), so models need not import it.
"""


def register_export_format(name: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorator: ``fn`` writes ``Task.export(..., format=name)``."""

    def register(fn: Callable[..., Any]) -> Callable[..., Any]:
        EXPORT_FORMATS[name] = fn
        return fn

    return register


@dataclasses.dataclass(frozen=True)
class ServingFunction:
    """One task's served computation and what it reads.

    Attributes:
        probabilities: raw texts tf.string [batch] -> float32 [batch, num_classes(task)].
        layers: tuple of the layers (and their variables) it reads, for the export to track.
    """

    probabilities: Callable[[tf.Tensor], tf.Tensor]
    layers: tuple


@keras.saving.register_keras_serializable(package="tf_aspmtl")
class Task(keras.Model):
    """A multi-task text classifier: raw text and task names in, each task's class probabilities out.

    What every model kind of the library shares lives here, once:

    - the preprocessor (a :class:`~tf_aspmtl.preprocessing.TaskPreprocessor`),
      which holds the task names and each task's classes and is the one
      route from raw text to what the model reads;
    - ``fit``, ``evaluate`` and ``predict`` take raw rows
      ``{"text": [...], "task": [...]}`` and raw labels (the values in the
      data), and turn them into the datasets the model kind needs
      (:meth:`training_dataset`, :meth:`evaluation_dataset`); tf.data
      datasets and tensors go to Keras as they are;
    - ``compile()`` with no arguments works (LazyAdam, 1e-3);
    - :meth:`export` writes one TF Serving SavedModel per task, through
      the serving interface every kind implements: :meth:`serving_function`
      and :meth:`serving_info`;
    - :meth:`transfer`, for kinds that can carry their shared space to a new task.

    ``call`` returns a dict with at least ``probabilities`` [batch,
    max_classes] (0 on classes a row's task does not have) and ``task_id``;
    ``predict`` returns the probabilities.

    Args:
        preprocessor: a :class:`~tf_aspmtl.preprocessing.TaskPreprocessor`.
        **kwargs: standard `keras.Model` arguments (name, ...).
    """

    default_batch_size = 64
    """Rows per batch when ``fit`` builds the batches and no ``batch_size`` is given."""
    training_dataset_options: tuple[str, ...] = ("seed",)
    """Keyword arguments of ``fit`` that go to :meth:`training_dataset` (raw rows only)."""
    takes_sparse_features = False
    """True for a kind whose prepared batches hold sparse n-gram features: built when made, it skips Keras' symbolic
    build under a ``tf.distribute`` strategy (:meth:`_maybe_symbolic_build`)."""

    def __init__(self, preprocessor: TaskPreprocessor, temperatures: Sequence[float] | None = None, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(preprocessor, TaskPreprocessor):
            raise ValueError(f"{type(self).__name__} needs a TaskPreprocessor (e.g. MultiTaskPreprocessor); "
                             f"got {type(preprocessor).__name__}")
        self.preprocessor = preprocessor
        self.temperatures = None
        self.calibrated_predict = True
        if temperatures is not None:
            self.set_temperatures(temperatures)

    # ------------------------------------------------------------ tasks
    @property
    def task_names(self) -> list[str]:
        return list(self.preprocessor.task_names)

    @property
    def num_tasks(self) -> int:
        return self.preprocessor.num_tasks

    @property
    def num_classes(self) -> list[int]:
        return self.preprocessor.num_classes

    @property
    def class_names(self) -> list[list[str]]:
        return self.preprocessor.class_names

    def task_id(self, task: str | int) -> int:
        """The id of ``task``, given by name or id."""
        return self.preprocessor.task_id(task)

    def task_ids(self, tasks: Sequence[Any]) -> np.ndarray:
        """Task names (or ids) to int32 ids; an unknown task names its row."""
        return self.preprocessor.task_ids(tasks)

    def encode_labels(self, tasks: Sequence[Any], labels: Sequence[Any]) -> np.ndarray:
        """Raw labels to class ids of each row's task; an unknown label names its row."""
        return self.preprocessor.encode_labels(tasks, labels)

    # --------------------------------------------------------- datasets
    def training_dataset(self, x, y, batch_size: int | None = None, **options) -> tuple[tf.data.Dataset, int | None]:
        """Raw rows and labels as the training stream ``fit`` runs on, and its steps per epoch."""
        texts, task_ids, labels = self.preprocessor.rows(x, y)
        return self.preprocessor.training_dataset(texts, task_ids, labels, batch_size or self.default_batch_size,
                                                  **options)

    def evaluation_dataset(self, x, y, batch_size: int | None = None, where: str = "x") -> tf.data.Dataset:
        """Raw rows and labels as the batches ``evaluate`` (and ``fit``'s validation) reads."""
        texts, task_ids, labels = self.preprocessor.rows(x, y, where=where)
        return self.preprocessor.evaluation_dataset(texts, task_ids, labels, batch_size or 64)

    def inference_dataset(self, x, batch_size: int | None = None) -> tf.data.Dataset:
        """Raw rows (tasks may mix) as batches of ``{"text", "task_id"}`` in row order."""
        texts, task_ids, _ = self.preprocessor.rows(x)
        return self.preprocessor.inference_dataset(texts, task_ids, batch_size or 64)

    # --------------------------------------------------- keras training
    def compile(self, optimizer=None, learning_rate: float = 1e-3, **kwargs):
        """Compiles with LazyAdam(``learning_rate``) unless ``optimizer`` is given.

        Args:
            optimizer: None (LazyAdam: sparse updates of the rows a batch reads),
                a name in :data:`tf_aspmtl.optimizers.OPTIMIZERS` or any Keras optimizer.
            learning_rate: float. Used when ``optimizer`` is None or a name.
            **kwargs: passed to ``keras.Model.compile`` (``loss`` is not
                used: the objective is the model's ``compute_loss``).
        """
        super().compile(optimizer=resolve_optimizer(optimizer, learning_rate), **kwargs)

    def compile_from_config(self, config):
        """Recompiles a loaded model with its saved optimizer (and its state, restored after)."""
        compile_from_saved_config(self, config)

    def fit(self, x=None, y=None, batch_size: int | None = None, epochs: int = 1, validation_data=None, **kwargs):
        """``keras.Model.fit`` that also takes raw rows.

        With ``x = {"text": [...], "task": [...]}`` (or a ``pandas.DataFrame``
        with those columns) and raw labels ``y``, the
        rows become the model kind's training stream (:meth:`training_dataset`;
        the keywords of ``training_dataset_options`` go there), one epoch
        being about one pass over the rows. ``validation_data`` may be raw
        ``(x, y)`` too. Anything else goes to ``keras.Model.fit`` as it is.
        """
        if int(epochs) < 1:
            raise ValueError(f"epochs must be >= 1; got {epochs}")
        options = {k: kwargs.pop(k) for k in self.training_dataset_options if k in kwargs}
        if is_raw_rows(x):
            if y is None:
                raise ValueError("fit on raw rows needs labels y.")
            if kwargs.get("validation_split"):  # Keras would name the training stream made below, not the rows
                raise ValueError("validation_split cuts arrays; with raw rows pass validation_data=(rows, labels), "
                                 "e.g. the last rows of each task held out (as the main job's dev split).")
            if kwargs.get("sample_weight") is not None:  # Keras would refuse it beside the stream made below
                raise ValueError(f"{type(self).__name__}.fit does not weigh raw rows (sample_weight); its raw-row "
                                 f"options are {list(self.training_dataset_options)}. Build a dataset of "
                                 "(inputs, labels, weights) batches instead.")
            x, steps = self.training_dataset(x, y, batch_size, **options)
            y, batch_size = None, None
            if steps is not None:
                kwargs.setdefault("steps_per_epoch", steps)
        elif options:
            raise ValueError(f"{sorted(options)} work with raw rows; build your own dataset otherwise.")
        if isinstance(validation_data, tuple) and validation_data and is_raw_rows(validation_data[0]):
            validation_data = self.evaluation_dataset(*validation_data[:2], where="validation_data")
        if isinstance(x, tf.data.Dataset):
            kwargs.setdefault("shuffle", False)  # a dataset is shuffled by its maker; Keras would only warn
        build_optimizer_before_tracing(self)
        return super().fit(x, y, batch_size=batch_size, epochs=epochs, validation_data=validation_data, **kwargs)

    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        """Keras' build before ``fit``/``evaluate`` under a ``tf.distribute`` strategy, except for sparse features.

        Keras 3.15 reduces the first batch over the replicas to learn its shapes (a ``tf.SparseTensor`` cannot be
        reduced) and traces the model on dense placeholders of them (a sparse matmul needs a ``SparseTensor``). A
        kind that :attr:`takes_sparse_features` is built when it is made; what is left is the optimizer's state.
        """
        if self._distribute_strategy is None or not self.takes_sparse_features:
            return super()._maybe_symbolic_build(iterator=iterator, data_batch=data_batch)
        with self.distribute_strategy.scope():
            if self.optimizer is not None and not self.optimizer.built:
                self.optimizer.build(self.trainable_variables)

    def evaluate(self, x=None, y=None, batch_size: int | None = None, **kwargs):
        """``keras.Model.evaluate`` that also takes raw ``{"text", "task"}`` rows (or a DataFrame) and raw labels."""
        if is_raw_rows(x):
            x, y, batch_size = self.evaluation_dataset(x, y, batch_size), None, None
        return super().evaluate(x, y, batch_size=batch_size, **kwargs)

    def predict(self, x, batch_size: int | None = None, calibrated: bool = True, **kwargs) -> np.ndarray:
        """Probabilities [rows, max_classes] in row order; raw rows (a mapping or a DataFrame with ``text`` and
        ``task``) may mix tasks (texts str or bytes).

        With :attr:`temperatures` set (:meth:`calibrate`), each row's probabilities are scaled by its task's
        temperature, unless ``calibrated=False``.
        """
        if is_raw_rows(x):
            x, batch_size = self.inference_dataset(x, batch_size), None
        if calibrated or self.temperatures is None:  # nothing to turn off: the traced function serves as it is
            self._trace_predict_for_every_batch_size(x)
            return super().predict(x, batch_size=batch_size, **kwargs)
        self.calibrated_predict, self.predict_function = False, None  # traced again without the temperatures
        try:
            self._trace_predict_for_every_batch_size(x)
            return super().predict(x, batch_size=batch_size, **kwargs)
        finally:
            self.calibrated_predict, self.predict_function = True, None

    def _trace_predict_for_every_batch_size(self, x) -> None:
        """Traces Keras' predict function once for batches of dataset ``x``'s spec (its batch size unknown).

        Keras calls it with each batch's own tensors: it is traced first for a full batch, then again for the
        last, shorter one (seconds each for an LSTM model). Traced first for the spec, every batch runs the one
        graph. Left to Keras under a ``tf.distribute`` strategy (its batches are per-replica values) and with
        ``steps_per_execution`` above 1 (its function takes several batches).
        """
        if (not isinstance(x, tf.data.Dataset) or self.run_eagerly or self.steps_per_execution != 1
                or tf.distribute.has_strategy() or self._distribute_strategy is not None):
            return
        self.make_predict_function()
        if self.predict_function.experimental_get_tracing_count() == 0:
            self.predict_function.get_concrete_function([x.element_spec])

    def predict_step(self, data):
        x, _, _ = keras.utils.unpack_x_y_sample_weight(data)
        outputs = self(x, training=False)
        if self.temperatures is None or not self.calibrated_predict:
            return outputs[PROBABILITIES]
        return self.calibrate_probabilities(outputs[PROBABILITIES], outputs["task_id"])

    # ------------------------------------------------------- calibration
    def set_temperatures(self, temperatures: Sequence[float] | None) -> None:
        """Sets one temperature per task (None: no calibration); ``predict`` and exports apply them."""
        if temperatures is not None:
            temperatures = [float(t) for t in temperatures]
            if len(temperatures) != self.num_tasks or not all(np.isfinite(t) and t > 0 for t in temperatures):
                raise ValueError(f"temperatures must be {self.num_tasks} finite numbers > 0, one per task "
                                 f"{self.task_names}; got {temperatures}")
        self.temperatures = temperatures
        self.predict_function = None

    def calibrate_probabilities(self, probabilities, task_ids) -> tf.Tensor:
        """Probabilities scaled by each row's task's temperature (:func:`tf_aspmtl.calibration.scale_probabilities`)."""
        table = tf.constant(self.temperatures, tf.float32)
        return scale_probabilities(probabilities, tf.gather(table, tf.cast(tf.reshape(task_ids, [-1]), tf.int32)))

    def calibrate(self, x, y, batch_size: int | None = None) -> list[float]:
        """Fits one temperature per task on held-out raw rows (dev, never test), minimising their log loss.

        Temperature never changes a predicted class, only the probabilities; a
        task with no rows keeps temperature 1. ``predict`` and exports apply
        them from now on (``predict(..., calibrated=False)`` and
        ``export(..., calibrated=False)`` do not); they are saved with the model.

        Returns:
            The temperatures, in task order.
        """
        _, task_ids, labels = self.preprocessor.rows(x, y)
        probabilities = self.predict(x, batch_size=batch_size, calibrated=False, verbose=0)
        temperatures = [fit_temperature(probabilities[task_ids == k], labels[task_ids == k])
                        if (task_ids == k).any() else 1.0 for k in range(self.num_tasks)]
        self.set_temperatures(temperatures)
        return temperatures

    # ---------------------------------------------------------- serving
    def serving_function(self, task_index: int, chunk_rows: int | None = None) -> ServingFunction:
        """The served computation of one task: raw texts to its class probabilities, and the layers it reads.

        A task's exported graph is this function: it should run (and the
        export holds) only what that task uses.

        Args:
            task_index: int. The task's id.
            chunk_rows: optional int. Rows per length-sorted chunk, for kinds whose cost grows with length.
        """
        raise NotImplementedError(f"{type(self).__name__} does not implement serving_function")

    def serving_info(self, is_multitask: bool) -> dict[str, Any]:
        """What an export of this model holds, in a few numbers (written to its ``export.json``)."""
        return {"class": type(self).__name__, "tasks_in_model": self.num_tasks}

    def export(self, filepath: str | os.PathLike, format: str = "tf_serving", verbose: bool = True, **kwargs):
        """Writes TF Serving-ready SavedModels: ``<filepath>/<task>/<version>/`` per task and ``models.config``.

        The same as ``python -m export``: raw text in, ``probabilities``,
        ``label_id`` and ``label`` out (:func:`tf_aspmtl.export.export_model`
        takes the keyword arguments: ``tasks``, ``version``, ``multitask``,
        ``chunk_rows``...). Other formats are Keras' own export of ``call``.

        Returns:
            list of :class:`tf_aspmtl.export.ExportedModel` (``tf_serving``).
        """
        if format in EXPORT_FORMATS:
            return EXPORT_FORMATS[format](self, filepath, verbose=verbose, **kwargs)
        return super().export(filepath, format=format, verbose=verbose, **kwargs)

    # --------------------------------------------------------- transfer
    def transfer(self, task: str, classes: Sequence, **kwargs) -> Task:
        """A model for a new task built on this model's shared space (kinds that have one)."""
        raise NotImplementedError(f"{type(self).__name__} has no shared space to transfer")

    # ----------------------------------------------------------- config
    def get_config(self):
        config = super().get_config()
        config["preprocessor"] = keras.layers.serialize(self.preprocessor)
        if self.temperatures is not None:  # absent when not calibrated, as in configs written before calibration
            config["temperatures"] = list(self.temperatures)
        return config

    @classmethod
    def load(cls, path: str | os.PathLike) -> Task:
        """A model saved with ``model.save(path)`` (safe mode, not compiled), checked to be a ``cls``.

        Raises:
            FileNotFoundError: no file at ``path``.
            ValueError: the file is not a ``.keras`` archive (truncated, damaged, or another kind of file), or it
                holds another kind of model; the message names the file and what it should be.
        """
        path = os.fspath(path)
        if not os.path.isfile(path):
            raise FileNotFoundError(f"No saved model at {path!r} (expected a .keras file written by model.save)")
        if not zipfile.is_zipfile(path):
            raise ValueError(f"{path!r} is not a .keras archive (a zip file written by model.save): it is damaged, "
                             "cut short or another kind of file; save the model again or use another copy")
        try:
            model = keras.models.load_model(path, compile=False, safe_mode=True)
        except (OSError, zipfile.BadZipFile, KeyError, ValueError, TypeError) as err:  # from_config's too
            raise ValueError(f"{path!r} cannot be read as a saved model ({type(err).__name__}: {err}); it is damaged "
                             "or was written by another version; save the model again or use another copy") from None
        if not isinstance(model, cls):
            raise ValueError(f"{path!r} holds a {type(model).__name__}; expected a {cls.__name__} "
                             "(a tf_aspmtl model)")
        return model

    @classmethod
    def from_config(cls, config):
        return cls(**deserialize_fields(config, "preprocessor"))
