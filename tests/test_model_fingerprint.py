"""A run folder's record of its model (``model_fingerprint``): the same model has the same record in any process,
whatever that process built or tokenised before it, so a killed run resumes."""

import json

import pandas as pd
import pytest

from tf_aspmtl.data.pipeline import make_eval_dataset, make_training_dataset
from tf_aspmtl.preprocessing import TextVectorizer
from tf_aspmtl.training import TrainConfig, build_model, fit_with_dev_selection
from tf_aspmtl.training.fdu_mtl_run import fdu_preprocessor
from tf_aspmtl.training.model_fingerprint import model_fingerprint

CONFIG = TrainConfig(model="single", tasks=("books", "dvd"), epochs=2, patience=2, hidden_dim=4, embedding_dim=4,
                     max_length=8, batch_size=4, encoder="cnn", embedding="random", seed=0, paper_scale=False)
TRAIN = pd.DataFrame({"text": ["good book", "bad book", "great read", "dull read", "fine story", "poor story",
                               "good film", "bad film", "great plot", "awful plot"],
                      "task": ["books"] * 6 + ["dvd"] * 4, "label": [1, 0] * 5})
"""Two tasks with different numbers of training rows (6 and 4), as FDU-MTL's have (1,400 books, 1,315 software...)."""


def _vectorizer(texts=tuple(TRAIN["text"])) -> TextVectorizer:
    """The run's vocabulary, adapted on every task's train text and shared by the groups (as ``fdu_mtl_run`` does)."""
    vectorizer = TextVectorizer(max_length=CONFIG.max_length, max_tokens=100, name="text_vectorizer")
    vectorizer.adapt(list(texts))
    return vectorizer


def _group(vectorizer: TextVectorizer, task: str):
    """One single-task group as ``fdu_mtl_run`` trains it: its datasets (which tokenise its rows), then its model."""
    rows = TRAIN[TRAIN["task"] == task]
    preprocessor = fdu_preprocessor(vectorizer, [task])
    train, steps = make_training_dataset(rows, preprocessor.token_ids, [task], batch_size=CONFIG.batch_size,
                                         max_length=CONFIG.max_length, seed=CONFIG.seed)
    dev = make_eval_dataset(rows, preprocessor.token_ids, [task])
    return build_model(CONFIG, fdu_preprocessor(vectorizer, [task])), train, steps, dev


def _as_if_killed_after_epoch_1(run_dir) -> dict:
    state = json.loads((run_dir / "state.json").read_text())
    state["finished"] = False
    (run_dir / "state.json").write_text(json.dumps(state))
    return state


def test_a_group_has_the_same_fingerprint_whichever_group_first_used_the_shared_vectorizer():
    # The process that trains books, then dvd; and the rerun of a run killed in dvd, which skips books.
    first = _vectorizer()
    _group(first, "books")
    model, *_ = _group(first, "dvd")
    rerun, *_ = _group(_vectorizer(), "dvd")
    assert model_fingerprint(rerun) == model_fingerprint(model)
    # A build config held the first call's batch (books' 6 rows here): the earlier hashes differ, as the record of
    # a folder written before said.
    legacy = model_fingerprint(model, keep_build_configs=True)["config.preprocessor"]
    assert legacy != model_fingerprint(rerun, keep_build_configs=True)["config.preprocessor"]


# a single-task run interrupted after its first group resumes in the default suite (tests/test_exact_resume.py)
@pytest.mark.slow
def test_a_group_killed_after_an_earlier_group_resumes_in_a_process_that_starts_at_it(tmp_path):
    first = _vectorizer()
    _group(first, "books")
    model, train, steps, dev = _group(first, "dvd")
    fit_with_dev_selection(model, train, steps, dev, tmp_path, epochs=1, patience=2, tensorboard=False, verbose=0)
    _as_if_killed_after_epoch_1(tmp_path)
    rerun, train, steps, dev = _group(_vectorizer(), "dvd")
    result = fit_with_dev_selection(rerun, train, steps, dev, tmp_path, epochs=2, patience=2, tensorboard=False,
                                    verbose=0)
    assert result.resumed_from_epoch == 1 and result.epochs_run == 2


def test_another_vocabulary_is_still_told_apart():
    model, *_ = _group(_vectorizer(), "dvd")
    other, *_ = _group(_vectorizer(list(TRAIN["text"]) + ["good good good"]), "dvd")
    assert model_fingerprint(other)["config.preprocessor"] != model_fingerprint(model)["config.preprocessor"]


