"""Self-training: pseudo_label on a teacher whose probabilities the test sets, a trained tiny teacher,
teacher_pseudo_labels' reuse of a finished teacher and of saved pseudo labels, and the main job's teacher ->
pseudo labels -> student on a tiny FDU-MTL folder (resumed without retraining the teacher)."""

import importlib
import json
import math

import numpy as np
import pandas as pd
import pytest

from tf_aspmtl.training import fdu_mtl_run as run_module
from tests.tiny_fdu import TASKS, write_folder_with_planted_dev_copies, write_unlabeled_files
from tf_aspmtl.data import load_fdu_mtl
from tf_aspmtl.training import (
    PSEUDO_LABEL_COLUMNS,
    PSEUDO_LABELS,
    TEACHER_DIR,
    TEACHER_DONE,
    SelectionResult,
    TrainConfig,
    held_out_duplicates,
    pseudo_label,
    results_markdown,
    run,
    task_errors,
    teacher_pseudo_labels,
)
from tf_aspmtl.training.held_out_duplicates import _text_key

# The module, not the function of the same name that tf_aspmtl.training exports: the tests patch its globals.
teacher_module = importlib.import_module("tf_aspmtl.training.teacher_pseudo_labels")


class ScriptedTeacher:
    """A teacher whose P(class 1) is the first word of each text ("0.95 r1" -> [0.05, 0.95]); it logs its calls."""

    def __init__(self, task_names=("books", "dvd"), num_classes=None, width=2):
        self.task_names = list(task_names)
        if num_classes is not None:
            self.num_classes = list(num_classes)
        self.width = width
        self.calls = []

    def predict(self, x, batch_size=None, verbose=0):
        self.calls.append({"tasks": list(x["task"]), "batch_size": batch_size})
        p = np.asarray([float(t.split()[0]) for t in x["text"]])
        out = np.zeros((len(p), self.width))
        out[:, 0], out[:, 1] = 1.0 - p, p
        return out


def rows(spec: dict[str, list[float]]) -> pd.DataFrame:
    """Rows of each task, text "P rN" with P the teacher's P(class 1); tasks interleaved row by row."""
    tasks, texts = [], []
    for i in range(max(len(ps) for ps in spec.values())):
        for task, ps in spec.items():
            if i < len(ps):
                tasks.append(task)
                texts.append(f"{ps[i]} r{task}{i}")
    return pd.DataFrame({"task": tasks, "text": texts, "label": -1, "split": "unlabeled"})


def kept(frame: pd.DataFrame) -> list[tuple[str, int]]:
    return list(zip(frame["text"].str.split().str[0], frame["label"]))


# ----------------------------------------------------------------------- pseudo_label

def test_keeps_only_rows_the_teacher_is_sure_of_with_its_class():
    frame = rows({"books": [0.95, 0.6, 0.03, 0.9, 0.5, 0.12, 0.89]})
    out = pseudo_label(ScriptedTeacher(), frame, threshold=0.9, balance=False)
    assert list(out.columns) == list(PSEUDO_LABEL_COLUMNS)
    assert kept(out) == [("0.95", 1), ("0.03", 0), ("0.9", 1)]  # 0.9 is kept (>=), 0.89 and 0.12 (0.88) are not
    assert out["confidence"].tolist() == pytest.approx([0.95, 0.97, 0.9])
    assert out["label"].dtype == np.int64 and out["confidence"].dtype == np.float64
    assert out.index.tolist() == [0, 1, 2] and set(out["task"]) == {"books"}
    lower = pseudo_label(ScriptedTeacher(), frame, threshold=0.6, balance=False)
    assert kept(lower) == [("0.95", 1), ("0.6", 1), ("0.03", 0), ("0.9", 1), ("0.12", 0), ("0.89", 1)]


