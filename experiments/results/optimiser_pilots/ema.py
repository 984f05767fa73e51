"""Probe (not a library file): the best configuration's dev-only student of one seed, trained again with and
without Polyak averaging (Keras' optimizer use_ema + SwapEMAWeights for the dev evaluation). Dev only.
Usage: ema.py SEED MOMENTUM[,MOMENTUM...] (0: no averaging). Prints: momentum, epoch, mean dev error %, seconds."""
import json, math, sys, time
import keras, numpy as np, pandas as pd
from tf_aspmtl.data.fdu_mtl import load_fdu_mtl
from tf_aspmtl.optimizers import LazyAdam
from tf_aspmtl.training.ngram_config import NgramConfig
from tf_aspmtl.training.ngram_run import ngram_preprocessor, compiled_ngram_model, ngram_rows_dataset
from tf_aspmtl.training.ngram_self_training import STUDENT_COLUMNS
from tf_aspmtl.training.task_errors import task_errors

seed = int(sys.argv[1]); momenta = [float(m) for m in sys.argv[2].split(",")]
run = f"runs/ngram_task_rows/nb_lr3_self075_quad2m_ls01_binary_priv05_seed{seed}"
args = json.load(open(f"{run}/run_args.json"))
args.pop("dev_only"); args["tasks"] = tuple(args["tasks"].split(","))
config = NgramConfig(**args)
data = load_fdu_mtl(None, tasks=list(config.tasks), splits=("train", "dev"))
train, dev = data[data.split == "train"], data[data.split == "dev"]
keras.utils.set_random_seed(config.seed)
pre = ngram_preprocessor(config, train)
pseudo = pd.read_parquet(f"{run}/model/pseudo_labels.parquet")
rows = pd.concat([train[STUDENT_COLUMNS], pseudo[STUDENT_COLUMNS]], ignore_index=True)
out = {}
for m in momenta:
    keras.utils.set_random_seed(config.seed)
    model = compiled_ngram_model(config, pre, train)
    cbs = []
    if m > 0:
        model.compile(optimizer=LazyAdam(config.learning_rate, use_ema=True, ema_momentum=m))
        cbs = [keras.callbacks.SwapEMAWeights()]
    ds = ngram_rows_dataset(model, rows, config.batch_size, seed=config.seed)
    steps = math.ceil(len(rows) / config.batch_size)
    dev_ds = ngram_rows_dataset(model, dev, config.batch_size)
    errs = []
    t = time.time()
    for epoch in range(12):
        h = model.fit(ds.skip(epoch * steps), steps_per_epoch=steps, epochs=1, verbose=0, validation_data=dev_ds, callbacks=cbs)
        errs.append(round(100 * (1 - h.history["val_mean_task_accuracy"][0]), 3))
        print(m, epoch + 1, errs[-1], round(time.time() - t), flush=True)
    out[str(m)] = errs
print(json.dumps(out))
