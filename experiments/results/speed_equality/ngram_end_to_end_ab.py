"""Where one n-gram run's time goes: the best configuration without self-training (seed 0, dev only), timed whole
and in its parts (features learnt, rows featurised, per-epoch checkpoints); prints one JSON line.

Run from the checkout to measure (a worktree at each commit for an A/B), the queue stopped:
    PYTHONPATH=. python experiments/results/speed_equality/ngram_end_to_end_ab.py /tmp/ngram_ab_run
"""
import time, json, sys, collections, shutil
import tf_aspmtl.training.dev_selection as ds
T = collections.defaultdict(float); N = collections.Counter()
def timed(mod, name):
    f = getattr(mod, name)
    def g(*a, **k):
        t = time.perf_counter()
        try: return f(*a, **k)
        finally: T[name] += time.perf_counter() - t; N[name] += 1
    setattr(mod, name, g)
timed(ds, "save_weights_atomic")
import tf_aspmtl.training.ngram_run as nr
timed(nr, "ngram_rows_dataset"); timed(nr, "ngram_preprocessor")
from tf_aspmtl.training.ngram_config import NgramConfig
cfg = json.load(open("experiments/configs/best.json"))
config = NgramConfig(**{k: cfg[k] for k in ("tasks","max_features","ngrams","l2","learning_rate","batch_size","epochs","patience","feature_weighting")}, self_training_threshold=0.0, seed=0)
out = sys.argv[1]; shutil.rmtree(out, ignore_errors=True)
t = time.perf_counter()
r = nr.run_ngram(config, out, dev_only=True, verbose=0)
total = time.perf_counter() - t
print(json.dumps({"total_s": round(total, 1), "training_wall_s": round(r["training_wall_time_s"], 1), "epochs": r["epochs_run"],
      "dev": r["avg_dev_error"], **{k: round(T[k], 2) for k in T}}))
shutil.rmtree(out, ignore_errors=True)
