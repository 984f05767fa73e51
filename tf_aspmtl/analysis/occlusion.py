"""Which words move a shared/private model's features: the distance each feature moves when a word is removed."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from tf_aspmtl.models.multitask_classifier import MultiTaskClassifier


def occlusion(model: MultiTaskClassifier, text: str, task: str) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Each token's effect on the shared and on the private feature of ``text`` (one forward pass of all variants).

    Args:
        model: a trained :class:`~tf_aspmtl.MultiTaskClassifier`.
        text: one review.
        task: its task (one of the model's).

    Returns:
        ``(words, shared_moves, private_moves)``: the tokens the model keeps of ``text`` (padding and cut tokens
        aside), and for each the L2 distance the shared and the private feature move when it alone is removed
        (zeros for a model without private encoders). Empty for a text with no kept token.
    """
    vectorizer = model.preprocessor.text_vectorizer
    ids = vectorizer(tf.constant([text])).numpy()[0]
    ids = ids[ids != 0]
    vocabulary = vectorizer.get_vocabulary()
    words = [vocabulary[i] for i in ids]
    if not words:
        return [], np.zeros(0), np.zeros(0)
    variants = [ids] + [np.delete(ids, i) for i in range(len(ids))]
    batch = np.zeros((len(variants), max(len(v) for v in variants)), dtype=np.int32)
    for r, v in enumerate(variants):
        batch[r, : len(v)] = v
    f = model.backbone.task_features(tf.constant(batch), model.task_id(task))
    shared = f["shared"].numpy()
    private = f["private"].numpy() if "private" in f else np.zeros_like(shared)
    return words, np.linalg.norm(shared[1:] - shared[0], axis=1), np.linalg.norm(private[1:] - private[0], axis=1)
