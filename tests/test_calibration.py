"""Temperature scaling per task: fitted on held-out rows, never changes a label, saved, applied in predict and in
every export (unless turned off), and the ensemble still averages its members' raw probabilities."""

import json

import keras
import numpy as np
import pandas as pd
import pytest
import tensorflow as tf

import tf_aspmtl
from tf_aspmtl.calibration import expected_calibration_error, fit_temperature, log_loss, scale_probabilities

ROWS = pd.DataFrame({
    "text": ["a good book", "a dull book", "great fun", "awful plot", "the disc skips", "a fine film", "bad sound",
             "well made", "good but slow", "not bad at all"] * 4,
    "task": (["books"] * 4 + ["dvd"] * 4 + ["books", "dvd"]) * 4,
    "label": ["pos", "neg", "pos", "neg", "neg", "pos", "neg", "pos", "pos", "neg"] * 4,
})
X = {"text": list(ROWS.text), "task": list(ROWS.task)}


def test_fit_temperature_recovers_the_temperature_that_made_the_labels():
    rng = np.random.default_rng(0)
    logits = rng.normal(scale=3.0, size=(4000, 3))
    true_t = 2.5  # labels drawn from softmax(logits / 2.5): the model below is 2.5 times too sure
    p_true = tf.nn.softmax(logits / true_t).numpy()
    labels = np.array([rng.choice(3, p=row) for row in p_true])
    overconfident = tf.nn.softmax(logits).numpy()
    t = fit_temperature(overconfident, labels)
    assert abs(t - true_t) / true_t < 0.1
    scaled = scale_probabilities(overconfident, t).numpy()
    assert log_loss(scaled, labels) < log_loss(overconfident, labels)
    assert expected_calibration_error(scaled, labels) < expected_calibration_error(overconfident, labels)
    assert np.array_equal(scaled.argmax(1), overconfident.argmax(1))


def test_padding_classes_stay_at_zero_and_bad_input_is_named():
    p = np.array([[0.7, 0.3, 0.0], [0.2, 0.8, 0.0]], np.float32)
    scaled = scale_probabilities(p, tf.constant([2.0, 0.5])).numpy()
    assert np.all(scaled[:, 2] == 0) and np.allclose(scaled.sum(1), 1.0)
    assert 0.5 < scaled[0, 0] < 0.7 and scaled[1, 1] > 0.8
    with pytest.raises(ValueError, match="class ids"):
        fit_temperature(p, [0, 3])


@pytest.fixture(scope="module")
def model():
    keras.utils.set_random_seed(0)
    m = tf_aspmtl.SharedPrivateNgramClassifier.from_frame(ROWS, max_features=60)
    m.compile(learning_rate=0.2)
    m.fit(X, ROWS.label, epochs=15, verbose=0)  # far too sure of itself on these rows
    return m


def test_calibrate_fits_one_temperature_per_task_and_changes_no_label(model, tmp_path):
    raw = model.predict(X, verbose=0)
    temperatures = model.calibrate(X, ROWS.label)
    assert len(temperatures) == 2 and all(t > 0 for t in temperatures) and model.temperatures == temperatures
    calibrated = model.predict(X, verbose=0)
    assert np.array_equal(calibrated.argmax(1), raw.argmax(1))  # temperature never changes a label
    assert not np.allclose(calibrated, raw)
    np.testing.assert_allclose(model.predict(X, verbose=0, calibrated=False), raw, atol=1e-6)
    labels = model.encode_labels(X["task"], ROWS.label)
    assert log_loss(calibrated, labels) <= log_loss(raw, labels) + 1e-6
    path = tmp_path / "calibrated.keras"
    model.save(path)
    loaded = tf_aspmtl.Task.load(path)
    assert loaded.temperatures == pytest.approx(temperatures)
    np.testing.assert_allclose(loaded.predict(X, verbose=0), calibrated, atol=1e-6)
    with pytest.raises(ValueError, match="temperatures must be 2 finite numbers > 0"):
        model.set_temperatures([1.0, -1.0])


