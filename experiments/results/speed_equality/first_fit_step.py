"""First fit step of the paper-scale 16-task ASP-MTL: Keras building the optimizer inside the first trace (keras.Model.fit)
against the library building it before (MultiTaskClassifier.fit), alternated twice in one process (issue 22).

    PYTHONPATH=. python experiments/results/speed_equality/first_fit_step.py

Output in first_fit_step.txt beside this file."""
import os, sys, time
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "2"
import keras, numpy as np, tensorflow as tf
from tf_aspmtl.data import FDU_MTL_TASKS, load_fdu_mtl
from tf_aspmtl.data.pipeline import make_training_dataset
from tf_aspmtl.preprocessing import TextVectorizer
from tf_aspmtl.models import get_model_family, MultiTaskClassifier
from tf_aspmtl.optimizers import get_optimizer
tasks = list(FDU_MTL_TASKS)
train = load_fdu_mtl(tasks=tasks, splits=("train",))
vec = TextVectorizer(max_length=200, max_tokens=30000); vec.adapt(train["text"].tolist())
for label, fit in [("keras lazy build", keras.Model.fit), ("built before", MultiTaskClassifier.fit)] * 2:
    ds, _ = make_training_dataset(train, vec, tasks, batch_size=16, seed=0)
    keras.utils.set_random_seed(0)
    model = get_model_family("asp-mtl")(tasks, vocabulary_size=vec.vocabulary_size, embedding_dim=50, hidden_dim=100)
    model.compile(get_optimizer("lazy-adam", 1e-3))
    t = time.perf_counter()
    fit(model, ds, steps_per_epoch=1, epochs=1, verbose=0, shuffle=False)
    print(f"{label}: fit of one step {time.perf_counter() - t:.1f} s", flush=True)
