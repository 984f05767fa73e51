"""tf.data pipelines: one task per batch, sampling, unlabelled mixing, padding."""

import numpy as np
import pandas as pd
import pytest
import tensorflow as tf

from tests.conftest import SUBSET_TASKS
from tf_aspmtl.data.pipeline import (
    eval_order,
    make_eval_dataset,
    make_training_dataset,
    padding_ratio,
)
from tf_aspmtl.preprocessing import TextVectorizer


def test_training_batches_hold_one_task_and_are_length_bucketed(fdu_subset, small_vectorizer):
    train, _ = fdu_subset
    ds, steps = make_training_dataset(train, small_vectorizer, SUBSET_TASKS, batch_size=8, max_length=32)
    assert len(train) == 288 and steps == 36  # 3 tasks x 96 rows, 8 a batch
    seen = set()
    for x, y in ds.take(40):
        tasks = x["task_id"].numpy()
        assert len(set(tasks)) == 1
        seen.add(int(tasks[0]))
        assert x["token_ids"].shape[0] == y.shape[0] == 8
        assert set(np.unique(y.numpy())) <= {0, 1}
    assert seen == {0, 1, 2}
    # Buckets of 8 tokens: at most ~8 padded tokens per row over the real ones.
    assert padding_ratio(ds, 40) < 1.5


def test_proportional_sampling_follows_task_sizes(fdu_subset, small_vectorizer):
    train, _ = fdu_subset
    lopsided = pd.concat([train[train["task"] == "books"], train[train["task"] == "MR"].head(24)])
    ds, _ = make_training_dataset(lopsided, small_vectorizer, SUBSET_TASKS, batch_size=4, seed=1)
    counts = np.bincount([int(x["task_id"][0]) for x, _ in ds.take(300)], minlength=3)
    assert counts[2] == 0  # camera_photo has no rows here
    assert 0.7 < counts[0] / 300 < 0.9  # books has 96 of 120 rows = 0.8
    ds_u, _ = make_training_dataset(lopsided, small_vectorizer, SUBSET_TASKS, batch_size=4, seed=1, sampling="uniform")
    counts_u = np.bincount([int(x["task_id"][0]) for x, _ in ds_u.take(300)], minlength=3)
    assert 0.4 < counts_u[0] / 300 < 0.6


def test_unlabelled_rows_are_mixed_in_with_label_minus_one(fdu_subset, small_vectorizer):
    train, _ = fdu_subset
    unlabeled = pd.DataFrame({"task": ["books"] * 50, "text": ["an unlabelled review of a book"] * 50})
    ds, steps = make_training_dataset(
        train, small_vectorizer, SUBSET_TASKS, batch_size=8, unlabeled=unlabeled, unlabeled_fraction=0.5
    )
    labels, tasks = [], []
    for x, y in ds.take(100):
        labels.append(y.numpy())
        tasks.append(np.repeat(x["task_id"].numpy()[0], len(y)))
    labels, tasks = np.concatenate(labels), np.concatenate(tasks)
    unl = labels == -1
    assert unl.any()
    assert set(tasks[unl]) == {0}  # only books has unlabelled text
    assert 0.3 < unl[tasks == 0].mean() < 0.7
    # An epoch sees about the 288 labelled rows: 4 of a books batch of 8 (half unlabelled), 8 of any other task's.
    assert steps == 44  # 288 / (8 * (1 - 0.5 / 3)), books a third of the batches
    assert 0.85 < steps * (labels != -1).sum() / 100 / 288 < 1.15  # the 100 batches drawn above


@pytest.mark.parametrize(
    "unlabeled_fraction, expected",
    [(0.0, 3), (0.5, 5), (0.75, 10)],  # 10 rows: 4 a batch -> 3 batches; 2 labelled a batch -> 5; 1 -> 10
)
def test_steps_per_epoch_of_a_small_frame(unlabeled_fraction, expected):
    frame = pd.DataFrame({"task": ["a"] * 6 + ["b"] * 4, "text": [f"row {i}" for i in range(10)],
                          "label": [0, 1] * 5})
    tokenizer = TextVectorizer(max_length=4)
    tokenizer.adapt(frame["text"].tolist())
    unlabeled = pd.DataFrame({"task": ["a", "b"], "text": ["more", "text"]}) if unlabeled_fraction else None
    ds, steps = make_training_dataset(frame, tokenizer, ["a", "b"], batch_size=4, unlabeled=unlabeled,
                                      unlabeled_fraction=unlabeled_fraction, seed=3)
    assert steps == expected
    assert all(y.shape[0] == 4 for _, y in ds.take(steps))  # every step a full batch of 4 rows


def test_eval_dataset_keeps_every_row_in_order(fdu_subset, small_vectorizer):
    _, dev = fdu_subset
    ds = make_eval_dataset(dev, small_vectorizer, SUBSET_TASKS, batch_size=10)
    labels = np.concatenate([y.numpy() for _, y in ds])
    np.testing.assert_array_equal(labels, eval_order(dev, SUBSET_TASKS)["label"].to_numpy())
    first = next(iter(ds))[0]["token_ids"][0]
    np.testing.assert_array_equal(first[first != 0], small_vectorizer(tf.constant(dev["text"].iloc[0])).numpy())


def test_unknown_task_and_missing_column_are_named(fdu_subset, small_vectorizer):
    train, _ = fdu_subset
    with pytest.raises(ValueError, match=r"task\(s\) \['books'\] not in task_names"):
        make_training_dataset(train, small_vectorizer, ["MR", "camera_photo"])
    with pytest.raises(ValueError, match=r"lacks column\(s\) \['label'\]"):
        make_eval_dataset(train.drop(columns="label"), small_vectorizer, SUBSET_TASKS)


def test_kept_texts_stay_with_their_rows_and_change_no_batch(fdu_subset, small_vectorizer):
    train, _ = fdu_subset
    unlabeled = pd.DataFrame({"task": ["books"] * 20, "text": [f"an unlabelled review number {i}" for i in range(20)]})
    options = dict(batch_size=8, unlabeled=unlabeled, unlabeled_fraction=0.3, max_length=32, seed=2)
    plain, _ = make_training_dataset(train, small_vectorizer, SUBSET_TASKS, **options)
    with_text, _ = make_training_dataset(train, small_vectorizer, SUBSET_TASKS, keep_text=True, **options)
    label_of = {**dict(zip(train["text"], train["label"])), **{t: -1 for t in unlabeled["text"]}}
    for (x, y), (xt, yt) in zip(plain.take(30), with_text.take(30)):
        np.testing.assert_array_equal(xt["token_ids"].numpy(), x["token_ids"].numpy())
        np.testing.assert_array_equal(yt.numpy(), y.numpy())
        texts = [t.decode() for t in xt["text"].numpy()]
        ids = small_vectorizer(tf.constant(texts)).numpy()[:, :x["token_ids"].shape[1]]
        np.testing.assert_array_equal(ids, x["token_ids"].numpy())  # each text is its row's
        assert [label_of[t] for t in texts] == y.numpy().tolist()
    evaluation = make_eval_dataset(train, small_vectorizer, SUBSET_TASKS, keep_text=True)
    texts = [t.decode() for x, _ in evaluation for t in x["text"].numpy()]
    assert texts == eval_order(train, SUBSET_TASKS)["text"].tolist()