@pytest.mark.slow  # run folders recorded by an earlier version's fingerprint
def test_a_folder_recorded_with_build_configs_hashed_resumes_and_is_recorded_anew(tmp_path, caplog):
    model, train, steps, dev = _group(_vectorizer(), "dvd")
    fit_with_dev_selection(model, train, steps, dev, tmp_path, epochs=1, patience=2, tensorboard=False, verbose=0)
    state = _as_if_killed_after_epoch_1(tmp_path)
    assert state["run_identity"] == {**model_fingerprint(model), "steps_per_epoch": str(steps)}
    # As a version that hashed build configs recorded it.
    state["run_identity"] = {**model_fingerprint(model, keep_build_configs=True), "steps_per_epoch": str(steps)}
    assert state["run_identity"]["config.preprocessor"] != model_fingerprint(model)["config.preprocessor"]
    (tmp_path / "state.json").write_text(json.dumps(state))
    rerun, train, steps, dev = _group(_vectorizer(), "dvd")
    with caplog.at_level("INFO", logger="tf_aspmtl.training"):
        result = fit_with_dev_selection(rerun, train, steps, dev, tmp_path, epochs=2, patience=2, tensorboard=False,
                                        verbose=0)
    assert result.resumed_from_epoch == 1 and "build configs hashed" in caplog.text
    assert json.loads((tmp_path / "state.json").read_text())["run_identity"]["config.preprocessor"] == \
        model_fingerprint(rerun)["config.preprocessor"]
    # An old record of another model is still refused.
    state["run_identity"]["config.seed"] = "0" * 16
    (tmp_path / "state.json").write_text(json.dumps(state))
    with pytest.raises(ValueError, match="config.seed differ"):
        fit_with_dev_selection(_group(_vectorizer(), "dvd")[0], train, steps, dev, tmp_path, epochs=3, patience=2,
                               tensorboard=False, verbose=0)


@pytest.mark.parametrize("functional", [False, True])
def test_a_plain_keras_model_built_second_in_a_process_has_the_same_fingerprint(functional):
    from tests.plain_keras_run import plain_model

    first, second = plain_model(functional), plain_model(functional)  # input_layer / input_layer_1, dense_2...
    assert model_fingerprint(second) == model_fingerprint(first)


def test_a_functional_models_graph_is_still_told_apart_once_names_are_left_out():
    import keras

    def two_branches(swapped: bool) -> keras.Model:  # the same layers; which input goes through which Dense
        a, b = keras.Input((3,)), keras.Input((3,))
        wide, narrow = keras.layers.Dense(4), keras.layers.Dense(2)
        x, y = (narrow(a), wide(b)) if swapped else (wide(a), narrow(b))
        return keras.Model([a, b], keras.layers.Concatenate()([x, y]))

    differing = [k for k, v in model_fingerprint(two_branches(True)).items()
                 if v != model_fingerprint(two_branches(False))[k]]
    assert "config.layers" in differing


def test_a_plain_keras_model_built_second_in_a_process_resumes_its_own_folder(tmp_path):
    from tests.plain_keras_run import MONITOR, as_if_killed, plain_data, plain_model

    train, steps, dev = plain_data()
    fit_with_dev_selection(plain_model(functional=True), train, steps, dev, tmp_path, epochs=1, monitor=MONITOR,
                           tensorboard=False, verbose=0)
    as_if_killed(tmp_path)
    train, steps, dev = plain_data()
    resumed = fit_with_dev_selection(plain_model(functional=True), train, steps, dev, tmp_path, epochs=2,
                                     monitor=MONITOR, tensorboard=False, verbose=0)
    assert resumed.resumed_from_epoch == 1 and resumed.epochs_run == 2


# model_fingerprint of the model of _group(_vectorizer(), "dvd") (a single-task CNN of this module's CONFIG) and of
# tests.ngram_two_tasks.two_task_model(), as the code before InputLayer names and functional graphs were made
# name-free computed them: printed by `model_fingerprint(...)` in a `git archive` of commit d42bd16 (the whole
# library at that commit), Keras 3.15.1. The run folders of the library's models recorded these, so they must resume
# unchanged. A change to a model's or preprocessor's config, or a Keras upgrade that serialises configs otherwise,
# changes them too (and then existing folders would be refused: worth knowing before it ships).
LIBRARY_FINGERPRINTS = {
    "single-task CNN": {
        "config.trainable": "b5bea41b6c623f7c", "config.dtype": "3c876e27cb55ae1f",
        "config.preprocessor": "6ba3f214783e42e9", "config.backbone": "ddfbf00b98140c40",
        "config.objective": "23d97b8d6cfeb4c8", "config.dropout": "8aed642bf5118b9d",
        "config.per_task_metrics": "b5bea41b6c623f7c", "config.frozen": "4f53cda18c2baa0c",
        "config.seed": "5feceb66ffc86f38", "weight_shapes": "bc63aaf9924e1a30",
    },
    "n-gram": {
        "config.trainable": "b5bea41b6c623f7c", "config.dtype": "3c876e27cb55ae1f",
        "config.preprocessor": "10b7240cda0041dc", "config.l2": "8aed642bf5118b9d",
        "config.per_task_metrics": "b5bea41b6c623f7c", "weight_shapes": "9f67b28025e37e70",
    },
}


def test_the_library_models_fingerprints_are_those_their_run_folders_recorded():
    from tests.ngram_two_tasks import two_task_model
    from tests.plain_keras_run import plain_model

    plain_model(functional=True)  # not the process's first layers: names numbered on
    model, *_ = _group(_vectorizer(), "dvd")
    assert model_fingerprint(model) == LIBRARY_FINGERPRINTS["single-task CNN"]
    assert model_fingerprint(two_task_model()) == LIBRARY_FINGERPRINTS["n-gram"]
