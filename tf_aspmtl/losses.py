"""The three terms of the ASP-MTL objective, each a small function.

``L = sum_k alpha_k L_task_k + lambda * L_adv + gamma * L_diff``
(Liu, Qiu and Huang, ACL 2017, equations 13 to 17).
"""

from __future__ import annotations

import tensorflow as tf

DIFFERENCE_NORMALIZATIONS = ("normalized", "sum")


def task_loss(labels, logits, task_ids, task_weights=None, sample_weight=None) -> tf.Tensor:
    """Cross entropy of the task classifiers, weighted per task by ``alpha_k``.

    Rows whose label is negative (unlabelled text fed to the adversary only)
    are ignored. The result is the weighted mean over labelled rows, so its
    scale does not depend on the batch size or on how much unlabelled text is
    mixed in.

    Args:
        labels: int tensor [batch]. Class ids; ``-1`` marks an unlabelled row.
        logits: float tensor [batch, classes].
        task_ids: int tensor [batch]. Task of each row.
        task_weights: optional float tensor [num_tasks]. ``alpha_k``; 1 when None.
        sample_weight: optional float tensor [batch].

    Returns:
        A scalar float tensor (0 when the batch has no labelled row).
    """
    labels = tf.cast(tf.reshape(labels, [-1]), tf.int32)
    labelled = labels >= 0
    weight = tf.cast(labelled, logits.dtype)
    if task_weights is not None:
        weight *= tf.gather(tf.cast(task_weights, logits.dtype), tf.reshape(task_ids, [-1]))
    if sample_weight is not None:
        weight *= tf.cast(tf.reshape(sample_weight, [-1]), logits.dtype)
    ce = tf.nn.sparse_softmax_cross_entropy_with_logits(
        labels=tf.where(labelled, labels, tf.zeros_like(labels)), logits=logits
    )
    count = tf.reduce_sum(tf.cast(labelled, logits.dtype))
    return tf.math.divide_no_nan(tf.reduce_sum(ce * weight), count)


def adversarial_loss(task_ids, discriminator_logits) -> tf.Tensor:
    """Cross entropy of the task discriminator ``D(s) = softmax(b + U s)``.

    The discriminator minimises it; the shared encoder sees it through a
    gradient-reversal layer and so maximises it (equation 14). It needs no
    class labels, so unlabelled rows count too.

    Args:
        task_ids: int tensor [batch]. The discriminator's targets.
        discriminator_logits: float tensor [batch, num_tasks].

    Returns:
        The mean cross entropy, a scalar float tensor.
    """
    ce = tf.nn.sparse_softmax_cross_entropy_with_logits(
        labels=tf.cast(task_ids, tf.int32), logits=discriminator_logits
    )
    return tf.reduce_mean(ce)


def memory_adversarial_loss(task_ids, discriminator_logits) -> tf.Tensor:
    """The discriminator's cross entropy on the rows of a :class:`~tf_aspmtl.layers.FeatureMemory`.

    Args:
        task_ids: int tensor [rows]. The stored rows' tasks; -1 marks an empty slot, left out.
        discriminator_logits: float tensor [rows, num_tasks].

    Returns:
        The mean cross entropy of the filled rows (0 while the memory is empty), a scalar float tensor.
    """
    task_ids = tf.cast(task_ids, tf.int32)
    filled = tf.cast(task_ids >= 0, discriminator_logits.dtype)
    ce = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=tf.maximum(task_ids, 0), logits=discriminator_logits)
    return tf.math.divide_no_nan(tf.reduce_sum(ce * filled), tf.reduce_sum(filled))


