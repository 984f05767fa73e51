"""The single-task family: the paper's LSTM / BiLSTM baselines."""

from __future__ import annotations

import keras

from tf_aspmtl.models.family import _Family


@keras.saving.register_keras_serializable(package="tf_aspmtl")
class SingleTaskClassifier(_Family):
    """One task, one encoder, one softmax: the paper's LSTM / BiLSTM baselines.

    Args:
        preprocessor: a :class:`~tf_aspmtl.preprocessing.MultiTaskPreprocessor`
            of exactly one task (or a one-element list of task names).
        **kwargs: :class:`AdversarialSharedPrivateMTL`'s family settings (``embedding_dim``, ``encoder``,
            ``hidden_dim``, ``word_vectors``, ...), but no
            objective weights.
    """

    def __init__(self, preprocessor=None, **kwargs):
        super().__init__(preprocessor, **kwargs)
        if self.num_tasks != 1:
            raise ValueError(
                f"SingleTaskClassifier takes exactly one task; got {self.task_names}. "
                "Train one model per task, or use FullySharedMTL for several."
            )
