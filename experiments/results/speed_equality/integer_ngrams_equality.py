"""The integer n-gram counting against the string one, on a trained model: the probabilities of every FDU-MTL test
review (16 tasks), bit for bit; then each way's counting time on batches of test reviews (a side-by-side check,
not the serving figure: that is serving_integer_ngrams.md's bench_serving run).

    PYTHONPATH=. python experiments/results/speed_equality/integer_ngrams_equality.py runs/best/seed0/model/model.keras
"""
import sys
import time

import keras
import numpy as np
import tensorflow as tf

from tf_aspmtl.data import load_fdu_mtl
from tf_aspmtl.preprocessing.ngram_features import NgramFeatures
from tf_aspmtl.preprocessing.tokenizer import standardize

path = sys.argv[1]
data = load_fdu_mtl(None, splits=("test",))
rows = {"text": data["text"].astype(str).tolist(), "task": data["task"].tolist()}
integer = keras.models.load_model(path, compile=False)
strings = keras.models.load_model(path, compile=False)
object.__setattr__(strings.features, "_tables", None)  # None: count the n-gram strings (TextVectorization)
a = integer.predict(rows, batch_size=64, verbose=0)
b = strings.predict(rows, batch_size=64, verbose=0)
print(f"{len(a)} test reviews: probabilities bit-equal: {np.array_equal(a, b)} (largest difference {np.abs(a - b).max()})")

for name, model in (("integer", integer), ("strings", strings), ("integer", integer), ("strings", strings)):
    count = tf.function(lambda t, f=model.features: f.count(standardize(t)))
    batches = [tf.constant(rows["text"][i:i + 64]) for i in range(0, 64 * 50, 64)]
    count(batches[0])
    start = time.perf_counter()
    for batch in batches:
        count(batch)
    print(f"{name}: {(time.perf_counter() - start) / len(batches) * 1000:.2f} ms a batch of 64 (standardize included)")