def task_mean_matching_loss(shared, task_ids, stored, stored_task_ids, num_tasks) -> tf.Tensor:
    """How far each task's mean shared feature is from the other tasks' mean: a linear probe's signal, removed.

    Each dimension is first standardised by the stored rows' mean and standard deviation, as a probe standardises
    its inputs (so shrinking the features does not lower the term). For each task k of the batch: the mean over
    dimensions of ``(mean of the batch's rows of k - mean of the stored rows of the other tasks)^2`` (stored: a
:class:`~tf_aspmtl.layers.FeatureMemory`'s rows, constants), less the batch mean's own sampling variance (the
    sample variance of k's rows over their count): an unbiased estimate of the squared gap between the task's mean
    and the others', which may fall below 0. Without that correction the term would mostly shrink each task's spread
    (with 16 rows a batch, the noise is several times the gap), which makes tasks easier to tell apart, not harder.
    Averaged over the batch's rows. With every task's mean feature equal, a linear function of the feature has the same mean in every task: what a linear probe of
    the task reads first is gone. The gradient reaches the batch's features only.

    Args:
        shared: float [batch, dim]. The batch's shared features.
        task_ids: int [batch].
        stored: float [rows, dim]. The memory's rows.
        stored_task_ids: int [rows]; -1 marks an empty slot.
        num_tasks: int or scalar int tensor.

    Returns:
        A scalar float tensor; 0 for a task with no stored row of another task.
    """
    task_ids = tf.cast(tf.reshape(task_ids, [-1]), tf.int32)
    stored_task_ids = tf.cast(stored_task_ids, tf.int32)
    filled = tf.cast(stored_task_ids >= 0, shared.dtype)
    stored_slot = tf.maximum(stored_task_ids, 0)
    count = tf.maximum(tf.reduce_sum(filled), 1.0)
    center = tf.reduce_sum(stored * filled[:, None], 0) / count
    scale = tf.sqrt(tf.reduce_sum(tf.square(stored - center) * filled[:, None], 0) / count + 1e-6)
    shared, stored = (shared - center) / scale, (stored - center) / scale
    batch_sum = tf.math.unsorted_segment_sum(shared, task_ids, num_tasks)
    batch_rows = tf.math.unsorted_segment_sum(tf.ones_like(task_ids, shared.dtype), task_ids, num_tasks)
    stored_sum = tf.math.unsorted_segment_sum(stored * filled[:, None], stored_slot, num_tasks)
    stored_rows = tf.math.unsorted_segment_sum(filled, stored_slot, num_tasks)
    other_sum = tf.reduce_sum(stored_sum, 0, keepdims=True) - stored_sum
    other_rows = tf.reduce_sum(stored_rows) - stored_rows
    batch_mean = tf.math.divide_no_nan(batch_sum, batch_rows[:, None])
    gap = batch_mean - tf.math.divide_no_nan(other_sum, other_rows[:, None])
    spread = tf.math.unsorted_segment_sum(tf.square(shared), task_ids, num_tasks) - batch_rows[:, None] * tf.square(batch_mean)
    noise = tf.math.divide_no_nan(tf.reduce_mean(spread, -1), batch_rows * (batch_rows - 1.0))
    weight = batch_rows * tf.cast(other_rows > 0, shared.dtype)
    per_task = tf.reduce_mean(tf.square(gap), -1) - noise
    return tf.math.divide_no_nan(tf.reduce_sum(weight * per_task), tf.reduce_sum(weight))


def confusion_loss(discriminator_logits) -> tf.Tensor:
    """Cross entropy between the uniform distribution over tasks and ``D(s)``.

    The shared encoder's side of the "confusion" adversary (Tzeng et al.,
    2015): minimised when the discriminator cannot tell the tasks apart,
    and, unlike a reversed cross entropy, not when it is confidently wrong.

    Args:
        discriminator_logits: float tensor [batch, num_tasks].

    Returns:
        ``-mean_i mean_k log D_k(s_i)``, a scalar float tensor (``log K`` at best).
    """
    return -tf.reduce_mean(tf.nn.log_softmax(discriminator_logits, axis=-1))


def difference_loss(shared, private, task_ids, normalization: str = "normalized") -> tf.Tensor:
    """Orthogonality penalty between shared and private features (equation 16).

    The paper's term is ``sum_k ||S_k^T H_k||_F^2`` where the rows of ``S_k``
    and ``H_k`` are the shared and private features of task k's rows in the
    batch. It is computed here without the ``[dim, dim]`` products through
    ``||S^T H||_F^2 = sum_ij (s_i . s_j)(h_i . h_j)`` over pairs of rows of
    the same task, which costs ``batch^2 * dim`` whatever the number of tasks.

    ``normalization``:
      - ``"sum"``: the paper's raw sum. It grows with the batch size (squared)
        and with the feature scale, so its weight gamma must be retuned when
        either changes.
      - ``"normalized"`` (default): rows are L2-normalised first and task k's
        term is divided by ``n_k^2``, then the terms are averaged over the
        tasks present. Each term is then in [0, 1] (0 when orthogonal, 1 when
        the shared and private features of every row are the same direction
        up to sign), whatever the batch size, feature size or activation
        scale, which keeps gamma meaningful. Public implementations of the
        paper normalise for the same reason.

    Args:
        shared: float tensor [batch, shared_dim].
        private: float tensor [batch, private_dim].
        task_ids: int tensor [batch].
        normalization: str. ``"normalized"`` or ``"sum"``.

    Returns:
        A scalar float tensor.
    """
    if normalization not in DIFFERENCE_NORMALIZATIONS:
        raise ValueError(
            f"Unknown difference-loss normalization {normalization!r}; "
            f"expected one of {list(DIFFERENCE_NORMALIZATIONS)}"
        )
    task_ids = tf.reshape(task_ids, [-1])
    if normalization == "normalized":
        shared = tf.math.l2_normalize(shared, axis=-1)
        private = tf.math.l2_normalize(private, axis=-1)
    same_task = tf.cast(task_ids[:, None] == task_ids[None, :], shared.dtype)
    pairs = tf.matmul(shared, shared, transpose_b=True) * tf.matmul(private, private, transpose_b=True)
    pairs *= same_task
    if normalization == "sum":
        return tf.reduce_sum(pairs)
    rows_per_task = tf.reduce_sum(same_task, axis=1)  # n_k for each row's task
    # Summed over task k's rows, these give ||S_k^T H_k||_F^2 / n_k^2.
    per_row = tf.reduce_sum(pairs, axis=1) / tf.square(rows_per_task)
    num_tasks = tf.reduce_sum(1.0 / rows_per_task)  # each task has n_k rows
    return tf.math.divide_no_nan(tf.reduce_sum(per_row), num_tasks)
