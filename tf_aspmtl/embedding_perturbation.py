"""Adversarial (AT) and virtual adversarial (VAT) perturbations of the word embeddings.

Miyato, Dai and Goodfellow, "Adversarial Training Methods for
Semi-Supervised Text Classification", ICLR 2017. The perturbation ``r`` is
added to the embedded sequence ``s = [v_1; ...; v_T]`` (``[length, dim]``
per row) and its L2 norm is taken over the whole sequence of the row's real
tokens, as in the paper (``r_adv = eps g / ||g||_2`` with ``g`` the gradient
w.r.t. ``s``) and its code: ``eps`` is the budget of a whole text, not of a
word. Padding positions get no perturbation.

* AT: ``r_adv = eps g / ||g||``, ``g`` the gradient of the labelled task
  loss w.r.t. ``s``; the extra term is the task loss at ``s + r_adv``.
* VAT: one power iteration from a random unit ``d``: ``g`` is the gradient
  of ``KL(p(s) || p(s + xi d))`` w.r.t. the perturbation, ``r_vadv = eps g / ||g||``,
  and the extra term is ``KL(p(s) || p(s + r_vadv))``, with ``p(s)``
  held constant. It needs no labels, so unlabelled rows count.

Unlike the paper, the word vectors are not normalised first, so choose
``eps`` against the scale of the embedding (GloVe 6B 50-d vectors have L2
norms of about 4 to 6 per word).

The functions take a closure from word vectors to logits (or to the loss),
so the perturbed passes run the model's own encoders and heads; they work
eagerly and inside ``tf.function``, under an outer ``tf.GradientTape``
(Keras' ``train_step``), which sees the perturbations as constants.
"""

from __future__ import annotations

from typing import Callable

import keras
import tensorflow as tf

EMBEDDING_PERTURBATIONS = ("none", "adversarial", "virtual")
"""``"none"``; ``"adversarial"`` (AT, labelled rows); ``"virtual"`` (VAT, all rows)."""

LossScaler = Callable[[tf.Tensor], tf.Tensor]


def scale_to_norm(direction, mask, norm: float) -> tf.Tensor:
    """``norm * d / ||d||_2`` per row, the norm over the row's real tokens and all dims; float32.

    Args:
        direction: float [batch, length, dim].
        mask: bool [batch, length]. True on real tokens; the rest is set to 0.
        norm: float. The L2 norm of each result row.

    Returns:
        float32 [batch, length, dim]. A row whose direction is 0 on its real
        tokens, or not finite (a float16 overflow), is 0.

    Example:
    >>> r = scale_to_norm(tf.ones((1, 3, 2)), tf.constant([[True, True, False]]), 2.0)
    >>> float(tf.norm(r)), r[0, 2].numpy().tolist()
    (2.0, [0.0, 0.0])
    """
    d = tf.cast(direction, tf.float32) * tf.cast(mask, tf.float32)[..., None]
    finite = tf.reduce_all(tf.math.is_finite(d), axis=[1, 2], keepdims=True)
    d = tf.where(finite, d, tf.zeros_like(d))
    # Divided by the row's largest entry first (as Miyato et al.'s code does): the squares
    # then neither underflow nor overflow, whatever the gradient's scale.
    d = tf.math.divide_no_nan(d, tf.reduce_max(tf.abs(d), axis=[1, 2], keepdims=True))
    length = tf.sqrt(tf.reduce_sum(tf.square(d), axis=[1, 2], keepdims=True))
    return float(norm) * tf.math.divide_no_nan(d, length)


def kl_divergence(clean_logits, perturbed_logits) -> tf.Tensor:
    """Mean over rows of ``KL(p || q)``, ``p = softmax(clean_logits)`` held constant, ``q = softmax(perturbed_logits)``.

    Classes a task does not have (logit -1e9) have ``p = 0`` and add nothing.

    Args:
        clean_logits: float [batch, classes]. Gets no gradient.
        perturbed_logits: float [batch, classes].

    Returns:
        A float32 scalar, >= 0 up to rounding (0 for an empty batch).
    """
    p_log = tf.nn.log_softmax(tf.stop_gradient(tf.cast(clean_logits, tf.float32)), axis=-1)
    q_log = tf.nn.log_softmax(tf.cast(perturbed_logits, tf.float32), axis=-1)
    per_row = tf.reduce_sum(tf.exp(p_log) * (p_log - q_log), axis=-1)
    return tf.math.divide_no_nan(tf.reduce_sum(per_row), tf.cast(tf.size(per_row), tf.float32))


