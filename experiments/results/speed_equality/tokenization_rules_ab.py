"""The before/after check of tokenization_rules_merged.md: byte equality on every FDU-MTL line, then time.

    git show ce5b5f2:tf_aspmtl/preprocessing/tokenizer.py > /tmp/tokenizer_old.py
    PYTHONPATH=. python experiments/results/speed_equality/tokenization_rules_ab.py /tmp/tokenizer_old.py
"""

import glob
import importlib.util
import os
import sys
import time

import numpy as np
import tensorflow as tf

from tf_aspmtl.data import load_fdu_mtl, resolve_fdu_mtl_dir
from tf_aspmtl.preprocessing import tokenizer as new_module

SPEC = [tf.TensorSpec([None], tf.string)]
_spec = importlib.util.spec_from_file_location("tokenizer_old", sys.argv[1])  # the module as it was, from git
old_module = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(old_module)
lines = []
for path in sorted(glob.glob(os.path.join(resolve_fdu_mtl_dir(None), "*.task.*"))):
    with open(path, "rb") as f:
        lines += [line.rstrip(b"\n") for line in f]
lines += [s.encode() for s in ["a\u00a0b\u2028c\u3000d e", "x\u200by\ufeffz", "“q” ‘a’ it`s ``x'' a—b !?! (x) $5 ♥ 漢字"]]
lines.append(b"\xff\xfebad \x80")
std_old = tf.function(old_module.standardize, input_signature=SPEC)
std_new = tf.function(new_module.standardize, input_signature=SPEC)
differing = sum(int(np.sum(std_old(tf.constant(lines[i:i + 4096])).numpy() != std_new(tf.constant(lines[i:i + 4096])).numpy()))
                for i in range(0, len(lines), 4096))
print(f"{len(lines)} lines; differing: {differing}")

texts = load_fdu_mtl(None, tasks=["books", "dvd", "MR", "imdb"], splits=("test",))["text"].tolist()
tok_old = tf.function(lambda t: old_module.tokenize(t).flat_values, input_signature=SPEC)
tok_new = tf.function(lambda t: new_module.tokenize(t).flat_values, input_signature=SPEC)
b64 = [tf.constant(texts[i:i + 64]) for i in range(0, 1280, 64)]
one = [tf.constant([t]) for t in texts[:300]]
times = {"old": {"b64": [], "one": []}, "new": {"b64": [], "one": []}}
for fn in (tok_old, tok_new):
    for x in b64[:3] + one[:20]:
        fn(x)
for rnd in range(6):
    for name, fn in (("old", tok_old), ("new", tok_new)) if rnd % 2 == 0 else (("new", tok_new), ("old", tok_old)):
        start = time.perf_counter()
        for x in b64:
            fn(x).numpy()
        times[name]["b64"].append((time.perf_counter() - start) / (64 * len(b64)) * 1e6)
        single = []
        for x in one:
            start = time.perf_counter()
            fn(x).numpy()
            single.append(time.perf_counter() - start)
        times[name]["one"].append(float(np.median(single)) * 1e6)
for kind in ("b64", "one"):
    a, b = min(times["old"][kind]), min(times["new"][kind])
    print(f"{kind}: tokenize us/review old {a:.1f} new {b:.1f} new/old {b / a:.2f}")
print("load average", os.getloadavg())
