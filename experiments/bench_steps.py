"""ms per training step of paper-scale ASP-MTL on the 16 tasks: old API vs new (same data, same settings)."""
import sys, time, json, importlib.util
import keras, numpy as np, tensorflow as tf
tf.config.threading.set_intra_op_parallelism_threads(1); tf.config.threading.set_inter_op_parallelism_threads(2)
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
print(json.dumps({"api": "new" if new else "old", "ms_per_step": round(t.ms, 1)}))