def test_balance_keeps_as_many_rows_of_each_class_per_task_most_confident_first():
    frame = rows({"books": [0.91, 0.99, 0.02, 0.95, 0.3], "dvd": [0.05, 0.97, 0.01, 0.93, 0.04]})
    out = pseudo_label(ScriptedTeacher(), frame, threshold=0.9)
    books, dvd = out[out["task"] == "books"], out[out["task"] == "dvd"]
    assert kept(books) == [("0.99", 1), ("0.02", 0)]  # one negative: the most confident positive only
    # dvd: 2 positives, 3 negatives -> 2 + the 2 surest negatives (0.01, 0.04; not 0.05), in the frame's order
    assert kept(dvd) == [("0.97", 1), ("0.01", 0), ("0.93", 1), ("0.04", 0)]
    for task in ("books", "dvd"):
        counts = out[out["task"] == task]["label"].value_counts()
        assert counts.get(0, 0) == counts.get(1, 0)
    only_positive = rows({"books": [0.99, 0.98], "dvd": [0.01, 0.99]})
    assert kept(pseudo_label(ScriptedTeacher(), only_positive, threshold=0.9)) == [("0.01", 0), ("0.99", 1)]


def test_max_per_task_caps_rows_most_confident_first():
    frame = rows({"books": [0.91, 0.99, 0.02, 0.95, 0.08, 0.999], "dvd": [0.97, 0.01]})
    capped = pseudo_label(ScriptedTeacher(), frame, threshold=0.9, max_per_task=3, balance=False)
    assert kept(capped[capped["task"] == "books"]) == [("0.99", 1), ("0.02", 0), ("0.999", 1)]
    assert len(capped[capped["task"] == "dvd"]) == 2  # under the cap: all kept
    balanced = pseudo_label(ScriptedTeacher(), frame, threshold=0.9, max_per_task=3)  # 3 // 2 = 1 per class
    assert kept(balanced[balanced["task"] == "books"]) == [("0.02", 0), ("0.999", 1)]
    four = pseudo_label(ScriptedTeacher(), frame, threshold=0.9, max_per_task=4)
    assert kept(four[four["task"] == "books"]) == [("0.99", 1), ("0.02", 0), ("0.08", 0), ("0.999", 1)]


def test_is_deterministic_ties_keep_the_earlier_row_and_batches_hold_one_task():
    frame = rows({"books": [0.95, 0.95, 0.02, 0.95], "dvd": [0.97, 0.03, 0.97]})
    teacher = ScriptedTeacher()
    first = pseudo_label(teacher, frame, threshold=0.9, max_per_task=2, batch_size=7)
    pd.testing.assert_frame_equal(first, pseudo_label(teacher, frame, threshold=0.9, max_per_task=2, batch_size=7))
    assert first["text"].tolist() == ["0.95 rbooks0", "0.97 rdvd0", "0.03 rdvd1", "0.02 rbooks2"]
    assert teacher.calls[0] == {"tasks": ["books"] * 4 + ["dvd"] * 3, "batch_size": 7}  # grouped by task
    shuffled = frame.sample(frac=1.0, random_state=3)  # same rows, other order: same rows kept, in that order
    again = pseudo_label(teacher, shuffled, threshold=0.9, balance=False)
    assert sorted(again["text"]) == sorted(pseudo_label(teacher, frame, threshold=0.9, balance=False)["text"])
    assert again["text"].tolist() == [t for t in shuffled["text"] if t in set(again["text"])]


def test_only_a_tasks_own_classes_count():
    class ThreeWide(ScriptedTeacher):
        def predict(self, x, batch_size=None, verbose=0):
            out = super().predict(x, batch_size, verbose)
            out[:, 2] = 0.999  # a column that is no class of books (2 classes), dvd's class 2
            return out

    teacher = ThreeWide(task_names=("books", "dvd"), num_classes=(2, 3), width=3)
    out = pseudo_label(teacher, rows({"books": [0.99, 0.01, 0.5], "dvd": [0.99]}), threshold=0.9, balance=False)
    assert kept(out) == [("0.99", 1), ("0.99", 2), ("0.01", 0)]
    assert out["confidence"].tolist() == pytest.approx([0.99, 0.999, 0.99])


