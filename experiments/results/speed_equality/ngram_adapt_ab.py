"""NgramFeatures.adapt on FDU-MTL's train rows (16 tasks): its wall time and a digest of what it learnt (vocabulary,
idf, NB ratios), to run with two versions of the library side by side (issue 22: n-gram vocabularies counted as
integers for any n, serving_trie_ngrams.md).

    PYTHONPATH=. python experiments/results/speed_equality/ngram_adapt_ab.py NGRAMS MAX_FEATURES
"""
import hashlib
import sys
import time

import numpy as np

from tf_aspmtl.data import load_fdu_mtl
from tf_aspmtl.preprocessing.ngram_features import NgramFeatures

ngrams, max_features = int(sys.argv[1]), int(sys.argv[2])
train = load_fdu_mtl(None, splits=("train",))
features = NgramFeatures(max_features=max_features, ngrams=ngrams, weighting="nb", term_frequency="binary")
started = time.perf_counter()
features.adapt(train["text"].astype(str).tolist(), labels=train["label"].to_numpy())
seconds = time.perf_counter() - started
digest = hashlib.sha256()
for entry in features.counter.get_vocabulary():
    digest.update(entry.encode() + b"\n")
digest.update(np.asarray(features.idf.numpy()).tobytes())
digest.update(np.asarray(features.nb_ratio.numpy()).tobytes())
print(f"{ngrams}-grams, {features.vocabulary_size} kept, {len(train)} texts: adapt {seconds:.1f} s; "
      f"digest {digest.hexdigest()[:16]}")
