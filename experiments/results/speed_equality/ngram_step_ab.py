"""One n-gram training step, timed and profiled, against whichever tf_aspmtl is on PYTHONPATH (an A/B of two commits).

    PYTHONPATH=<checkout A> python experiments/results/speed_equality/ngram_step_ab.py
    PYTHONPATH=<checkout B> python experiments/results/speed_equality/ngram_step_ab.py

The shared/private n-gram model (tf-idf, 200,000 n-grams of 1-2 words, batch 64, LazyAdam 1e-3, seed 0) on the
16 tasks' train rows, features computed once (the library's own datasets): three epochs timed, then 100 steps under
TensorFlow's profiler, summed by part of the step and op type (experiments.profile_train's summary). It uses only
APIs both commits have. Prints one markdown line per figure.
"""

import math
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import keras
import tensorflow as tf

import tf_aspmtl
from tf_aspmtl.data import load_fdu_mtl
from tf_aspmtl.models import SharedPrivateNgramClassifier
from tf_aspmtl.optimizers import LazyAdam
from tf_aspmtl.preprocessing import NgramFeatures, NgramPreprocessor
from tf_aspmtl.training.ngram_run import ngram_rows_dataset

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))  # this checkout's experiments package
from experiments.profile_train import summarise  # noqa: E402

library = Path(tf_aspmtl.__file__).resolve().parents[1]
commit = subprocess.run(["git", "-C", str(library), "rev-parse", "--short", "HEAD"], capture_output=True,
                        text=True).stdout.strip()
train = load_fdu_mtl(splits=("train",))
tasks = sorted(set(train["task"]))
features = NgramFeatures(max_features=200_000, ngrams=2)
features.adapt(train["text"].astype(str).tolist())
preprocessor = NgramPreprocessor(tasks, {t: ["negative", "positive"] for t in tasks}, features, name="preprocessor")
keras.utils.set_random_seed(0)
model = SharedPrivateNgramClassifier(preprocessor, name="sp_ngram")
model.compile(optimizer=LazyAdam(1e-3))
steps = math.ceil(len(train) / 64)
batches = ngram_rows_dataset(model, train, 64, seed=0)
epochs = []
for _ in range(3):
    started = time.perf_counter()
    model.fit(batches, steps_per_epoch=steps, epochs=1, verbose=0)
    epochs.append(time.perf_counter() - started)
logdir = tempfile.mkdtemp(prefix="ngram_step_ab_")
tf.profiler.experimental.start(logdir)
model.fit(batches, steps_per_epoch=100, epochs=1, verbose=0)
tf.profiler.experimental.stop()
summary = summarise(next(Path(logdir).rglob("*.xplane.pb")))
parts = ", ".join(f"{part} {ms / 100:.2f}" for part, ms in summary["by_part_ms"].items())
top = ", ".join(f"{o['part']} {o['op_type']} {o['ms'] / 100:.2f}" for o in summary["top_ops"][:6])
print(f"| {commit} | {' / '.join(f'{e:.2f}' for e in epochs)} | {summary['op_ms_total'] / 100:.2f} | {parts} | {top} |")