def test_nothing_confident_or_no_rows_gives_an_empty_frame_with_the_columns():
    for frame in (rows({"books": [0.5, 0.6, 0.3]}), rows({"books": [0.9]}).iloc[:0]):
        out = pseudo_label(ScriptedTeacher(), frame, threshold=0.95)
        assert out.empty and list(out.columns) == list(PSEUDO_LABEL_COLUMNS)
        assert out["label"].dtype == np.int64


@pytest.mark.parametrize("threshold", [0.5, 0.3, 0.0, 1.01, float("nan"), float("inf"), True, "0.9", None])
def test_a_threshold_outside_half_to_one_is_an_error(threshold):
    with pytest.raises(ValueError, match=r"threshold must be"):
        pseudo_label(ScriptedTeacher(), rows({"books": [0.99]}), threshold=threshold)


def test_bad_arguments_and_frames_are_named():
    frame = rows({"books": [0.99]})
    for cap in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match=r"max_per_task must be None \(no cap\) or an int >= 1"):
            pseudo_label(ScriptedTeacher(), frame, max_per_task=cap)
    with pytest.raises(ValueError, match=r"batch_size must be an int >= 1; got 0"):
        pseudo_label(ScriptedTeacher(), frame, batch_size=0)
    with pytest.raises(ValueError, match=r"frame lacks column\(s\) \['task'\]"):
        pseudo_label(ScriptedTeacher(), frame.drop(columns="task"))
    with pytest.raises(ValueError, match=r"frame lacks column\(s\) \['text'\]"):
        pseudo_label(ScriptedTeacher(), frame.drop(columns="text"))
    with pytest.raises(ValueError, match=r"task\(s\) \['cars'\] the model does not know"):
        pseudo_label(ScriptedTeacher(), frame.assign(task="cars"))
    with pytest.raises(ValueError, match=r"must be a pandas.DataFrame"):
        pseudo_label(ScriptedTeacher(), {"text": ["0.9"], "task": ["books"]})
    with pytest.raises(ValueError, match=r"model must expose task_names"):
        pseudo_label(object(), frame)


def test_a_teacher_with_bad_probabilities_is_an_error():
    class Bad(ScriptedTeacher):
        def __init__(self, output):
            super().__init__()
            self.output = output

        def predict(self, x, batch_size=None, verbose=0):
            return self.output

    frame = rows({"books": [0.99, 0.01]})
    with pytest.raises(ValueError, match=r"probabilities \[2, classes >= 2\]; got shape \(2,\)"):
        pseudo_label(Bad(np.ones(2)), frame)
    with pytest.raises(ValueError, match=r"non-finite probabilities"):
        pseudo_label(Bad(np.array([[0.5, np.nan], [0.1, 0.9]])), frame)


def test_a_trained_teacher_labels_a_separable_task_by_its_rule():
    """A real model learns "great" -> 1, "awful" -> 0; its pseudo labels follow that rule and are balanced."""
    from tf_aspmtl.models import FullySharedMTL
    from tf_aspmtl.preprocessing import MultiTaskPreprocessor

    rng = np.random.default_rng(0)
    filler = ["the", "a", "book", "film", "plot", "disc"]

    def make(n):
        label = rng.integers(0, 2, n)
        text = [" ".join([["awful", "great"][y]] + list(rng.choice(filler, 3))) for y in label]
        return pd.DataFrame({"text": text, "task": rng.choice(TASKS, n), "label": label})

    train_rows, new_rows = make(160), make(60)
    model = FullySharedMTL(MultiTaskPreprocessor.from_frame(train_rows, max_length=8), encoder="cnn",
                                hidden_dim=8, embedding_dim=8, word_vectors="random", seed=0)
    model.compile(learning_rate=0.02)
    model.fit({"text": train_rows.text, "task": train_rows.task}, train_rows.label, batch_size=16, epochs=6,
              verbose=0)
    out = pseudo_label(model, new_rows[["text", "task"]], threshold=0.8, batch_size=16)
    assert len(out) >= 20, f"the teacher should be sure of most rows; kept {len(out)}"
    assert (out["label"] == out["text"].str.startswith("great").astype(int)).all()
    assert (out["confidence"] >= 0.8).all()
    for task in TASKS:
        labels = out[out["task"] == task]["label"]
        assert (labels == 0).sum() == (labels == 1).sum()
    pd.testing.assert_frame_equal(out, pseudo_label(model, new_rows[["text", "task"]], threshold=0.8, batch_size=16))