def test_every_export_serves_the_calibrated_probabilities_unless_turned_off(model, tmp_path):
    model.calibrate(X, ROWS.label)
    texts = ["a good film", "bad sound"]
    expected = model.predict({"text": texts, "task": ["dvd", "dvd"]}, verbose=0)
    raw = model.predict({"text": texts, "task": ["dvd", "dvd"]}, verbose=0, calibrated=False)
    for calibrated, want in ((True, expected), (False, raw)):
        # dvd alone, and the multi-task graph once (calibrated): check=True compares each export with predict.
        exported = model.export(str(tmp_path / f"serving-{calibrated}"), verbose=False, tasks=["dvd"],
                                multitask=calibrated, calibrated=calibrated, warmup_requests=False)
        dvd = tf.saved_model.load(exported[0].path).signatures["serving_default"]
        np.testing.assert_allclose(dvd(text=tf.constant(texts))["probabilities"].numpy(), want, atol=1e-5)
        info = json.loads((tmp_path / f"serving-{calibrated}" / "dvd" / "1" / "assets.extra" / "export.json").read_text())
        assert (info["temperatures"] is not None) == calibrated


def test_an_ensemble_of_calibrated_members_averages_their_raw_probabilities(model):
    model.calibrate(X, ROWS.label)
    other = tf_aspmtl.SharedPrivateNgramClassifier.from_frame(ROWS, max_features=30)
    ensemble = tf_aspmtl.MultiTaskEnsemble([model, other])
    expected = (model.predict(X, verbose=0, calibrated=False) + other.predict(X, verbose=0)) / 2
    np.testing.assert_allclose(ensemble.predict(X, verbose=0), expected, atol=1e-6)
    temperatures = ensemble.calibrate(X, ROWS.label)  # the ensemble's own temperatures apply to its average, once
    assert temperatures != pytest.approx([1.0, 1.0])
    row_temperatures = tf.constant([temperatures[ensemble.task_id(t)] for t in ROWS.task], tf.float32)
    np.testing.assert_allclose(ensemble.predict(X, verbose=0), scale_probabilities(expected, row_temperatures),
                               atol=1e-6)
    assert np.array_equal(ensemble.predict(X, verbose=0).argmax(1), expected.argmax(1))


def test_renaming_the_classes_keeps_the_temperatures(model):
    model.set_temperatures([2.0, 0.5])
    try:
        renamed = model.with_class_names([["n", "p"], ["n", "p"]])
        assert renamed.temperatures == [2.0, 0.5]
        np.testing.assert_allclose(renamed.predict(X, verbose=0), model.predict(X, verbose=0), atol=1e-6)
    finally:
        model.set_temperatures(None)


def test_calibrate_and_score_fits_on_dev_and_reports_test_before_and_after(model, tmp_path):
    from tf_aspmtl.training import calibrate_and_score, plot_reliability

    # FDU-MTL's rows: label i is the task's class i.
    rows = ROWS.assign(label=[list(model.preprocessor.classes(t)).index(y) for t, y in zip(ROWS.task, ROWS.label)])
    try:
        scores = calibrate_and_score(model, rows, rows)
    finally:
        model.set_temperatures(None)
    assert set(scores["per_task"]) == {"books", "dvd"} and scores["labels_changed"] == 0
    assert scores["test_rows"] == len(rows) and all(r["temperature"] > 0 for r in scores["per_task"].values())
    assert scores["log_loss_after_mean"] <= scores["log_loss_before_mean"] + 1e-6
    assert scores["ece_after_mean"] < scores["ece_before_mean"]
    assert scores["ece_after_all_rows"] < scores["ece_before_all_rows"]  # over both tasks' rows at once too
    plot_reliability({"ngram": scores}, tmp_path / "reliability.png")
    assert (tmp_path / "reliability.png").stat().st_size > 0


