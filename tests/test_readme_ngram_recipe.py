"""README's lines for the n-gram model's best configuration on a user's frames, run as written (2 real tasks, whole
train splits: smaller ones leave the teacher sure of no unlabelled row of one class, so the student would add none).
The pieces are tested fast in tests/test_ngram_features_from_frame.py."""

import re
from pathlib import Path

import keras
import numpy as np
import pytest

import tf_aspmtl
from tf_aspmtl.data import load_fdu_mtl

README = Path(__file__).resolve().parents[1] / "README.md"


def _recipe() -> str:
    """The README code block that follows the words introducing the n-gram model's configuration."""
    text = README.read_text(encoding="utf-8")
    start = text.index("`tests/test_readme_ngram_recipe.py`, a slow test, runs these lines")
    block = re.search(r"```python\n(.*?)```", text[start:], re.S)
    assert block, "README: no python block after the n-gram recipe's introduction"
    return block.group(1)


@pytest.mark.slow  # ~50 s: the teacher is sure of enough unlabelled rows of both classes only at full size
def test_the_readme_recipe_trains_a_self_trained_student_and_serves_it(tmp_path, monkeypatch):
    data = load_fdu_mtl(tasks=["books", "dvd"], splits=("train", "dev", "unlabeled"))
    names = {0: "negative", 1: "positive"}
    train = data[data.split == "train"].reset_index(drop=True)
    dev = data[data.split == "dev"].groupby("task").head(100).reset_index(drop=True)
    train["label"], dev["label"] = train["label"].map(names), dev["label"].map(names)
    unlabeled = data[data.split == "unlabeled"].groupby("task").head(400)[["text", "task"]]
    monkeypatch.chdir(tmp_path)
    scope = {"tf_aspmtl": tf_aspmtl, "keras": keras, "train": train, "dev": dev, "unlabeled": unlabeled}
    exec(compile(_recipe(), str(README), "exec"), scope)

    teacher, model, rows = scope["teacher"], scope["model"], scope["rows"]
    assert teacher.features.weighting == "nb" and teacher.features.ngrams == 4
    assert model.preprocessor is teacher.preprocessor and model.label_smoothing == 0.1
    assert len(rows) > len(train) and set(rows.label) == {"negative", "positive"}
    assert (rows.weight[:len(train)] == 1).all() and 0.5 <= rows.weight[len(train):].min() < 1  # 2c - 1, c >= 0.75
    accuracy = model.evaluate({"text": dev.text, "task": dev.task}, dev.label, verbose=0, return_dict=True)
    assert accuracy["mean_task_accuracy"] > 0.65  # 2 x 1,400 train rows; chance is 0.5
    served = keras.layers.TFSMLayer(str(tmp_path / "serving" / "dvd" / "1"), call_endpoint="serving_default")
    texts = dev[dev.task == "dvd"].text.head(4).tolist()
    np.testing.assert_allclose(np.asarray(served(keras.ops.convert_to_tensor(texts))["probabilities"]),
                               model.predict({"text": texts, "task": ["dvd"] * 4}, verbose=0), atol=1e-5)