# ----------------------------------------------------------------------- teacher_pseudo_labels


class EvaluatedTeacher(ScriptedTeacher):
    """A ScriptedTeacher that ``evaluate`` scores: accuracy 0.75 on books, 0.9 on dvd."""

    def evaluate(self, dataset, return_dict=False, verbose=0):
        assert return_dict and dataset == "dev"
        return {"loss": 0.5, "acc_books": 0.75, "acc_dvd": 0.9}


def test_task_errors_are_percentages_per_task_in_the_models_order():
    assert task_errors(EvaluatedTeacher(("dvd", "books")), "dev") == pytest.approx({"dvd": 10.0, "books": 25.0})


UNLABELED_CONFIDENCES = {"books": [0.95, 0.02, 0.6, 0.97], "dvd": [0.99, 0.01]}


def _teacher_call(tmp_path, monkeypatch, fits):
    """``(group_dir, call, fit)``: ``call()`` runs ``teacher_pseudo_labels`` on six unlabelled rows with ``fit``, a fake
    teacher fit (2 epochs, best 2) that appends ``(run_dir, steps, epochs, patience)`` to ``fits``."""
    def fit(model, train_ds, steps, dev_ds, run_dir, **kwargs):
        fits.append((run_dir, steps, kwargs["epochs"], kwargs["patience"]))
        return SelectionResult(history={"val_mean_task_accuracy": [0.7, 0.8]}, best_epoch=2, epochs_run=2,
                               stopped_early=False, resumed_from_epoch=0, wall_time_s=1.5, processes=1)

    monkeypatch.setattr(teacher_module, "fit_with_dev_selection", fit)
    unlabeled = rows(UNLABELED_CONFIDENCES)
    group_dir = tmp_path / "model"

    def call():
        return teacher_pseudo_labels(group_dir, EvaluatedTeacher, "train", 7, "dev", unlabeled, epochs=3,
                                     patience=2, threshold=0.9, max_per_task=None)

    return group_dir, call, fit


def test_teacher_pseudo_labels_trains_once_then_reuses_the_teacher_and_the_saved_rows(tmp_path, monkeypatch):
    fits = []
    group_dir, call, fit = _teacher_call(tmp_path, monkeypatch, fits)
    pseudo, record, seconds = call()
    assert fits == [(group_dir / TEACHER_DIR, 7, 3, 2)] and seconds >= 0
    assert record == {"dev_error": pytest.approx({"books": 25.0, "dvd": 10.0}), "best_epoch": 2,
                      "history": {"val_mean_task_accuracy": [0.7, 0.8]}, "training_wall_time_s": 1.5, "processes": 1}
    assert json.loads((group_dir / TEACHER_DIR / TEACHER_DONE).read_text()) == record
    want = pseudo_label(EvaluatedTeacher(), rows(UNLABELED_CONFIDENCES)[["text", "task"]], threshold=0.9)
    assert len(want) == 4  # balanced: books keeps 0.97 and 0.02, dvd 0.99 and 0.01
    pd.testing.assert_frame_equal(pseudo, want)
    pd.testing.assert_frame_equal(pd.read_parquet(group_dir / PSEUDO_LABELS), pseudo)
    assert not list(group_dir.glob(".*.part"))

    # Both saved: no training, no labelling, the same rows and record; nothing is counted as this process's.
    monkeypatch.setattr(teacher_module, "pseudo_label", lambda *a, **k: pytest.fail("labelled again"))
    again, record_again, seconds_again = call()
    assert len(fits) == 1 and record_again == record and seconds_again == 0.0
    pd.testing.assert_frame_equal(again, pseudo)

    # Lost pseudo labels: the finished teacher is loaded (its fit resumes nothing) and labels the rows again.
    monkeypatch.undo()
    monkeypatch.setattr(teacher_module, "fit_with_dev_selection", fit)
    (group_dir / PSEUDO_LABELS).unlink()
    remade, _, seconds_remade = call()
    assert len(fits) == 2 and seconds_remade == 0.0
    pd.testing.assert_frame_equal(remade, pseudo)


