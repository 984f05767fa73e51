"""Pilots: the best configuration's dev-only student of one seed (its screen run's saved pseudo labels), trained
afresh in one fit call as the library's run does, under two changes of the model's structure. Dev only (test never
read).

Usage: pilots.py RUN_DIR VARIANT[,VARIANT...]; RUN_DIR: a dev-only screen run folder of the best configuration
(its run_args.json and model/pseudo_labels.parquet). Variants:
  base         the screen's student, repeated (it must give the screen's dev error);
  nbinitA      the shared kernel starts at the multinomial naive-Bayes classifier instead of zero: every n-gram's
               positive column +A/2, negative -A/2, so the first logits are A * sum of the row's NB-scaled features
               (NBSVM's interpolation towards MNB, Wang & Manning 2012, as a starting point that early stopping keeps
               the weights near); A = "fit" fits A (and a bias) by logistic regression on the pseudo-labelled rows;
  groupsC      a third path between the shared and the private weights: one kernel per group of tasks (movies and
               books: books, dvd, music, video, imdb, MR; products: the other ten), its learning rate C times the
               shared one's (as --private-learning-rate-multiplier does for the private path);
  gate         each task's shared logits scaled by a weight of its own, learnt (starting at 1): a task decides how
               far it trusts the shared kernel;
  lrX, lsX, privX  the best configuration's learning rate, label smoothing or private learning rate multiplier set
               to X for the student alone (the teacher, and so the pseudo labels, unchanged).
Prints one RESULT line per variant: variant, best mean dev error %, its epoch, the dev error after every epoch,
seconds."""
import math, sys, time
from dataclasses import replace

import keras
import numpy as np
import tensorflow as tf

from tf_aspmtl.layers.sparse_linear_head import sparse_matmul, task_sparse_matmul
from tf_aspmtl.models.shared_private_ngram_classifier import SharedPrivateNgramClassifier
from tf_aspmtl.models.task import LOGITS, PROBABILITIES
from tf_aspmtl.optimizers import LazyAdam
from tf_aspmtl.preprocessing.ngram_preprocessor import NGRAM_FEATURES
from tf_aspmtl.preprocessing.task_preprocessor import TASK_ID
from tf_aspmtl.training.ngram_run import compiled_ngram_model, ngram_rows_dataset

from experiments.pilot_student import student_setup

MEDIA = {"books", "dvd", "music", "video", "imdb", "MR"}


class GroupedNgramClassifier(SharedPrivateNgramClassifier):
    """The n-gram model plus one kernel per group of tasks (pilot only)."""

    def __init__(self, preprocessor, groups, group_multiplier, **kwargs):
        super().__init__(preprocessor, **kwargs)
        self.task_group = tf.constant(groups, tf.int64)
        self.num_groups = int(max(groups)) + 1
        self.group_multiplier = float(group_multiplier)
        self.group_kernel = self.add_weight(shape=(preprocessor.vocabulary_size * self.num_groups, self.max_classes),
                                            initializer="zeros", name="group_kernel")

    def call(self, inputs, training=None):
        if not (isinstance(inputs, dict) and NGRAM_FEATURES in inputs and TASK_ID in inputs):
            inputs = self.preprocessor(inputs)
        x, task_ids = inputs[NGRAM_FEATURES], inputs[TASK_ID]
        shared = sparse_matmul(x, self.shared_kernel)
        private = task_sparse_matmul(x, self.private_kernel, task_ids, self.num_tasks)
        group_ids = tf.gather(self.task_group, tf.cast(tf.reshape(task_ids, [-1]), tf.int64))
        group = task_sparse_matmul(x, self.group_kernel, group_ids, self.num_groups)
        logits = (shared + self.private_learning_rate_multiplier * private + self.group_multiplier * group
                  + tf.gather(self.bias, task_ids))
        logits = tf.where(tf.gather(self._class_mask, task_ids), logits, tf.fill(tf.shape(logits), -1e9))
        return {PROBABILITIES: tf.nn.softmax(logits), LOGITS: logits, TASK_ID: task_ids}


class GatedNgramClassifier(SharedPrivateNgramClassifier):
    """The n-gram model with a learnt per-task scale on its shared logits (pilot only)."""

    def __init__(self, preprocessor, **kwargs):
        super().__init__(preprocessor, **kwargs)
        self.shared_gate = self.add_weight(shape=(self.num_tasks, 1), initializer="ones", name="shared_gate")

    def call(self, inputs, training=None):
        if not (isinstance(inputs, dict) and NGRAM_FEATURES in inputs and TASK_ID in inputs):
            inputs = self.preprocessor(inputs)
        x, task_ids = inputs[NGRAM_FEATURES], inputs[TASK_ID]
        shared = tf.gather(self.shared_gate, task_ids) * sparse_matmul(x, self.shared_kernel)
        private = task_sparse_matmul(x, self.private_kernel, task_ids, self.num_tasks)
        logits = shared + self.private_learning_rate_multiplier * private + tf.gather(self.bias, task_ids)
        logits = tf.where(tf.gather(self._class_mask, task_ids), logits, tf.fill(tf.shape(logits), -1e9))
        return {PROBABILITIES: tf.nn.softmax(logits), LOGITS: logits, TASK_ID: task_ids}


