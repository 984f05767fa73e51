"""Shared fixtures: a small real FDU-MTL subset and a vectorizer adapted on it."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

if os.environ.get("PYTEST_XDIST_WORKER"):  # one of pytest-xdist's processes, one per core: one thread each
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)

import pytest  # noqa: E402

# TensorFlow, Keras and the library are imported where they are used: pytest-xdist's controller reads this file
# too, and it runs no test, so it need not spend seconds importing them before the workers start.

SUBSET_TASKS = ["books", "MR", "camera_photo"]


@pytest.fixture(scope="session")
def fdu_subset():
    """Train (first 96 rows) and dev (first 32 rows) of three real tasks."""
    from tf_aspmtl.data import load_fdu_mtl

    frame = load_fdu_mtl(tasks=SUBSET_TASKS, splits=("train", "dev"))
    train = frame[frame["split"] == "train"].groupby("task", sort=False).head(96).reset_index(drop=True)
    dev = frame[frame["split"] == "dev"].groupby("task", sort=False).head(32).reset_index(drop=True)
    return train, dev


@pytest.fixture(scope="session")
def small_vectorizer(fdu_subset):
    from tf_aspmtl.preprocessing import TextVectorizer

    train, _ = fdu_subset
    vectorizer = TextVectorizer(max_length=32, max_tokens=3000, name="preprocessor")
    vectorizer.adapt(train["text"].tolist())
    return vectorizer


@pytest.fixture(autouse=True)
def _seed():
    import keras

    keras.utils.set_random_seed(0)
