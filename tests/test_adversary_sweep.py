"""Issue 23's sweep: the reversal's scale and warm-up as training options, and the sweep's table command.

- ``gradient_reversal_scale`` and ``reversal_warmup_epochs`` reach the model from the config and the command line,
  are refused by name when bad, and at their defaults leave the recorded config, the model and its numbers as before.
- The warm-up's factor at each epoch is ``tanh(5 p)`` (= ``2 / (1 + exp(-10 p)) - 1``), in the reversed gradient,
  through plain ``fit``; a run killed after an epoch resumes to the numbers of one never killed.
- ``python -m experiments.adversary_sweep`` on tiny fake runs: means, sds and paired differences, the cache, and
  a clear error for a results file without its model; on a real tiny run: the probe and discriminator figures.
"""

import dataclasses
import json
import math
from pathlib import Path

import h5py
import keras
import numpy as np
import pytest
import tensorflow as tf

from experiments import adversary_sweep, train
from tests.tiny_fdu import write_fdu_folder
from tf_aspmtl.layers import GradientReversal
from tf_aspmtl.layers.gradient_reversal import reversal_warmup_factor
from tf_aspmtl.models import AdversarialSharedPrivateMTL
from tf_aspmtl.training import TrainConfig, run
from tf_aspmtl.training.model_fingerprint import model_fingerprint

REPO = Path(__file__).resolve().parents[1]
OBJECTIVE_KEYS = {"adversarial_weight", "difference_weight", "task_weights", "difference_normalization",
                  "adversarial_objective", "gradient_reversal_scale", "embedding_perturbation", "perturbation_weight",
                  "perturbation_norm", "vat_xi"}
"""The objective's config before the warm-up existed."""
TINY = TrainConfig(model="asp-mtl", tasks=("books", "dvd"), epochs=2, patience=2, hidden_dim=4, embedding_dim=4,
                   max_length=8, batch_size=4, encoder="cnn", embedding="random", seed=0, paper_scale=False,
                   adversarial_weight=1.0, reversal_warmup_epochs=5)
"""Setting ``asp_l1_warm`` of the sweep on the tiny corpus: epoch 2 trains with factor tanh(1) = 0.7616."""


# ------------------------------------------------------------------ the config option
def test_the_options_round_trip_and_are_recorded_only_when_set():
    default = TrainConfig()
    assert not {"gradient_reversal_scale", "reversal_warmup_epochs"} & set(default.to_dict())
    set_ = dataclasses.replace(default, adversarial_weight=1.0, gradient_reversal_scale=0.1, reversal_warmup_epochs=5)
    record = json.loads(json.dumps(set_.to_dict()))
    assert record == {**json.loads(json.dumps(default.to_dict())), "adversarial_weight": 1.0,
                      "gradient_reversal_scale": 0.1, "reversal_warmup_epochs": 5}
    assert TrainConfig.from_dict(record) == set_
    config = train.resolve_config(train.parse_args(["--adversarial-weight", "1", "--gradient-reversal-scale", "0.1",
                                                    "--reversal-warmup-epochs", "5"]))
    assert (config.gradient_reversal_scale, config.reversal_warmup_epochs) == (0.1, 5)
    # The committed results of the paper's tables: their configs, read and recorded again, gain neither field.
    known, checked = {f.name for f in dataclasses.fields(TrainConfig)}, 0
    for path in sorted((REPO / "experiments/results/tables/runs").glob("*.json")):
        recorded = json.loads(path.read_text())["config"]
        if not set(recorded) <= known:  # a transfer run's record
            continue
        checked += 1
        again = json.loads(json.dumps(TrainConfig.from_dict(recorded).to_dict()))
        assert {k: again[k] for k in recorded} == recorded, path
        assert not {"gradient_reversal_scale", "reversal_warmup_epochs"} & set(again), path
    assert checked >= 20


