"""Pilot: would choosing each task's epoch on its own dev rows beat the one epoch the run chooses for all tasks?

Usage: per_task_epochs.py RUN_DIR OUTPUT.json [EPOCHS]. RUN_DIR is a self-training run folder of the n-gram model
(its ``run_args.json`` and saved pseudo labels); a fresh student of it is trained as the library's run trains it
(one ``fit`` call, :func:`experiments.pilot_student.student_setup`) for EPOCHS epochs (default 14), and after every
epoch each dev row's correctness is recorded in OUTPUT.json. ``per_task_epochs_report.py`` then scores both rules
on held-out halves of each task's dev rows. The test split is never read.
"""
import json
import math
import sys

import keras
import numpy as np

from experiments.pilot_student import student_setup
from tf_aspmtl.training.ngram_run import compiled_ngram_model, ngram_rows_dataset

run_dir, out = sys.argv[1], sys.argv[2]
epochs = int(sys.argv[3]) if len(sys.argv) > 3 else 14
config, train, dev, pre, rows = student_setup(run_dir)
keras.utils.set_random_seed(config.seed)
model = compiled_ngram_model(config, pre, train)
x_dev = {"text": dev["text"].astype(str).tolist(), "task": dev["task"].tolist()}
correct: list[list[bool]] = []


class Record(keras.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        predicted = model.predict(x_dev, verbose=0, batch_size=256).argmax(1)
        correct.append((predicted == dev["label"].to_numpy()).tolist())
        print(f"epoch {epoch + 1}: mean dev error over rows {100 * (1 - np.mean(correct[-1])):.3f} %", flush=True)


model.fit(ngram_rows_dataset(model, rows, config.batch_size, seed=config.seed),
          steps_per_epoch=math.ceil(len(rows) / config.batch_size), epochs=epochs, verbose=0, callbacks=[Record()])
with open(out, "w", encoding="utf-8") as f:
    json.dump({"run_dir": run_dir, "seed": config.seed, "tasks": dev["task"].tolist(), "correct": correct}, f)
