"""Pilots: the best configuration's dev-only student of one seed (its screen run's saved pseudo labels), trained
afresh in one fit call as the library's run does, under changes of the optimiser alone. Dev only (test never read).

Usage: pilots.py SEED VARIANT[,VARIANT...]; variants: base; emaM (Polyak averaging, Keras' use_ema with momentum
M, dev read with the averaged weights through SwapEMAWeights); cosN (cosine decay to 0 over N epochs); b32 (batches
of 32); epsE (Adam's epsilon E). Prints one RESULT line per variant: seed, variant, best mean dev error %, its
epoch, the dev error after every epoch, seconds."""
import math, sys, time
import keras
from experiments.pilot_student import student_setup
from tf_aspmtl.optimizers import LazyAdam
from tf_aspmtl.training.ngram_run import compiled_ngram_model, ngram_rows_dataset
seed, variants = int(sys.argv[1]), sys.argv[2].split(",")
config, train, dev, pre, rows = student_setup(f"runs/ngram_task_rows/nb_lr3_self075_quad2m_ls01_binary_priv05_seed{seed}")
EPOCHS = 12
for variant in variants:
    keras.utils.set_random_seed(config.seed)
    batch = 32 if variant == "b32" else config.batch_size
    model = compiled_ngram_model(config, pre, train)
    steps = math.ceil(len(rows) / batch)
    lr = config.learning_rate
    if variant.startswith("cos"):
        lr = keras.optimizers.schedules.CosineDecay(config.learning_rate, decay_steps=int(variant[3:]) * steps)
    callbacks = []
    if variant.startswith("eps"):
        model.compile(optimizer=LazyAdam(lr, epsilon=float(variant[3:])))
    elif variant.startswith("ema"):
        model.compile(optimizer=LazyAdam(lr, use_ema=True, ema_momentum=float(variant[3:])))
        callbacks = [keras.callbacks.SwapEMAWeights()]
    elif variant != "base":
        model.compile(optimizer=LazyAdam(lr))
    ds = ngram_rows_dataset(model, rows, batch, seed=config.seed)
    dev_ds = ngram_rows_dataset(model, dev, config.batch_size)
    t = time.time()
    h = model.fit(ds, steps_per_epoch=steps, epochs=EPOCHS, verbose=0, validation_data=dev_ds,
                  callbacks=callbacks).history
    errs = [round(100 * (1 - v), 3) for v in h["val_mean_task_accuracy"]]
    print("RESULT", seed, variant, min(errs), errs.index(min(errs)) + 1, errs, round(time.time() - t), flush=True)
