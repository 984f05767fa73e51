"""Process-level TensorFlow settings."""

from __future__ import annotations

import logging
import os
import sys

import keras
import tensorflow as tf

logger = logging.getLogger(__name__)

_LIBRARY_FOLDERS = (os.path.dirname(os.path.abspath(keras.__file__)) + os.sep,
                    os.path.dirname(os.path.abspath(__file__)) + os.sep)
"""Frames of these folders (Keras' and this library's) are not the caller a warning names."""


def caller_stacklevel() -> int:
    """The ``stacklevel`` for ``warnings.warn`` called by the function calling this that names the first frame
    outside this library and Keras: the user's line, however many constructor wrappers Keras adds between."""
    frame, level = sys._getframe(1), 1
    while frame is not None and frame.f_code.co_filename.startswith(_LIBRARY_FOLDERS):
        frame, level = frame.f_back, level + 1
    return level


DEFAULT_THREADS = (1, 2)
"""Intra-op and inter-op threads of the main job: the shared and the private LSTM run one per core (the fastest
setting on 2 cores, ``python -m experiments.bench``), and a fixed setting repeats its numbers."""


def configure_cpu_threads(intra_op: int | None = None, inter_op: int | None = None) -> None:
    """Sets TensorFlow's CPU thread pools; call it before TensorFlow runs anything.

    On a small CPU, models with two encoders per example (SP-MTL, ASP-MTL)
    train faster with ``intra_op=1, inter_op=<cores>``: the shared and the
    private LSTM, which do not depend on each other, then run at the same
    time, one per core, instead of one after the other with each small
    matrix product split over the cores (``python -m experiments.bench``
    measures both). ``None`` keeps TensorFlow's default (one thread per core
    for each pool). The environment variables ``TF_NUM_INTRAOP_THREADS`` and
    ``TF_NUM_INTEROP_THREADS`` do the same without code.

    Raises:
        ValueError: a count below 1.
        RuntimeError: TensorFlow has already started its thread pools.
    """
    for name, value in (("intra_op", intra_op), ("inter_op", inter_op)):
        if value is not None and value < 1:
            raise ValueError(f"{name} threads must be >= 1 or None; got {value}")
    try:
        if intra_op is not None:
            tf.config.threading.set_intra_op_parallelism_threads(intra_op)
        if inter_op is not None:
            tf.config.threading.set_inter_op_parallelism_threads(inter_op)
    except RuntimeError as err:
        raise RuntimeError(
            "TensorFlow's thread pools are already running, so their sizes cannot change; call "
            "configure_cpu_threads() before building a model or running any TensorFlow op "
            f"(TensorFlow said: {err})"
        ) from err


def configure_threads(intra_op: int | None = None, inter_op: int | None = None, strict: bool = False) -> tuple[int, int]:
    """:func:`configure_cpu_threads` with :data:`DEFAULT_THREADS` for what is not given; returns the settings in force.

    In a process whose TensorFlow already runs (a test, a notebook) the pools
    cannot change: an explicit or ``strict`` request is then an error, the
    default keeps TensorFlow's settings with a warning.
    """
    wanted = (DEFAULT_THREADS[0] if intra_op is None else intra_op, DEFAULT_THREADS[1] if inter_op is None else inter_op)
    try:
        configure_cpu_threads(*wanted)  # ValueError for a count below 1 (0 included: it is no "not given")
        return wanted
    except RuntimeError:
        if intra_op is not None or inter_op is not None or strict:
            raise
        kept = (tf.config.threading.get_intra_op_parallelism_threads(),
                tf.config.threading.get_inter_op_parallelism_threads())
        logger.warning("TensorFlow's thread pools already run; keeping intra-op %d, inter-op %d", *kept)
        return kept
