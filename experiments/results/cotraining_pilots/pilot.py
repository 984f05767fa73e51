"""Pilots: co-training's second view for the best configuration's self-training. The pseudo labels of the best
configuration's dev-only screen run of one seed come from its n-gram teacher alone; here an LSTM multi-task model
(a Table 2 run of the same seed, the w2v+head+tail protocol, trained on the same train rows, its epoch chosen on
dev) is a second, independently trained view. Dev only: test is never read (the LSTM's run read test for its own
report; nothing here does).

Usage: pilot.py SEED LSTM_MODEL VARIANT[,VARIANT...]; LSTM_MODEL a saved model.keras. Variants:
  base       the screen run's own pseudo labels (the n-gram teacher's, threshold 0.75, balanced);
  agree      those rows where the LSTM's most probable class agrees;
  avgW       labels of the mean of the two views' probabilities, W the n-gram view's weight (e.g. avg0.5),
             threshold 0.75, balanced per task (tf_aspmtl.training.pseudo_label).
Prints the dev error of each view and of their means first (the quality of the labels' source, on dev rows), then
one RESULT line per variant: seed, variant, pseudo-labelled rows, best mean dev error %, its epoch, the dev error
after every epoch, seconds. The student trains in one fit call of 12 epochs as experiments/results/optimiser_pilots
does (its base is the library's run's student: 8.406 at epoch 7 for seed 0)."""
import json, math, sys, time

import keras
import numpy as np
import pandas as pd

import tf_aspmtl
from tf_aspmtl.data.fdu_mtl import load_fdu_mtl
from tf_aspmtl.training.held_out_duplicates import held_out_duplicates
from tf_aspmtl.training.ngram_config import NgramConfig
from tf_aspmtl.training.ngram_run import compiled_ngram_model, ngram_preprocessor, ngram_rows_dataset
from tf_aspmtl.training.ngram_self_training import STUDENT_COLUMNS
from tf_aspmtl.training.pseudo_label import pseudo_label

seed, lstm_path, variants = int(sys.argv[1]), sys.argv[2], sys.argv[3].split(",")
run = f"runs/ngram_task_rows/nb_lr3_self075_quad2m_ls01_binary_priv05_seed{seed}"
args = json.load(open(f"{run}/run_args.json")); args.pop("dev_only"); args["tasks"] = tuple(args["tasks"].split(","))
config = NgramConfig(**args)
tasks = list(config.tasks)
data = load_fdu_mtl(None, tasks=tasks, splits=("train", "dev", "unlabeled"))
train, dev, unlabeled = (data[data.split == s] for s in ("train", "dev", "unlabeled"))
to_label = unlabeled[~held_out_duplicates(unlabeled, dev)][["text", "task"]]  # as the screen run's dev-only teacher
keras.utils.set_random_seed(config.seed)
pre = ngram_preprocessor(config, train)
teacher = compiled_ngram_model(config, pre, train)
teacher.predict({"text": dev["text"].tolist()[:2], "task": dev["task"].tolist()[:2]}, verbose=0)  # builds it
teacher.load_weights(f"{run}/model/teacher/best.weights.h5")
lstm = tf_aspmtl.Task.load(lstm_path)
if list(lstm.task_names) != tasks:
    raise SystemExit(f"{lstm_path} has tasks {lstm.task_names}, not {tasks}")


def probabilities(model, frame):
    order = np.argsort([tasks.index(t) for t in frame["task"]], kind="stable")  # one-task batches, as pseudo_label
    p = model.predict({"text": frame["text"].iloc[order].tolist(), "task": frame["task"].iloc[order].tolist()},
                      batch_size=128, verbose=0)
    out = np.empty_like(p)
    out[order] = p
    return out


class MeanOfViews:
    """A teacher whose probabilities are the weighted mean of two views' (precomputed for ``frame``'s rows)."""

    def __init__(self, first, second, weight):
        self.task_names, self.num_classes = tasks, [2] * len(tasks)
        self.p = weight * first + (1 - weight) * second

    def predict(self, x, batch_size=None, verbose=0):
        return self.p  # pseudo_label asks for to_label's rows, grouped by task; undone below


def dev_error(p):
    wrong = p.argmax(1) != dev["label"].to_numpy()
    return 100 * float(np.mean([wrong[(dev["task"] == t).to_numpy()].mean() for t in tasks]))


t = time.time()
dev_ng, dev_lstm = probabilities(teacher, dev), probabilities(lstm, dev)
print("DEV views: n-gram teacher %.3f, LSTM %.3f, " % (dev_error(dev_ng), dev_error(dev_lstm)) + ", ".join(
    f"mean w={w} {dev_error(w * dev_ng + (1 - w) * dev_lstm):.3f}" for w in (0.5, 0.6, 0.7, 0.8)), flush=True)
unl_ng, unl_lstm = probabilities(teacher, to_label), probabilities(lstm, to_label)
print(f"views predicted in {time.time() - t:.0f} s", flush=True)
saved = pd.read_parquet(f"{run}/model/pseudo_labels.parquet")
order = np.argsort([tasks.index(t) for t in to_label["task"]], kind="stable")
for variant in variants:
    if variant == "base":
        pseudo = saved
    elif variant == "agree":
        lstm_label = pd.Series(unl_lstm.argmax(1), index=to_label["text"] + "\t" + to_label["task"])
        lstm_label = lstm_label[~lstm_label.index.duplicated()]
        pseudo = saved[(lstm_label.loc[saved["text"] + "\t" + saved["task"]].to_numpy() == saved["label"].to_numpy())]
    elif variant.startswith("avg"):
        grouped = to_label.iloc[order]  # pseudo_label predicts the rows grouped by task: give it them in that order
        mean = MeanOfViews(unl_ng[order], unl_lstm[order], float(variant[3:]))
        pseudo = pseudo_label(mean, grouped, threshold=config.self_training_threshold, max_per_task=None)
    else:
        raise SystemExit(f"unknown variant {variant}")
    rows = pd.concat([train[STUDENT_COLUMNS], pseudo[STUDENT_COLUMNS]], ignore_index=True)
    keras.utils.set_random_seed(config.seed)
    model = compiled_ngram_model(config, pre, train)
    steps = math.ceil(len(rows) / config.batch_size)
    ds = ngram_rows_dataset(model, rows, config.batch_size, seed=config.seed)
    dev_ds = ngram_rows_dataset(model, dev, config.batch_size)
    t = time.time()
    h = model.fit(ds, steps_per_epoch=steps, epochs=12, verbose=0, validation_data=dev_ds).history
    errs = [round(100 * (1 - v), 3) for v in h["val_mean_task_accuracy"]]
    print("RESULT", seed, variant, len(pseudo), min(errs), errs.index(min(errs)) + 1, errs, round(time.time() - t),
          json.dumps(pseudo.groupby("task").size().to_dict()), flush=True)
