"""Training across processes or machines with ``tf.distribute.MultiWorkerMirroredStrategy``.

``python -m experiments.train --strategy multi-worker`` (``python -m experiments.ngram`` too, for the n-gram model)
and :func:`tf_aspmtl.training.fit_with_dev_selection` use these helpers.
Every worker runs the same command with its own ``TF_CONFIG``, for example on
the first of two machines::

    TF_CONFIG='{"cluster": {"worker": ["host0:12345", "host1:12345"]},
                "task": {"type": "worker", "index": 0}}'

(``"index": 1`` on the second). Worker 0 is the chief: it writes the run
folder; worker ``i`` writes to ``<run folder>/worker-<i>``.
``python -m experiments.launch train`` (``... launch ngram``) starts such workers on one machine.

How the data is split. The model's ``fit``/``evaluate`` need every
per-replica batch to hold rows of ONE task, and reject an empty batch too.
``tf.distribute``'s own splitting (``experimental_distribute_dataset``)
re-batches each global batch into per-replica pieces. Where it can infer a
static batch size it uses ``Dataset.rebatch``, which fills per-replica
batches across batch boundaries (the tail of one task's batch would join
the head of the next task's); where it cannot, as with our pipelines
(length bucketing; per-task evaluation batches concatenated), it cuts each
batch on its own, which keeps tasks apart but hands a replica an empty batch
whenever a batch has fewer rows than there are replicas (a task's last dev
batch can hold one row). So the datasets go through
``distribute_datasets_from_function`` instead, where tf.distribute neither
re-batches nor auto-shards, and we shard ourselves; the per-worker datasets
carry ``auto_shard_policy = OFF`` to say so:

* training (:func:`distribute_training_dataset`): sharding by data, within
  each batch. Every worker builds the same seeded stream of global batches
  and keeps its replicas' slices of each batch, so all replicas of a step see
  rows of the same batch, hence the same task (the model divides each
  replica's loss by the number of replicas). ``--batch-size`` stays the
  global batch. In training, every term of the objective is computed on the
  rows of every replica (:func:`all_replica_rows`, through
  :meth:`~tf_aspmtl.objective.MultiTaskObjective.global_batch`): the task
  loss (a mean over the labelled rows), the adversarial, confusion and
  perturbation losses (AT's and VAT's final means; each row's perturbation
  depends on that row alone, so each replica finds its own rows'), the
  mean-matching term (batch means per task) and the difference loss (which
  pairs rows). So each term's value on every replica, and the sum of the
  replicas' gradients, are the one-process ones of the global batch, whatever
  the split (a batch not divisible by the replicas) and however the labelled
  rows fall (``--unlabeled-fraction``), and the loss trackers report the
  one-process values. The state written from a training batch is the global
  batch's too: the discriminator memory stores every replica's rows, and the
  shared mean projection averages them (``FeatureMemory``,
  ``TaskMeanProjection``), so later steps read what one process would. The
  terms over the memory's rows were already the same on every replica.
  Not exact: random draws. Each replica draws dropout masks and VAT's random
  directions for its own rows from the same generator state, so they are
  not the draws one process makes for the global batch (the replicas' masks
  repeat each other's); the gradient is then that of a different, equally
  distributed draw (the n-gram model's dropped features too). The other
  models gather their loss's rows the same way: ``WideAndDeepMTL`` is a
  ``MultiTaskClassifier`` (its gathered logits hold the wide path's);
  ``SharedPrivateNgramClassifier`` gathers each row's cross-entropy and
  weight (not the sparse features) and takes the mean over the global
  batch's labelled rows; ``EncoderLanguageModel`` gathers each target
  token's cross-entropy (its sampled negatives follow the seed and the step,
  the same on every replica) and, as every model here must with its own
  ``compute_loss``, scales its loss by ``1 / replicas``. Batches of sparse
  features (the n-gram and wide-and-deep models') are sliced by rows too;
  those models skip Keras' symbolic build, which cannot reduce a
  ``tf.SparseTensor`` (``Task.takes_sparse_features``).
* evaluation (:func:`distribute_eval_dataset`): no sharding. Every replica
  evaluates the whole dataset, so each replica's metrics are exactly the
  one-process values (and so is any sum or mean of them over replicas), no
  replica ever gets an empty or mixed batch, and every worker runs the same
  number of steps. Dev and test are small, so the repeated work is cheap.
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import time
from pathlib import Path

import tensorflow as tf

logger = logging.getLogger(__name__)
STRATEGIES = ("default", "multi-worker")


def cluster_spec_from_env() -> tuple[dict, dict]:
    """``(cluster, task)`` from the ``TF_CONFIG`` environment variable, checked."""
    raw = os.environ.get("TF_CONFIG")
    if not raw:
        raise ValueError(
            "--strategy multi-worker needs TF_CONFIG, e.g. "
            '{"cluster": {"worker": ["host0:12345", "host1:12345"]}, "task": {"type": "worker", "index": 0}}'
        )
    try:
        config = json.loads(raw)
        cluster, task = config["cluster"], config["task"]
        task_type, index = task["type"], int(task["index"])
    except (ValueError, KeyError, TypeError) as e:
        raise ValueError(f"TF_CONFIG is not a valid cluster description ({e}): {raw!r}") from None
    if task_type not in cluster or not 0 <= index < len(cluster[task_type]):
        raise ValueError(f"TF_CONFIG task {task} is not in its cluster {cluster}")
    return cluster, {"type": task_type, "index": index}


def is_chief() -> bool:
    """Whether this process writes the run's outputs: the ``chief``, or worker 0 when there is none."""
    if not os.environ.get("TF_CONFIG"):
        return True
    cluster, task = cluster_spec_from_env()
    if "chief" in cluster:
        return task["type"] == "chief"
    return task["type"] == "worker" and task["index"] == 0


