"""Which words move a shared/private model's features: the distance each feature moves when a word is removed."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

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


def plot_occlusion(examples: list[dict[str, Any]], path: str | os.PathLike,
                   title: str = "Words that move each feature most when removed (darker = larger move)") -> None:
    """Draws each example's words shaded by how far their removal moves the shared and the private feature.

    Args:
        examples: dicts with ``model``, ``task``, ``words`` and the ``shared_occlusion`` and ``private_occlusion``
            moves of :func:`occlusion` (the first 40 words are drawn).
        path: the PNG to write (drawn beside it, then renamed).
        title: the figure's title.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = 2 * len(examples)
    fig, axes = plt.subplots(rows, 1, figsize=(14, 0.9 * rows + 0.5))
    axes = np.atleast_1d(axes)
    for e, example in enumerate(examples):
        for j, key in enumerate(("shared", "private")):
            ax = axes[2 * e + j]
            ax.axis("off")
            scores = np.asarray(example[f"{key}_occlusion"])
            top = scores.max() or 1.0
            x = 0.0
            ax.text(-0.01, 0.5, f"{example['model']}, {example['task']}: {key}", ha="right", va="center",
                    fontsize=8, transform=ax.transAxes)
            for word, score in list(zip(example["words"], scores))[:40]:
                ax.text(x, 0.5, word, fontsize=8, va="center", transform=ax.transAxes,
                        bbox={"facecolor": plt.cm.Reds(0.85 * score / top), "edgecolor": "none", "pad": 1})
                x += 0.0085 * (len(word) + 2)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    path = Path(path)
    tmp = path.with_name(f".{path.name}.part.png")
    fig.savefig(tmp, dpi=100, bbox_inches="tight")
    plt.close(fig)
    tmp.replace(path)
