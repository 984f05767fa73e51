"""Every TrainConfig setting a search is given either reaches its trials or is refused by name."""

import pytest

from tf_aspmtl.training import TrainConfig
from tf_aspmtl.tuning import fdu_mtl_search


class _Built(Exception):
    def __init__(self, hypermodel):
        super().__init__("built")
        self.hypermodel = hypermodel


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    from tests.tiny_fdu import write_fdu_folder

    return write_fdu_folder(tmp_path_factory.mktemp("fdu"))


def _hypermodel(tmp_path, data_dir, monkeypatch, **fields):
    def stop(kind, hypermodel, **kwargs):  # the search's model setup without its trials
        raise _Built(hypermodel)

    monkeypatch.setattr(fdu_mtl_search, "build_tuner", stop)
    config = TrainConfig(tasks=("books", "dvd"), embedding="random", embedding_dim=4, max_length=8, **fields)
    with pytest.raises(_Built) as built:
        fdu_mtl_search.search_fdu_mtl(config, "random", 1, tmp_path / "kt", "p", {"model": config.model},
                                      data_dir=data_dir, verbose=0)
    return built.value.hypermodel


def test_the_truncation_of_the_config_is_the_searched_models(tmp_path, data_dir, monkeypatch):
    hypermodel = _hypermodel(tmp_path, data_dir, monkeypatch, truncation="tail")
    assert hypermodel.preprocessor.text_vectorizer.truncation == "tail"


@pytest.mark.parametrize("fields, name", [({"unlabeled_fraction": 0.25}, "unlabeled_fraction"),
                                          ({"lm_pretrain_epochs": 1}, "lm_pretrain_epochs"),
                                          ({"self_training_threshold": 0.9}, "self_training_threshold")])
def test_settings_a_search_does_not_train_with_are_refused_by_name(tmp_path, data_dir, monkeypatch, fields, name):
    with pytest.raises(ValueError, match=rf"TrainConfig\.{name}"):
        _hypermodel(tmp_path, data_dir, monkeypatch, **fields)