@pytest.mark.parametrize("fields, message", [
    ({"reversal_warmup_epochs": -1}, r"TrainConfig.reversal_warmup_epochs must be >= 0"),
    ({"reversal_warmup_epochs": 1.5}, r"TrainConfig.reversal_warmup_epochs must be an int"),
    ({"gradient_reversal_scale": float("inf")}, r"TrainConfig.gradient_reversal_scale must be finite"),
    ({"gradient_reversal_scale": "0.1"}, r"TrainConfig.gradient_reversal_scale must be a number"),
    ({"model": "sp-mtl", "reversal_warmup_epochs": 5}, r"TrainConfig.reversal_warmup_epochs sets the gradient "
                                                       r"reversal .* got model='sp-mtl'"),
    ({"adversarial_objective": "confusion", "gradient_reversal_scale": 0.1},
     r"TrainConfig.gradient_reversal_scale sets .* adversarial_objective='confusion'"),
    ({"adversarial_weight": 0.0, "gradient_reversal_scale": 0.1, "reversal_warmup_epochs": 2},
     r"TrainConfig.gradient_reversal_scale, TrainConfig.reversal_warmup_epochs set the .* adversarial_weight=0.0"),
])
def test_bad_values_are_refused_by_name(fields, message):
    with pytest.raises(ValueError, match=message):
        TrainConfig(**fields)


def test_the_command_line_names_the_flag_of_a_refused_value():
    with pytest.raises(ValueError, match=r"TrainConfig.reversal_warmup_epochs \(--reversal-warmup-epochs\) sets"):
        train.resolve_config(train.parse_args(["--model", "sp-mtl", "--reversal-warmup-epochs", "5"]))


def test_every_sweep_setting_is_a_valid_command_line_and_sp_asp_come_first(capsys):
    for flags in adversary_sweep.SETTINGS.values():
        train.resolve_config(train.parse_args(flags))  # every flag exists and the config takes its value
    assert list(adversary_sweep.SETTINGS)[:2] == ["sp", "asp"]
    swept = {"model": "asp-mtl", "adversarial_weight": 0.05, "adversarial_objective": "reversal",
             "gradient_reversal_scale": 1.0, "reversal_warmup_epochs": 0, "discriminator_memory": 0,
             "mean_matching_weight": 0.0, "shared_mean_projection": False}
    assert adversary_sweep.setting_config("asp") == swept
    assert adversary_sweep.setting_config("asp_l1_s01") == {**swept, "adversarial_weight": 1.0,
                                                             "gradient_reversal_scale": 0.1}
    assert adversary_sweep.setting_config("conf_l03") == {**swept, "adversarial_weight": 0.3,
                                                           "adversarial_objective": "confusion"}
    assert adversary_sweep.main(["--print-settings"]) == 0  # what the queue reads
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "sp\t--model sp-mtl" and lines[-1] == "sp_proj\t--model sp-mtl --shared-mean-projection"
    assert adversary_sweep.setting_config("asp_mem") == {**swept, "discriminator_memory": 256}
    assert adversary_sweep.setting_config("sp_proj") == {**swept, "model": "sp-mtl", "shared_mean_projection": True}


def _tiny_model(**settings):
    keras.utils.set_random_seed(0)
    model = AdversarialSharedPrivateMTL(["a", "b"], vocabulary_size=20, embedding_dim=4, hidden_dim=3, encoder="cnn",
                                        **settings)
    model.compile(optimizer=keras.optimizers.Adam(0.05))
    return model


def _batches():
    """32 rows of prepared inputs, task 0 then task 1, and a dataset of one-task batches of 8 of them."""
    rng = np.random.default_rng(0)
    x = {"token_ids": rng.integers(1, 20, size=(32, 6)).astype("int32"),
         "task_id": np.repeat([0, 1], 16).astype("int32")}
    y = rng.integers(0, 2, size=32)
    return x, y, tf.data.Dataset.from_tensor_slices((x, y)).batch(8)