def test_the_calibration_error_floor_is_sampling_noise_that_shrinks_with_rows():
    from tf_aspmtl.calibration import calibration_error_floor

    rng = np.random.default_rng(1)
    confident = rng.uniform(0.5, 1.0, 20000)
    p = np.stack([confident, 1 - confident], axis=1)
    small, large = calibration_error_floor(p[:400], draws=100), calibration_error_floor(p, draws=20)
    assert large < 1.0 < small  # a perfectly calibrated model still shows ECE on 400 rows, hardly on 20,000
    assert 1.5 < small / large < 12  # ~ sqrt(50) = 7 in theory: noise, not bias
    assert calibration_error_floor(np.array([[1.0, 0.0], [0.0, 1.0]])) == 0.0  # sure and right: no noise
    # An overconfident model (true probabilities pulled to 0.5) measures well above the floor of its own claims.
    truth = 0.5 + (confident - 0.5) * 0.5
    labels = (rng.random(20000) > truth).astype(int)
    assert expected_calibration_error(p, labels) > 5 * large
    with pytest.raises(ValueError, match="rows, classes"):
        calibration_error_floor(np.zeros(3))


def test_the_fitted_temperature_stays_in_its_documented_range():
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 2, size=500)
    timid = np.where(np.eye(2)[labels] > 0, 0.52, 0.48)  # always right, barely sure: the best T is below 0.05
    t = fit_temperature(timid, labels)
    assert t == pytest.approx(0.05)


def test_the_fit_minimises_the_log_loss_of_the_probabilities_it_scales_with_exact_zeros():
    # A float32 softmax underflows to an exact 0 when a model is very sure; scale_probabilities keeps such a 0 at 0,
    # so those rows' log loss does not depend on T, and the fit must not count the 0 as a small probability.
    sure = np.tile([[1.0, 0.0]], (200, 1))
    unsure = np.tile([[0.99, 0.01]], (50, 1))
    p = np.vstack([sure, unsure]).astype(np.float32)
    labels = np.array([0] * 200 + [0] * 35 + [1] * 15)
    t = fit_temperature(p, labels)
    grid = np.exp(np.linspace(np.log(0.05), np.log(20.0), 801))
    losses = [log_loss(scale_probabilities(p, g).numpy(), labels) for g in grid]
    best = grid[int(np.argmin(losses))]
    assert t == pytest.approx(best, rel=0.02)
    assert log_loss(scale_probabilities(p, t).numpy(), labels) == pytest.approx(min(losses), abs=1e-6)


def test_a_label_on_a_class_of_probability_zero_in_every_row_is_not_read_as_another_class():
    p = np.array([[0.7, 0.0, 0.3], [0.6, 0.0, 0.4], [0.2, 0.0, 0.8]])
    # Row 0's class keeps probability 0 at any temperature: the fit is that of the other two rows, not one that
    # reads its label as class 2 (the next class with a probability), nor an IndexError for the last class.
    assert fit_temperature(p, [1, 0, 2]) == pytest.approx(fit_temperature(p[1:], [0, 2]))
    assert fit_temperature(p[:, [0, 2, 1]], [2, 0, 1]) == pytest.approx(fit_temperature(p[1:], [0, 2]))


def test_the_command_refuses_a_model_name_given_twice(tmp_path, monkeypatch, capsys):
    # --model a=x --model a=y calibrated both and kept only y's figures under "a", x's dropped without a word.
    from experiments import calibration as command

    calibrated = []
    monkeypatch.setattr(command, "run_calibration", lambda path, data_dir: calibrated.append(path) or {})
    with pytest.raises(SystemExit):
        command.main(["--model", "a=x.keras", "--model", "a=y.keras", "--output", str(tmp_path / "c.json")])
    assert "given twice" in capsys.readouterr().err
    assert calibrated == [] and not (tmp_path / "c.json").exists()
