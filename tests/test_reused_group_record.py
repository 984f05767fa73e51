"""A rerun that reuses a finished group's results returns the record the run that trained it returned."""

from tests.tiny_fdu import write_fdu_folder
from tf_aspmtl.training import TrainConfig, run

VOLATILE = ("wall_time_s", "training_wall_time_s", "processes", "resumed")


def test_a_rerun_of_a_finished_group_keeps_its_shared_means(tmp_path):
    (tmp_path / "fdu").mkdir()
    data_dir = write_fdu_folder(tmp_path / "fdu")
    config = TrainConfig(model="asp-mtl", tasks=("books", "dvd"), epochs=1, patience=1, hidden_dim=4, embedding_dim=4,
                         max_length=8, batch_size=4, encoder="cnn", embedding="random", shared_mean_projection=True,
                         paper_scale=False)
    first = run(config, tmp_path / "run", data_dir, verbose=0)
    assert set(first["shared_means"]) == {"books+dvd"}
    again = run(config, tmp_path / "run", data_dir, verbose=0)  # killed before its results file, say: run again
    assert {k: v for k, v in again.items() if k not in VOLATILE} == {k: v for k, v in first.items()
                                                                      if k not in VOLATILE}