def nb_sums(model, frame):
    """Each row's sum of NB-scaled features (the MNB classifier's score up to scale)."""
    sums = []
    for start in range(0, len(frame), 1024):
        part = frame.iloc[start:start + 1024]
        x = model.preprocessor({"text": tf.constant(part["text"].astype(str).tolist()),
                                "task": tf.constant(part["task"].tolist())})[NGRAM_FEATURES]
        sums.append(tf.sparse.reduce_sum(x, axis=1).numpy())
    return np.concatenate(sums)


def fit_scale(s, y, steps=50):
    """Logistic regression of y on (s, 1) by Newton's method: (a, b)."""
    X, w = np.stack([s, np.ones_like(s)], 1).astype(np.float64), np.zeros(2)
    for _ in range(steps):
        p = 1 / (1 + np.exp(-X @ w))
        w -= np.linalg.solve(X.T @ (X * (p * (1 - p))[:, None]) + 1e-6 * np.eye(2), X.T @ (p - y))
    return w


run, variants = sys.argv[1], sys.argv[2].split(",")
config, train, dev, pre, rows = student_setup(run)
pseudo = rows.iloc[len(train):]
EPOCHS = 12
for variant in variants:
    keras.utils.set_random_seed(config.seed)
    model = compiled_ngram_model(config, pre, train)
    if variant.startswith("groups"):
        groups = [0 if t in MEDIA else 1 for t in model.task_names]
        model = GroupedNgramClassifier(pre, groups, float(variant[6:]), l2=config.l2,
                                       label_smoothing=config.label_smoothing,
                                       private_learning_rate_multiplier=config.private_learning_rate_multiplier,
                                       name="sp_ngram")
        model.compile(optimizer=LazyAdam(config.learning_rate))
    elif variant.startswith("nbinit"):
        s_train, s_pseudo = nb_sums(model, train), nb_sums(model, pseudo)
        a_train, b_train = fit_scale(s_train, train["label"].to_numpy())
        a_pseudo, b_pseudo = fit_scale(s_pseudo, pseudo["label"].to_numpy())
        print(f"MNB scale: fit on train a={a_train:.3f} b={b_train:.3f}; on pseudo-labelled a={a_pseudo:.3f} "
              f"b={b_pseudo:.3f}; |sum| mean train {np.abs(s_train).mean():.3f}", flush=True)
        a = a_pseudo if variant == "nbinitfit" else float(variant[6:])
        kernel = np.zeros(model.shared_kernel.shape, np.float32)
        kernel[1:, 0], kernel[1:, 1] = -a / 2, a / 2  # FDU-MTL's class 0 negative, 1 positive; column 0: unknown
        model.shared_kernel.assign(kernel)
    elif variant == "gate":
        model = GatedNgramClassifier(pre, l2=config.l2, label_smoothing=config.label_smoothing,
                                     private_learning_rate_multiplier=config.private_learning_rate_multiplier,
                                     name="sp_ngram")
        model.compile(optimizer=LazyAdam(config.learning_rate))
    elif variant.startswith(("lr", "ls", "priv")):
        field = {"lr": "learning_rate", "ls": "label_smoothing", "priv": "private_learning_rate_multiplier"}[
            variant.rstrip("0123456789.e-")]
        value = float(variant[len(variant.rstrip("0123456789.e-")):])
        model = compiled_ngram_model(replace(config, **{field: value}), pre, train)
    elif variant != "base":
        raise SystemExit(f"unknown variant {variant}")
    ds = ngram_rows_dataset(model, rows, config.batch_size, seed=config.seed)
    dev_ds = ngram_rows_dataset(model, dev, config.batch_size)
    t = time.time()
    h = model.fit(ds, steps_per_epoch=math.ceil(len(rows) / config.batch_size), epochs=EPOCHS, verbose=0,
                  validation_data=dev_ds).history
    errs = [round(100 * (1 - v), 3) for v in h["val_mean_task_accuracy"]]
    print("RESULT", variant, min(errs), errs.index(min(errs)) + 1, errs, round(time.time() - t), flush=True)