# ----------------------------------------------------------------------- config and command line

def test_config_fields_are_checked_by_name():
    assert TrainConfig().self_training_threshold == 0.0 and TrainConfig().self_training_max_per_task == 0
    assert TrainConfig(self_training_threshold=1.0, self_training_max_per_task=500).self_training_threshold == 1.0
    for bad in (0.5, 0.2, 1.2, -0.7):
        with pytest.raises(ValueError, match=r"TrainConfig.self_training_threshold must be 0 \(off\) or in"):
            TrainConfig(self_training_threshold=bad)
    with pytest.raises(ValueError, match=r"TrainConfig.self_training_threshold must be finite"):
        TrainConfig(self_training_threshold=math.nan)
    with pytest.raises(ValueError, match=r"TrainConfig.self_training_max_per_task must be >= 0"):
        TrainConfig(self_training_max_per_task=-1)
    with pytest.raises(ValueError, match=r"TrainConfig.self_training_max_per_task must be an int"):
        TrainConfig(self_training_max_per_task=2.5)


def test_repeats_of_held_out_texts_are_found_despite_case_spaces_and_punctuation():
    held_out = pd.DataFrame({"text": ["this is n't good , really .", "great disc"]})
    unlabeled = pd.DataFrame({"text": ["This isn't good, really.", "great  DISC!", "great disc too", ""]})
    assert held_out_duplicates(unlabeled, held_out).tolist() == [True, True, False, False]


def test_edited_copies_of_long_held_out_texts_are_repeats_too():
    """FDU-MTL's unlabelled files hold dev and test reviews with a typo fixed or a sentence added at one end."""
    review = " ".join(f"word{i} is fine ," for i in range(20))  # 200+ letters and digits
    held_out = pd.DataFrame({"text": [review, "short one"]})
    unlabeled = pd.DataFrame({"text": [
        review.replace("word19", "w0rd19"),             # the end edited: the first 100 letters match
        "An added first sentence. " + review,             # a sentence before: the last 100 match
        review.replace("word0", "w0rd0").replace("word19", "w0rd19"),  # both ends edited: kept
        "short one, edited",                              # short texts must match exactly
    ]})
    assert held_out_duplicates(unlabeled, held_out).tolist() == [True, True, False, False]
    assert held_out_duplicates(unlabeled, held_out, shared_end_chars=10_000).tolist() == [False] * 4
    with pytest.raises(ValueError, match="shared_end_chars must be a positive int"):
        held_out_duplicates(unlabeled, held_out, shared_end_chars=0)


# ----------------------------------------------------------------------- the main job

SMALL = TrainConfig(tasks=tuple(TASKS), encoder="cnn", embedding="random", hidden_dim=8, max_length=16, batch_size=8,
                    epochs=3, patience=3, learning_rate=0.03, self_training_threshold=0.6, paper_scale=False)
"""Small enough for seconds; the learning rate makes the teacher sure of some unlabelled rows (seed 0)."""


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return write_folder_with_planted_dev_copies(tmp_path_factory.mktemp("fdu"))


