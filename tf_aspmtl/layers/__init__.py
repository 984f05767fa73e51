"""Layers: embedding, encoders, gradient reversal, the discriminator's feature memory, the shared space's task-mean
projection, per-task heads."""

from tf_aspmtl.layers.embedding import SparseReadEmbedding

from tf_aspmtl.layers.encoders import ENCODERS, BiLSTMEncoder, CNNEncoder, LSTMEncoder, get_encoder
from tf_aspmtl.layers.feature_memory import FeatureMemory
from tf_aspmtl.layers.gradient_reversal import GradientReversal, reverse_gradient
from tf_aspmtl.layers.shared_private_sparse_linear import SharedPrivateSparseLinear
from tf_aspmtl.layers.sparse_linear_head import SparseLinearHead, sparse_matmul, task_sparse_matmul
from tf_aspmtl.layers.task_heads import TaskHeads
from tf_aspmtl.layers.task_mean_projection import TaskMeanProjection

__all__ = [
    "ENCODERS",
    "BiLSTMEncoder",
    "CNNEncoder",
    "FeatureMemory",
    "GradientReversal",
    "LSTMEncoder",
    "SharedPrivateSparseLinear",
    "SparseLinearHead",
    "SparseReadEmbedding",
    "TaskHeads",
    "TaskMeanProjection",
    "get_encoder",
    "reverse_gradient",
    "sparse_matmul",
    "task_sparse_matmul",
]