def _normalized_gradient(tape, target, source, mask, norm: float) -> tf.Tensor:
    # The direction is what counts, so the target may be loss-scaled (float16 gradients then
    # do not underflow); scale_to_norm undoes the scale and zeroes an overflowed row.
    grad = tape.gradient(target, source, unconnected_gradients=tf.UnconnectedGradients.ZERO)
    return tf.stop_gradient(scale_to_norm(grad, mask, norm))


def adversarial_perturbation(
    loss_fn: Callable[[tf.Tensor], tf.Tensor],
    embedded: tf.Tensor,
    mask: tf.Tensor,
    norm: float,
    scale_loss: LossScaler | None = None,
) -> tf.Tensor:
    """AT's ``r_adv = eps g / ||g||``, ``g = d loss_fn(s) / d s`` at ``s = embedded``; a constant.

    Args:
        loss_fn: word vectors [batch, length, dim] -> scalar loss (the
            labelled task loss; unlabelled rows have no gradient, so no perturbation).
        embedded: float [batch, length, dim]. The word vectors ``s``.
        mask: bool [batch, length]. Real tokens.
        norm: float. ``eps``, the L2 norm of each row's perturbation.
        scale_loss: optional loss scaler (``optimizer.scale_loss``) applied
            to the loss before the gradient (mixed precision).

    Returns:
        ``r_adv``, like ``embedded`` (its dtype), with no gradient.
    """
    with tf.GradientTape(watch_accessed_variables=False) as tape:
        tape.watch(embedded)
        loss = loss_fn(embedded)
        if scale_loss is not None:
            loss = scale_loss(loss)
    return tf.cast(_normalized_gradient(tape, loss, embedded, mask, norm), embedded.dtype)


def virtual_adversarial_perturbation(
    logits_fn: Callable[[tf.Tensor], tf.Tensor],
    clean_logits: tf.Tensor,
    embedded: tf.Tensor,
    mask: tf.Tensor,
    norm: float,
    xi: float,
    scale_loss: LossScaler | None = None,
    seed: keras.random.SeedGenerator | None = None,
) -> tf.Tensor:
    """VAT's ``r_vadv`` by one power iteration: ``eps g / ||g||``, ``g = grad_r KL(p(s) || p(s + r))`` at ``r = xi d``.

    ``d`` is a random normal direction of norm 1 per row on the real tokens,
    drawn from ``seed`` (a :class:`MultiTaskClassifier` passes its own seed
    generator, whose state its epoch checkpoints keep, so a resumed run draws
    the directions an uninterrupted one draws), else from TensorFlow's global
    random state (``tf.random.normal``: reproducible under
    ``keras.utils.set_random_seed`` in one process, but no checkpoint holds it).

    Args:
        logits_fn: word vectors [batch, length, dim] -> logits [batch, classes].
        clean_logits: float [batch, classes]. ``p(s)``'s logits (held constant).
        embedded: float [batch, length, dim]. The word vectors ``s``.
        mask: bool [batch, length]. Real tokens.
        norm: float. ``eps``.
        xi: float. Norm of the finite-difference step ``xi d`` (per row). It
            must move the logits by more than rounding: each entry moves by
            about ``xi / sqrt(tokens * dim)``, so with 200 tokens of 50-d
            GloVe-scale vectors in float32, ``xi = 1e-6`` is at the
            resolution of the word vectors and a third of the rows got no
            direction at all (``xi >= 1e-4`` gave the same direction as
            ``1e-3``); Miyato et al.'s code uses 0.1. Under ``mixed_float16``
            (float16 word vectors, ~3 significant digits) it must be larger still.
        scale_loss: optional loss scaler applied to the KL before the gradient.
        seed: optional :class:`keras.random.SeedGenerator` of ``d``.

    Returns:
        ``r_vadv``, like ``embedded`` (its dtype), with no gradient.
    """
    shape = tf.shape(embedded)
    noise = (tf.random.normal(shape, dtype=tf.float32) if seed is None
             else keras.random.normal(shape, dtype="float32", seed=seed))
    d = scale_to_norm(noise, mask, 1.0)
    with tf.GradientTape(watch_accessed_variables=False) as tape:
        step = float(xi) * d
        tape.watch(step)
        kl = kl_divergence(clean_logits, logits_fn(embedded + tf.cast(step, embedded.dtype)))
        if scale_loss is not None:
            kl = scale_loss(kl)
    return tf.cast(_normalized_gradient(tape, kl, step, mask, norm), embedded.dtype)