def _keys(frame: pd.DataFrame) -> set[str]:
    return {_text_key(t) for t in frame["text"]}


@pytest.fixture(scope="module")
def first_run(folder, tmp_path_factory):
    out = tmp_path_factory.mktemp("st") / "run"
    return out, run(SMALL, out, folder, dev_only=True, verbose=0)


@pytest.mark.slow  # the main job's wiring (50 s); the library's teacher stage is tested above
def test_main_job_trains_a_teacher_then_a_student_on_pseudo_labelled_unlabelled_rows(folder, first_run):
    out, results = first_run
    st = results["self_training"]
    pseudo = pd.read_parquet(out / "model" / PSEUDO_LABELS)
    assert len(pseudo) > 0, "the tiny teacher should be sure of some rows (else this test proves little)"
    labelled = load_fdu_mtl(folder, tasks=TASKS, splits=("train", "dev", "test"))
    unlabeled = load_fdu_mtl(folder, tasks=TASKS, splits=("unlabeled",))
    held_out = labelled[labelled["split"].isin(("dev", "test"))]
    assert not _keys(pseudo) & _keys(held_out), "a dev or test text among the pseudo-labelled rows"
    assert set(zip(pseudo["task"], pseudo["text"])) <= set(zip(unlabeled["task"], unlabeled["text"]))
    assert st["dropped_repeats_of_dev_or_test"]["books"] >= 2  # the two planted dev texts (and any chance repeat)
    assert st["unlabeled_rows"] == {t: int((unlabeled["task"] == t).sum()) - st["dropped_repeats_of_dev_or_test"][t]
                                    for t in TASKS}
    # The results count the saved rows per task and class; classes are balanced per task.
    for task in TASKS:
        counts = {str(c): int(((pseudo["task"] == task) & (pseudo["label"] == c)).sum()) for c in (0, 1)}
        assert st["pseudo_labels"][task] == counts and counts["0"] == counts["1"]
    assert (pseudo["confidence"] >= 0.6).all() and st["threshold"] == 0.6 and st["max_per_task"] == 0
    # The teacher: its own folder and marker, its dev errors and time in the results, its time in wall_time_s.
    teacher = json.loads((out / "model" / TEACHER_DIR / TEACHER_DONE).read_text())
    assert st["teacher_dev_error"] == teacher["dev_error"] and set(teacher["dev_error"]) == set(TASKS)
    assert st["teachers"]["books+dvd"]["training_wall_time_s"] == teacher["training_wall_time_s"] > 0
    assert results["training_wall_time_s"] > teacher["training_wall_time_s"]
    assert results["wall_time_s"] >= results["training_wall_time_s"]
    # The student is the reported model, trained on train + pseudo-labelled rows.
    assert results["dev_only"] and all(r["test_error"] is None for r in results["per_task"].values())
    assert (out / "model" / "model.keras").exists() and not (out / "model" / "teacher" / "model.keras").exists()
    assert "Self-training:" in results_markdown(results)
    assert results["config"]["self_training_threshold"] == 0.6


