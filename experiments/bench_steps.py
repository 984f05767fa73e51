"""Milliseconds per training step of paper-scale ASP-MTL on the 16 FDU-MTL tasks (batch 16, 200 tokens).

    PYTHONPATH=<a checkout> python experiments/bench_steps.py [--deterministic] [--perturbation adversarial|virtual]
        [--note "what else ran"] [--append results.json]

Prints one JSON line (and with ``--append`` adds it, with the command, the
commit of the checkout under test and the library versions, to a results file): the API generation of the checkout on PYTHONPATH (the
model classes before or after the keras-hub-shaped refactor build the same
model), whether TensorFlow op determinism was on, and the mean time of
training steps 21-320 of one fit on 320 cached batches (1 intra-op, 2
inter-op threads). ``--perturbation`` times the model with AT or VAT on its
word vectors (``MultiTaskClassifier(embedding_perturbation=...)``, labelled
rows only here, as the default stream has no unlabelled rows). Run checkouts or settings alternately, in one sitting, to
compare them on this noisy shared machine.
"""
import sys, time, json, importlib.util
import keras, numpy as np, tensorflow as tf
tf.config.threading.set_intra_op_parallelism_threads(1); tf.config.threading.set_inter_op_parallelism_threads(2)
deterministic = "--deterministic" in sys.argv
perturbation = sys.argv[sys.argv.index("--perturbation") + 1] if "--perturbation" in sys.argv else "none"
if deterministic:
    tf.config.experimental.enable_op_determinism()
from tf_aspmtl.data import load_fdu_mtl, FDU_MTL_TASKS
from tf_aspmtl.data.pipeline import make_training_dataset
from tf_aspmtl.preprocessing import TextVectorizer
from tf_aspmtl.optimizers import get_optimizer
from tf_aspmtl.models import get_model_family
new = importlib.util.find_spec("tf_aspmtl.models.shared_private_backbone") is not None
tasks = list(FDU_MTL_TASKS)
keras.utils.set_random_seed(0)
data = load_fdu_mtl(None, tasks=tasks, splits=("train",))
v = TextVectorizer(max_length=200, max_tokens=30000, name="preprocessor"); v.adapt(data.text.tolist())
kw = dict(vocabulary_size=v.vocabulary_size, embedding_dim=50, hidden_dim=100, class_names=[["n", "p"]] * 16,
          adversarial_weight=0.05, difference_weight=0.01)
if perturbation != "none":
    kw["embedding_perturbation"] = perturbation
m = get_model_family("asp-mtl")(tasks, name="asp_mtl", **kw)
m.compile(optimizer=get_optimizer("lazy-adam", 1e-3))
ds, steps = make_training_dataset(data, v, tasks, batch_size=16, max_length=200, seed=0)
ds = ds.map(lambda x, y: ({"token_ids": x["token_ids"], "task_id": x["task_id"]}, y)).take(320).cache()
list(ds)  # materialise
class T(keras.callbacks.Callback):
    def on_train_batch_begin(self, b, logs=None):
        if b == 20: self.t = time.perf_counter()
    def on_train_end(self, logs=None): self.ms = (time.perf_counter() - self.t) / 300 * 1000
t = T(); m.fit(ds, epochs=1, verbose=0, callbacks=[t])
import os, pathlib, shlex, subprocess
import tf_aspmtl
code_dir = pathlib.Path(tf_aspmtl.__file__).resolve().parents[1]
commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=code_dir, capture_output=True, text=True).stdout.strip()
record = {"api": "new" if new else "old", "deterministic": deterministic, "perturbation": perturbation, "ms_per_step": round(t.ms, 1),
          "load_average_1m": round(os.getloadavg()[0], 2),
          "other_work_on_the_machine": sys.argv[sys.argv.index("--note") + 1] if "--note" in sys.argv else None, "code_under_test": str(code_dir), "commit": commit,
          "command": shlex.join([f"PYTHONPATH={os.environ.get('PYTHONPATH', '')}", "python"] + sys.argv),
          "versions": {"tensorflow": tf.__version__, "keras": keras.__version__}}
print(json.dumps(record))
if "--append" in sys.argv:
    path = pathlib.Path(sys.argv[sys.argv.index("--append") + 1])
    runs = json.loads(path.read_text())["runs"] if path.exists() else []
    tmp = path.with_name(f".{path.name}.part")
    tmp.write_text(json.dumps({"runs": runs + [record]}, indent=2) + "\n")
    tmp.replace(path)