def test_off_leaves_the_model_its_config_fingerprint_weights_and_callbacks():
    from tf_aspmtl.models.reversal_warmup import with_reversal_warmup
    from tf_aspmtl.preprocessing import TextVectorizer
    from tf_aspmtl.training import build_model, fdu_preprocessor

    vectorizer = TextVectorizer(max_length=8, max_tokens=50)
    vectorizer.adapt(["a good book", "a bad film", "great read"])
    config = dataclasses.replace(TINY, reversal_warmup_epochs=0, tasks=("a", "b"))
    keras.utils.set_random_seed(0)
    built = build_model(config, fdu_preprocessor(vectorizer, ["a", "b"]))
    keras.utils.set_random_seed(0)
    before = AdversarialSharedPrivateMTL(  # built as the factory did before the options existed
        fdu_preprocessor(vectorizer, ["a", "b"]), name="asp_mtl", embedding_dim=4, encoder="cnn", hidden_dim=4,
        word_vectors="random", seed=0, per_task_metrics=True, adversarial_weight=1.0, difference_weight=0.01)
    assert set(built.objective.get_config()) == OBJECTIVE_KEYS
    # The objective's hash in the fingerprint the default ASP-MTL run folder runs/eq/main-job recorded (state.json)
    assert model_fingerprint(build_model(TrainConfig(), ["a", "b"]))["config.objective"] == "6bc0afcd0f149e46"
    assert "warmup_epochs" not in built.gradient_reversal.get_config()
    assert built.gradient_reversal.warmup_factor is None
    assert model_fingerprint(built) == model_fingerprint(before)
    assert [w.path for w in built.weights] == [w.path for w in before.weights]
    for a, b in zip(built.weights, before.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    callbacks = [keras.callbacks.History()]
    assert with_reversal_warmup(built, callbacks) is callbacks  # fit gets the callbacks it got before


# --------------------------------------------------------------------------- warm-up
def test_the_warmup_factor_is_ganins_schedule():
    for warmup in (1, 3, 5):
        for epoch in range(8):
            assert reversal_warmup_factor(epoch, warmup) == pytest.approx(math.tanh(5 * min(1, epoch / warmup)))
    assert reversal_warmup_factor(0, 5) == 0.0 and reversal_warmup_factor(9, 0) == 1.0
    with pytest.raises(ValueError, match="warmup_epochs must be an int >= 0"):
        reversal_warmup_factor(1, -2)
    with pytest.raises(ValueError, match="warmup_epochs must be an int >= 0"):
        GradientReversal(warmup_epochs=2.5)


def test_the_reversed_gradient_carries_the_factor_of_the_epoch_without_retracing():
    layer = GradientReversal(scale=0.5, warmup_epochs=4)
    x = tf.constant(np.random.default_rng(0).normal(size=(3, 4)), tf.float32)
    upstream = tf.constant(np.random.default_rng(1).normal(size=(3, 4)), tf.float32)

    @tf.function
    def gradient(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = tf.reduce_sum(layer(x) * upstream)
        return tape.gradient(y, x)

    for epoch in (0, 1, 2, 4, 7, 1):
        factor = layer.set_epoch(epoch)
        assert factor == pytest.approx(math.tanh(5 * min(1, epoch / 4)))
        np.testing.assert_allclose(gradient(x).numpy(), -0.5 * factor * upstream.numpy(), rtol=1e-6)
    assert gradient.experimental_get_tracing_count() == 1
    clone = GradientReversal.from_config(layer.get_config())
    assert clone.get_config()["warmup_epochs"] == 4 and clone.warmup_factor is not None


def test_a_warm_layer_follows_the_layer_conventions(tmp_path):
    from tests.layer_harness import run_layer_test

    x = tf.constant(np.random.default_rng(0).normal(size=(3, 5, 4)), tf.float32)
    run_layer_test(GradientReversal(scale=0.5, warmup_epochs=3), x, directory=tmp_path)  # .keras, mixed precision...


def test_fit_warms_up_the_models_reversal_epoch_by_epoch():
    warm = _tiny_model(adversarial_weight=1.0, gradient_reversal_scale=0.5, reversal_warmup_epochs=3)
    assert warm.objective.get_config()["reversal_warmup_epochs"] == 3
    seen = []

    class FactorAtFirstStep(keras.callbacks.Callback):
        def on_train_batch_begin(self, batch, logs=None):
            if batch == 0:
                seen.append(float(self.model.gradient_reversal.warmup_factor.numpy()))

    x, y, batches = _batches()
    history = warm.fit(batches, epochs=4, verbose=0, callbacks=[FactorAtFirstStep()]).history
    expected = [math.tanh(5 * min(1, e / 3)) for e in range(4)]
    np.testing.assert_allclose(seen, expected, rtol=1e-6)
    np.testing.assert_allclose(history["reversal_scale"], [0.5 * f for f in expected], rtol=1e-6)
    # The shared encoder's gradient is that of a model without a warm-up whose scale is 0.5 * the factor.
    warm.gradient_reversal.set_epoch(1)
    plain = _tiny_model(adversarial_weight=1.0, gradient_reversal_scale=0.5 * expected[1])
    plain.set_weights([w.numpy() for w in warm.weights if "warmup_factor" not in w.path])
    grads = []
    for model in (warm, plain):
        with tf.GradientTape() as tape:
            loss = model.loss_terms(tf.constant(y), model(x, training=True, single_task_batch=False))["loss"]
        grads.append(tape.gradient(loss, model.shared_encoder.trainable_weights))
    for a, b in zip(*grads):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-5, atol=1e-7)
    clone = type(warm).from_config(json.loads(json.dumps(warm.get_config())))
    assert clone.gradient_reversal.warmup_epochs == 3 and model_fingerprint(clone) == model_fingerprint(warm)


class Interrupted(BaseException):
    """Stands for a kill after the end of the first epoch (its checkpoint written)."""


class InterruptAfterFirstEpoch(keras.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        raise Interrupted(f"end of epoch {epoch + 1}")


@pytest.fixture(scope="module")
def tiny_runs(tmp_path_factory):
    """The tiny corpus, and the sweep's folders holding one real run of setting asp_l1_warm, seed 0."""
    data_dir = write_fdu_folder(tmp_path_factory.mktemp("fdu"))
    root = tmp_path_factory.mktemp("sweep")
    results_dir, runs_dir = root / "results", root / "runs"
    results_dir.mkdir()
    results = run(TINY, runs_dir / "asp_l1_warm_seed0", data_dir, verbose=0)
    (results_dir / "asp_l1_warm_seed0.json").write_text(json.dumps(results))
    return data_dir, results_dir, runs_dir, results


@pytest.mark.slow  # 7 s: two more tiny runs
def test_a_warm_run_killed_after_an_epoch_resumes_to_the_numbers_of_one_never_killed(tmp_path, tiny_runs):
    data_dir, _, runs_dir, reference = tiny_runs
    with pytest.raises(Interrupted):
        run(TINY, tmp_path, data_dir, verbose=0, callbacks=[InterruptAfterFirstEpoch()])
    resumed = run(TINY, tmp_path, data_dir, verbose=0)
    assert resumed["resumed"] == [{"group": "books+dvd", "from_epoch": 1}]
    assert reference["config"]["reversal_warmup_epochs"] == 5
    history = reference["history"]["books+dvd"]
    np.testing.assert_allclose(history["reversal_scale"], [0.0, math.tanh(1.0)], rtol=1e-6)
    volatile = ("wall_time_s", "training_wall_time_s", "processes", "resumed")
    assert {k: v for k, v in resumed.items() if k not in volatile} == {
        k: v for k, v in reference.items() if k not in volatile}
    for name in ("epoch-2.weights.h5", "best.weights.h5"):  # the last epoch's weights and the selected ones
        ours, theirs = _arrays(tmp_path / "model" / name), _arrays(runs_dir / "asp_l1_warm_seed0" / "model" / name)
        assert ours.keys() == theirs.keys()
        assert [k for k in ours if not np.array_equal(ours[k], theirs[k])] == []


def _arrays(path) -> dict:
    """Every array of a Keras weights file, by its path in the file."""
    arrays = {}
    with h5py.File(path, "r") as f:
        f.visititems(lambda name, obj: arrays.__setitem__(name, obj[()]) if isinstance(obj, h5py.Dataset) else None)
    return arrays


# ------------------------------------------------------------------ the table command
def test_the_table_of_a_real_run_probes_its_shared_features(tiny_runs):
    data_dir, results_dir, runs_dir, results = tiny_runs
    argv = ["--results-dir", str(results_dir), "--runs-dir", str(runs_dir), "--data-dir", str(data_dir),
            "--probe-rows", "10"]
    assert adversary_sweep.main(argv) == 0
    cache = json.loads((results_dir / "asp_l1_warm_seed0.probe.json").read_text())
    figures = cache["figures"]
    assert 0.0 <= figures["probe_task_accuracy_shared"] <= 1.0 and 0.0 <= figures["discriminator_accuracy"] <= 1.0
    assert figures["test_error"] == pytest.approx(results["avg_test_error"], abs=1e-3)
    assert cache["probe"] == {"train_rows_per_task": 10, "seed": 0, "tasks": ["books", "dvd"]}
    assert cache["probe_rows"] == {"train": 20, "test": 24}
    [row] = [line for line in (results_dir / "table.csv").read_text().splitlines() if line.startswith("asp_l1_warm")]
    assert f"{100 * figures['probe_task_accuracy_shared']:.4f}" in row and f"{results['avg_test_error']:.4f}" in row


SETTING_FIELDS = {"sp": {"model": "sp-mtl"}, "asp": {}, "conf_l1": {"adversarial_weight": 1.0,
                                                                     "adversarial_objective": "confusion"}}
# setting -> seed -> (probe accuracy, discriminator accuracy or None, test error %)
FAKE = {"sp": {0: (0.20, None, 14.0), 1: (0.22, None, 15.0)},
        "asp": {0: (0.24, 0.08, 13.0), 1: (0.30, 0.10, 15.5)},
        "conf_l1": {0: (0.08, 0.06, 13.5)}}


@pytest.fixture
def fake_sweep(tmp_path, monkeypatch):
    """Results files and model files of :data:`FAKE`'s runs; :func:`run_figures` replaced by a lookup (counted)."""
    (tmp_path / "fdu").mkdir()
    data_dir = write_fdu_folder(tmp_path / "fdu")
    results_dir, runs_dir = tmp_path / "results", tmp_path / "runs"
    results_dir.mkdir()
    calls = []

    def add(name, seed):
        probe, disc, error = FAKE[name][seed]
        config = TrainConfig(tasks=("books", "dvd"), seed=seed, **SETTING_FIELDS[name]).to_dict()
        machine = {"cpu_model": "AMD EPYC", "avx512": seed == 1} if name == "asp" else {}  # sp's: not recorded
        (results_dir / f"{name}_seed{seed}.json").write_text(json.dumps(
            {"config": config, "dev_only": False, "avg_test_error": error, "machine": machine}))
        model = runs_dir / f"{name}_seed{seed}" / "model" / "model.keras"
        model.parent.mkdir(parents=True)
        model.write_text(f"{name} {seed}")

    def figures(model_path, train, test, probe_seed, label):
        calls.append(label)
        name, seed = Path(model_path).read_text().split()
        probe, disc, error = FAKE[name][int(seed)]
        assert sorted(set(train["task"])) == ["books", "dvd"] and len(test) == 24
        return {"probe_task_accuracy_shared": probe, "test_error": error,
                **({} if disc is None else {"discriminator_accuracy": disc})}

    monkeypatch.setattr(adversary_sweep, "run_figures", figures)
    argv = ["--results-dir", str(results_dir), "--runs-dir", str(runs_dir), "--data-dir", str(data_dir)]
    return add, calls, argv, results_dir, runs_dir


def _csv(results_dir) -> dict[str, dict[str, str]]:
    import csv

    with open(results_dir / "table.csv") as f:
        return {row["setting"]: row for row in csv.DictReader(f)}


def test_the_table_has_each_settings_mean_sd_and_differences_paired_with_sp(fake_sweep):
    add, calls, argv, results_dir, _ = fake_sweep
    for name, seeds in FAKE.items():
        for seed in seeds:
            add(name, seed)
    assert adversary_sweep.main(argv) == 0
    table = _csv(results_dir)
    assert list(table) == ["sp", "asp", "conf_l1"]
    asp = table["asp"]
    assert float(asp["probe_task_accuracy_pct_mean"]) == pytest.approx(27.0)
    assert float(asp["probe_task_accuracy_pct_sd"]) == pytest.approx(np.std([24, 30], ddof=1), abs=1e-4)
    assert float(asp["discriminator_accuracy_pct_mean"]) == pytest.approx(9.0)
    assert float(asp["test_error_pct_mean"]) == pytest.approx(14.25)
    # paired: 13.0 - 14.0 = -1.0 and 15.5 - 15.0 = +0.5
    assert float(asp["test_error_minus_sp_mean"]) == pytest.approx(-0.25)
    assert float(asp["test_error_minus_sp_sd"]) == pytest.approx(np.std([-1.0, 0.5], ddof=1), abs=1e-4)
    assert (asp["n_seeds"], asp["n_paired"], asp["seeds"]) == ("2", "2", "0 1")
    conf = table["conf_l1"]
    assert (conf["test_error_minus_sp_mean"], conf["test_error_minus_sp_sd"], conf["n_paired"]) == ("-0.5000", "", "1")
    assert table["sp"]["discriminator_accuracy_pct_mean"] == "" and table["sp"]["n_paired"] == ""
    md = (results_dir / "table.md").read_text()
    assert "Made by `python -m experiments.adversary_sweep --results-dir" in md
    assert ("| asp | `--model asp-mtl` | 0, 1 (n = 2) | 27.0 ± 4.2 | 9.0 ± 1.4 | 14.25 ± 1.77 | -0.25 ± 1.06 "
            "(n = 2) |") in md
    assert "| sp | `--model sp-mtl` | 0, 1 (n = 2) | 21.0 ± 1.4 | – | 14.50 ± 0.71 | (reference) |" in md
    # conf_l1 (8 %) against sp and asp (mean test error (14.5 + 14.25) / 2 = 14.375)
    # a gap of 0.88 points, inside the largest paired sd (1.06), is not called lower
    assert ("Settings whose shared space the probe reads at <= 10 % (conf_l1: 8.0 %) have about the same test error "
            "as those above (sp: 21.0 %, asp: 27.0 %): 13.50 % against 14.38 % (means over settings, -0.88 points, "
            "inside the spread below); "
            "paired with SP-MTL by seed, -0.50 against -0.12 points; every setting at or below 10 % has a lower "
            "mean test error than every setting above; the paired differences' sd over seeds is up to 1.06 "
            "points.") in md
    # each run names its CPU: a pair across two kinds shares seed and data order, not arithmetic
    assert "| asp | 0 | 24.0 | 8.0 | 13.00 | -1.00 | AMD EPYC, no AVX-512 |" in md
    assert "| asp | 1 | 30.0 | 10.0 | 15.50 | +0.50 | AMD EPYC, with AVX-512 |" in md
    assert "| sp | 0 | 20.0 | – | 14.00 | – | not recorded |" in md
    assert "Not run yet: asp_l03, asp_l1, conf_l03, asp_l1_s01, asp_l1_warm, asp_mem, asp_l03_mem, conf_l03_mem, asp_mm10, asp_mm100, asp_mm1000, asp_proj, sp_proj." in md


def test_a_rerun_probes_only_new_or_changed_runs(fake_sweep):
    add, calls, argv, results_dir, runs_dir = fake_sweep
    add("sp", 0), add("asp", 0)
    assert adversary_sweep.main(argv) == 0 and sorted(calls) == ["asp seed 0", "sp seed 0"]
    assert adversary_sweep.main(argv) == 0 and len(calls) == 2  # both from their caches
    add("asp", 1)
    assert adversary_sweep.main(argv) == 0 and calls[2:] == ["asp seed 1"]
    (runs_dir / "sp_seed0" / "model" / "model.keras").write_text("sp 1")  # retrained: another model file
    assert adversary_sweep.main(argv) == 0 and calls[3:] == ["sp seed 0"]
    assert adversary_sweep.main([*argv, "--probe-seed", "1"]) == 0 and len(calls) == 7  # other probe: all again
    assert "No setting reached a probe accuracy <= 10 %" in (results_dir / "table.md").read_text()


def test_a_results_file_without_its_model_or_of_other_settings_is_a_clear_error(fake_sweep, capsys):
    add, calls, argv, results_dir, runs_dir = fake_sweep
    add("sp", 0)
    (runs_dir / "sp_seed0" / "model" / "model.keras").unlink()
    assert adversary_sweep.main(argv) == 2
    err = capsys.readouterr().err
    assert f"{results_dir / 'sp_seed0.json'} has no model to probe: {runs_dir / 'sp_seed0/model/model.keras'} is " \
           "missing" in err and calls == []
    (results_dir / "sp_seed0.json").unlink()
    add("conf_l1", 0)
    (results_dir / "conf_l1_seed0.json").rename(results_dir / "asp_seed0.json")
    assert adversary_sweep.main(argv) == 2
    assert "asp_seed0.json is not a run of setting 'asp' seed 0 (field: (the run's, the setting's) " \
           "{'adversarial_weight': (1.0, 0.05), 'adversarial_objective': ('confusion', 'reversal')}" \
           in capsys.readouterr().err


def test_the_settings_are_compared_with_sp_mtls_own_readability():
    from experiments.adversary_sweep_report import against_reference

    def row(name, probe, paired):
        return {"setting": name, "probe": {"mean": probe}, "paired": None if paired is None else {"mean": paired}}

    rows = [row("sp", 20.0, None), row("a", 12.0, 4.0), row("b", 18.0, 1.0), row("c", 30.0, 2.0), row("d", 20.0, -1.0)]
    text = against_reference(rows)
    assert text.startswith("Against sp's own shared space (probe 20.0 %;")
    assert "the 2 setting(s) the probe reads less well than sp (a 12.0 % / +4.00, b 18.0 % / +1.00) have a test " \
           "error +2.50 points" in text
    assert "the 2 setting(s) the probe reads as well as or better than sp (c 30.0 % / +2.00, d 20.0 % / -1.00) " \
           "have a test error +0.50 points" in text
    assert text.endswith("the least readable, a (12.0 %), +4.00.")
    assert against_reference(rows[1:]) == "" and against_reference(rows[:1]) == ""


def _verdict_row(setting, probe, error, paired=None, sd=None):
    return {"setting": setting, "probe": {"mean": probe}, "test_error": {"mean": error},
            "paired": None if paired is None else {"mean": paired, "sd": sd}}


@pytest.mark.parametrize("low_error, expected", [
    (12.0, "have lower test error than those above"),  # 2.5 points below: outside the largest sd (1.0)
    (14.0, "have about the same test error as those above"),  # 0.5 points: inside it
    (17.0, "have higher test error than those above"),
])
def test_the_verdict_calls_a_gap_lower_or_higher_only_outside_the_seeds_spread(low_error, expected):
    from experiments.adversary_sweep_report import verdict

    rows = [_verdict_row("sp", 20.0, 14.5), _verdict_row("asp", 25.0, 14.5, 0.0, 1.0),
            _verdict_row("asp_proj", 8.0, low_error, low_error - 14.5, 0.5)]
    assert expected in verdict(rows, threshold=10, chance=6.25)


def test_the_controlled_pairs_compare_each_projection_with_the_setting_it_changes_by_seed_and_task(tmp_path):
    from experiments.adversary_sweep_report import controlled_lines

    errors = {("sp", 0): (14.0, 12.0), ("sp", 1): (15.0, 13.0), ("sp_proj", 0): (16.0, 14.5),
              ("sp_proj", 1): (17.5, 15.0), ("asp", 0): (13.0, 13.0)}  # asp_proj has no run: no asp pair
    for (name, seed), (books, dvd) in errors.items():
        fields = adversary_sweep.setting_fields(name)
        config = TrainConfig(tasks=("books", "dvd"), seed=seed, **fields).to_dict()
        (tmp_path / f"{name}_seed{seed}.json").write_text(json.dumps(
            {"config": config, "dev_only": False, "avg_test_error": (books + dvd) / 2,
             "per_task": {"books": {"test_error": books}, "dvd": {"test_error": dvd}},
             "avg_dev_error": 10.0}))
    (pair,) = adversary_sweep.controlled_pairs(tmp_path)
    assert (pair["a"], pair["b"], pair["seeds"], pair["pairs"]) == ("sp_proj", "sp", [0, 1], 4)
    assert pair["mean"] == pytest.approx(np.mean([2.0, 2.5, 2.5, 2.0]))
    assert pair["per_seed_mean_over_tasks"] == pytest.approx([2.25, 2.25])
    (line,) = [x for x in controlled_lines([pair]) if x.startswith("| sp_proj")]
    assert line.startswith("| sp_proj − sp | 0, 1 | 4 | **+2.25** |") and line.endswith("| 0 / 4 | sp lower |")
    # one seed: its tasks come from one model, so no interval and no verdict
    one = {**pair, "seeds": [0], "pairs": 2, "mean": 2.25, "per_seed_mean_over_tasks": [2.25],
           "ci95": [float("nan"), float("nan")]}
    (line,) = [x for x in controlled_lines([one]) if x.startswith("| sp_proj")]
    assert "nan" not in line and line.endswith("| **+2.25** | – | +2.25 | 0 / 4 | one seed: nothing shown |")
