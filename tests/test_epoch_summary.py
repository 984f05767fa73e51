"""EpochSummary: one short line per epoch (loss terms, mean dev accuracy, time), never the per-task figures."""

import re

import keras
import numpy as np
import tensorflow as tf

from tf_aspmtl.training import EpochSummary, fit_output

LOGS = {
    "loss": 0.41234, "task_loss": 0.36871, "adv_loss": 0.69312, "diff_loss": 0.0012345, "accuracy": 0.81,
    "mean_task_accuracy": 0.8, "acc_books": 0.77, "acc_dvd": 0.83, "discriminator_accuracy": 0.5,
    "val_loss": 0.5, "val_task_loss": 0.45, "val_mean_task_accuracy": 0.84317, "val_acc_books": 0.9,
    "val_acc_dvd": 0.78,
}


def _one_epoch(logs, epochs=15, epoch=2):
    lines = []
    summary = EpochSummary(print_fn=lines.append)
    summary.set_params({"epochs": epochs, "steps": 10, "verbose": 0})
    summary.on_epoch_begin(epoch)
    summary.on_epoch_end(epoch, logs)
    (line,) = lines
    return line


def test_the_line_holds_the_loss_terms_the_dev_accuracy_and_the_time():
    line = _one_epoch(LOGS)
    assert re.fullmatch(
        r"epoch 3/15: loss 0\.4123 task_loss 0\.3687 adv_loss 0\.6931 diff_loss 0\.001234 "
        r"\| dev mean accuracy 0\.8432 \| \d+\.\d s", line), line
    for per_task in ("acc_books", "acc_dvd", "val_acc_books", "discriminator_accuracy", "val_loss", "0.77", "0.9"):
        assert per_task not in line


def test_only_the_terms_present_appear_in_their_order():
    line = _one_epoch({"l2_loss": 2.5, "task_loss": 0.7, "perturbation_loss": 0.1, "confusion_loss": 1.0})
    assert line.split(" | ")[0] == (
        "epoch 3/15: task_loss 0.7 confusion_loss 1 perturbation_loss 0.1 l2_loss 2.5")
    assert "dev mean accuracy" not in line  # no validation data, no dev figure


def test_printed_to_stdout_by_default(capsys):
    summary = EpochSummary()
    summary.set_params({"epochs": 2})
    summary.on_epoch_begin(0)
    summary.on_epoch_end(0, {"loss": 1.0})
    assert capsys.readouterr().out.startswith("epoch 1/2: loss 1 | ")


def test_a_fit_prints_one_line_per_epoch_and_nothing_else(capsys):
    keras.utils.set_random_seed(0)
    inputs = keras.Input((3,))
    model = keras.Model(inputs, keras.layers.Dense(2)(inputs))
    model.compile("sgd", keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    x, y = np.random.rand(8, 3).astype("float32"), np.array([0, 1] * 4)
    dev = tf.data.Dataset.from_tensor_slices((x, y)).batch(4)
    verbose, callbacks = fit_output(2)
    assert verbose == 0 and [type(c) for c in callbacks] == [EpochSummary]
    model.fit(x, y, batch_size=4, epochs=2, validation_data=dev, verbose=verbose, callbacks=callbacks)
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in lines] == ["epoch 1/2", "epoch 2/2"]
    assert all(re.fullmatch(r"epoch \d/2: loss [\d.e-]+ \| \d+\.\d s", line) for line in lines), lines


def test_other_verbosities_are_keras_own():
    assert fit_output(1) == (1, [])
    assert fit_output(0) == (0, [])
    assert fit_output("auto") == ("auto", [])