def worker_run_dir(run_dir: Path) -> Path:
    """``run_dir`` on the chief, ``run_dir/<type>-<index>`` elsewhere, so workers never share files."""
    if is_chief():
        return run_dir
    _, task = cluster_spec_from_env()
    return run_dir / f"{task['type']}-{task['index']}"


class _MultiWorkerMirroredStrategy(tf.distribute.MultiWorkerMirroredStrategy):
    """MultiWorkerMirroredStrategy with the two ``reduce`` calls Keras 3 makes and it cannot serve.

    With more than one worker, Keras 3.15's ``fit``/``evaluate`` fail in two places:

    * ``_maybe_symbolic_build`` calls ``reduce("MEAN", batch)`` on the first
      input batch, a nested structure such as ``({"token_ids": ..., "task_id":
      ...}, labels)``, only to learn its shapes; the strategy cannot reduce a
      structure (keras-team/keras#20329). Here a structure gets the first local
      replica's values: the shapes Keras wants, with no all-reduce of token ids.
    * the logs of every step are reduced with ``reduce("MEAN", v, axis=0)``,
      which fails on scalars ("Invalid reduction dimension 0 for input with 0
      dimensions", tensorflow/tensorflow#72388). Here a scalar is averaged over
      the replicas, which is what Keras's ``"mean"`` reduction means.

    Everything else goes to the strategy unchanged.
    """

    def reduce(self, reduce_op, value, axis=None):
        if not isinstance(value, tf.distribute.DistributedValues) and len(tf.nest.flatten(value)) > 1:
            return tf.nest.map_structure(lambda v: self.experimental_local_results(v)[0], value)
        if axis is not None and self.experimental_local_results(value)[0].shape.rank == 0:
            axis = None
        return super().reduce(reduce_op, value, axis=axis)


def make_strategy(name: str) -> tf.distribute.Strategy | None:
    """The strategy for ``--strategy name``: None (one process) or MultiWorkerMirroredStrategy.

    Call it first thing: MultiWorkerMirroredStrategy has to be created before
    any other TensorFlow op runs, and it blocks until every worker has started.
    """
    if name not in STRATEGIES:
        raise ValueError(f"Unknown strategy {name!r}; expected one of {list(STRATEGIES)}")
    if name == "default":
        return None
    cluster_spec_from_env()  # a clear error before TensorFlow's own
    strategy = _MultiWorkerMirroredStrategy()
    atexit.register(_leave_cluster, strategy)
    return strategy


def _leave_cluster(strategy: tf.distribute.Strategy, linger_s: float = 1.0) -> None:
    """At exit: wait for every worker (an all-reduce), then let the chief outlive the others a moment.

    Worker 0 hosts the cluster's coordination service; when it exits first the
    others spend seconds retrying it and log "the leader task was preempted".
    """
    try:
        strategy.reduce("SUM", strategy.run(lambda: tf.constant(1.0)), axis=None)
    except Exception as e:  # noqa: BLE001 - a peer that already failed; nothing left to wait for
        logger.warning("could not synchronise with the other workers at exit: %s", e)
        return
    if is_chief():
        time.sleep(linger_s)