@pytest.mark.slow  # the main job's wiring (50 s); the library's teacher stage is tested above
def test_a_rerun_reuses_the_teacher_and_the_pseudo_labels(folder, first_run, tmp_path, monkeypatch):
    import shutil

    out, results = first_run
    rerun = tmp_path / "run"
    shutil.copytree(out, rerun)
    for name in ("group_results.json", "state.json", "best.weights.h5", "model.keras"):  # the student never finished
        (rerun / "model" / name).unlink(missing_ok=True)
    for stale in (rerun / "model").glob("epoch-*.weights.h5"):
        stale.unlink()
    saved = pd.read_parquet(rerun / "model" / PSEUDO_LABELS)
    real_fit = run_module.fit_with_dev_selection
    fitted = []

    def fit(model, train_ds, steps, dev_ds, run_dir, **kwargs):
        if run_dir.name == TEACHER_DIR:
            raise AssertionError("the finished teacher was trained again")
        fitted.append(run_dir)
        return real_fit(model, train_ds, steps, dev_ds, run_dir, **kwargs)

    def no_pseudo_label(*args, **kwargs):
        raise AssertionError("the saved pseudo labels were made again")

    monkeypatch.setattr(run_module, "fit_with_dev_selection", fit)  # the student's
    monkeypatch.setattr(teacher_module, "fit_with_dev_selection", fit)  # the teacher's
    monkeypatch.setattr(teacher_module, "pseudo_label", no_pseudo_label)
    again = run(SMALL, rerun, folder, dev_only=True, verbose=0)
    assert fitted == [rerun / "model"]  # the student only
    pd.testing.assert_frame_equal(pd.read_parquet(rerun / "model" / PSEUDO_LABELS), saved)
    for key in ("pseudo_labels", "teacher_dev_error", "teachers", "unlabeled_rows"):
        assert again["self_training"][key] == results["self_training"][key]
    assert again["wall_time_s"] >= again["self_training"]["teacher_training_wall_time_s"]


@pytest.mark.slow
def test_lost_pseudo_labels_are_remade_from_the_saved_teacher_and_test_repeats_are_dropped(folder, tmp_path,
                                                                                          monkeypatch):
    """Without --dev-only, test texts planted in the unlabelled files are dropped; a rerun that lost the pseudo
    labels loads the finished teacher (no training) and makes the same ones."""
    import shutil

    from tf_aspmtl.models import MultiTaskClassifier

    root = tmp_path / "fdu"
    shutil.copytree(folder, root)
    test = load_fdu_mtl(root, tasks=TASKS, splits=("test",))
    planted = [t.title() for t in test[test["task"] == "dvd"]["text"].iloc[:3]]
    write_unlabeled_files(root, n=40, extra={"dvd": planted})
    out = tmp_path / "run"
    results = run(SMALL, out, root, verbose=0)
    assert results["self_training"]["dropped_repeats_of_dev_or_test"]["dvd"] >= 3
    pseudo = pd.read_parquet(out / "model" / PSEUDO_LABELS)
    assert not _keys(pseudo) & _keys(test)
    assert all(r["test_error"] is not None for r in results["per_task"].values())

    for name in ("group_results.json", "state.json", "best.weights.h5", "model.keras", PSEUDO_LABELS):
        (out / "model" / name).unlink()
    fits = []
    real_fit = MultiTaskClassifier.fit
    monkeypatch.setattr(MultiTaskClassifier, "fit", lambda self, *a, **k: fits.append(1) or real_fit(self, *a, **k))
    run(SMALL, out, root, verbose=0)
    assert len(fits) == 1, "only the student trains: the teacher's best weights are loaded"
    pd.testing.assert_frame_equal(pd.read_parquet(out / "model" / PSEUDO_LABELS), pseudo)


def test_a_damaged_teacher_record_or_pseudo_label_file_is_made_again_from_the_finished_teacher(tmp_path, monkeypatch,
                                                                                                caplog):
    fits = []
    group_dir, call, _ = _teacher_call(tmp_path, monkeypatch, fits)
    pseudo, record, _ = call()
    marker, labels = group_dir / TEACHER_DIR / TEACHER_DONE, group_dir / PSEUDO_LABELS
    marker.write_text('{"dev_error": {"books": 25.')  # cut short (a bad copy, a failing disk)
    labels.write_bytes(labels.read_bytes()[:20])
    again, record_again, _ = call()  # the finished teacher is loaded and evaluated again: the same numbers
    assert record_again == record and json.loads(marker.read_text()) == record
    pd.testing.assert_frame_equal(again, pseudo)
    pd.testing.assert_frame_equal(pd.read_parquet(labels), pseudo)
    assert str(marker) in caplog.text and str(labels) in caplog.text