def all_replica_rows(tensors: list[tf.Tensor]) -> list[tf.Tensor]:
    """Each of ``tensors`` ([rows, ...], one row per example) with the rows of every replica, in replica order.

    In a replica context of a strategy with several replicas in sync, each
    holding its slice of one global batch, this gives every replica the
    global batch's rows (``ReplicaContext.all_gather`` on axis 0; slices may
    differ in length). The gradient is TensorFlow's own: each replica's
    upstream gradients are summed over the replicas and each replica keeps
    its own rows' part. A loss computed on these rows is then the global
    batch's value on every replica, and, scaled by ``1 / replicas`` as the
    model scales its loss, the replicas' gradients add up to the global
    batch's gradient. Anywhere else (no strategy, one replica, a
    cross-replica context) the tensors are returned as they are.

    Every replica must call it, in the same order (it is a collective).
    """
    context = tf.distribute.get_replica_context()
    if context is None or context.num_replicas_in_sync == 1:
        return list(tensors)
    # One gather per tensor: gathered together, an int tensor (task ids) and float ones make the gradient's
    # all-reduce fail ("Inputs to batch_reduce_to must be either all on the host or all on the compute devices").
    # Through an identity made here, on the replica's device: an input of the step (labels, sample weights) may
    # have no device under MultiWorkerMirroredStrategy, which its gather rejects ("destinations can not be empty").
    return [context.all_gather(tf.identity(t), axis=0) for t in tensors]


def replica_share(loss: tf.Tensor) -> tf.Tensor:
    """A custom ``compute_loss``'s total as each replica returns it: divided by the replicas in sync (Keras sums the
    replicas' gradients and multiplies its logged loss back, as its own compiled losses assume); as it is in one
    process."""
    replicas = tf.distribute.get_strategy().num_replicas_in_sync
    return loss * (1.0 / replicas) if replicas > 1 else loss


def _without_auto_shard(dataset: tf.data.Dataset) -> tf.data.Dataset:
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.OFF
    return dataset.with_options(options)


def _rows(batch, start, stop):
    """Rows ``[start, stop)`` of every tensor of ``batch``; a ``tf.SparseTensor``'s (n-gram features) too."""
    def cut(t):
        if isinstance(t, tf.SparseTensor):
            start_, size = tf.cast(start, tf.int64), tf.cast(stop - start, tf.int64)
            zero = tf.zeros_like(t.dense_shape[1:])
            return tf.sparse.slice(t, tf.concat([[start_], zero], 0), tf.concat([[size], t.dense_shape[1:]], 0))
        return t[start:stop]

    return tf.nest.map_structure(cut, batch)


def distribute_training_dataset(strategy: tf.distribute.Strategy, dataset: tf.data.Dataset):
    """Each replica's slice of every global batch of ``dataset`` (an endless stream of one-task batches).

    Every worker must build ``dataset`` identically (same data, same seed).
    Global batches need at least as many rows as there are replicas (the
    training stream's batches are always full).

    Returns:
        A ``tf.distribute.DistributedDataset`` for ``model.fit``.

    A ``tf.SparseTensor`` (the n-gram and wide-and-deep models' features) is sliced by rows as a dense tensor is.
    """
    replicas = strategy.num_replicas_in_sync

    def per_worker(context: tf.distribute.InputContext) -> tf.data.Dataset:
        local = replicas // context.num_input_pipelines
        first = context.input_pipeline_id * local

        def bounds(batch):
            rows = tf.shape(tf.nest.flatten(batch)[-1])[0]
            check = tf.debugging.assert_greater_equal(
                rows, replicas, message="a training batch has fewer rows than there are replicas"
            )
            with tf.control_dependencies([check]):
                return [(r * rows) // replicas for r in range(first, first + local + 1)]

        def one_slice(*batch):
            start, stop = bounds(batch)
            return _rows(batch, start, stop)

        def local_slices(*batch):  # several replicas on this worker: they take consecutive elements
            cut = bounds(batch)
            parts = [tf.data.Dataset.from_tensors(_rows(batch, cut[i], cut[i + 1])) for i in range(local)]
            out = parts[0]
            for part in parts[1:]:
                out = out.concatenate(part)
            return out

        sliced = dataset.map(one_slice) if local == 1 else dataset.flat_map(local_slices)
        return _without_auto_shard(sliced)

    return strategy.distribute_datasets_from_function(per_worker)


def distribute_eval_dataset(strategy: tf.distribute.Strategy, dataset: tf.data.Dataset):
    """The whole of the finite ``dataset`` for every replica (see the module docstring)."""
    replicas = strategy.num_replicas_in_sync

    def per_worker(context: tf.distribute.InputContext) -> tf.data.Dataset:
        local = replicas // context.num_input_pipelines
        if local > 1:  # several replicas on this worker: each takes one copy of every batch
            dataset_ = dataset.flat_map(lambda *batch: tf.data.Dataset.from_tensors(batch).repeat(local))
        else:
            dataset_ = dataset
        return _without_auto_shard(dataset_)

    return strategy.distribute_datasets_from_function(per_worker)


def distribute_datasets(strategy: tf.distribute.Strategy | None, train_ds, dev_ds, test_ds):
    """``(train, dev, test)`` ready for ``strategy`` (unchanged when it is None)."""
    if strategy is None:
        return train_ds, dev_ds, test_ds
    return (
        distribute_training_dataset(strategy, train_ds),
        distribute_eval_dataset(strategy, dev_ds),
        distribute_eval_dataset(strategy, test_ds),
    )
