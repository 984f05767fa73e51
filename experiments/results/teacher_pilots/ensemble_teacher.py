"""Pilot: the best configuration's student taught by the mean of several teachers' probabilities instead of one's.

Usage: ensemble_teacher.py OUT_DIR RUN_DIR [RUN_DIR ...]. Each RUN_DIR is a finished self-training run folder of
the n-gram model of the same configuration (another seed: another data order); its teacher's best weights
(``model/teacher/best.weights.h5``) are loaded into a model of the first folder's features (the same for every
seed: they are learnt from the train split alone). The teachers' mean probabilities label the unlabelled reviews
as a run's teacher does (:func:`tf_aspmtl.training.pseudo_label`, the run's threshold, balanced; unlabelled repeats
of dev texts dropped); OUT_DIR/model then holds those pseudo labels and the first folder's teacher record, so

    python -m experiments.ngram <the configuration's flags> --seed S --dev-only --output-dir OUT_DIR

trains only the student (the run reuses a finished teacher and saved pseudo labels). The test split is never read.
"""
import shutil
import sys
from pathlib import Path

import keras
import numpy as np

from experiments.pilot_student import screen_run_config
from tf_aspmtl.data import load_fdu_mtl
from tf_aspmtl.training.held_out_duplicates import held_out_duplicates
from tf_aspmtl.training.ngram_run import compiled_ngram_model, ngram_preprocessor
from tf_aspmtl.training.pseudo_label import pseudo_label

out, run_dirs = Path(sys.argv[1]), [Path(d) for d in sys.argv[2:]]
config = screen_run_config(run_dirs[0])
data = load_fdu_mtl(None, tasks=list(config.tasks), splits=("train", "dev", "unlabeled"))
train, dev, unlabeled = (data[data["split"] == s] for s in ("train", "dev", "unlabeled"))
unlabeled = unlabeled[~held_out_duplicates(unlabeled, dev)]
keras.utils.set_random_seed(config.seed)
preprocessor = ngram_preprocessor(config, train)
teachers = []
for run_dir in run_dirs:
    teacher = compiled_ngram_model(config, preprocessor, train)
    teacher.load_weights(run_dir / "model" / "teacher" / "best.weights.h5")
    teachers.append(teacher)


class MeanOfTeachers:
    """What pseudo_label reads of a teacher: its tasks, classes and the mean of the teachers' probabilities."""
    task_names, num_classes = teachers[0].task_names, teachers[0].num_classes

    def predict(self, x, batch_size=128, verbose=0):
        return np.mean([t.predict(x, batch_size=batch_size, verbose=0) for t in teachers], axis=0)


pseudo = pseudo_label(MeanOfTeachers(), unlabeled[["text", "task"]], threshold=config.self_training_threshold)
(out / "model" / "teacher").mkdir(parents=True, exist_ok=True)
shutil.copy(run_dirs[0] / "model" / "teacher" / "teacher_results.json", out / "model" / "teacher")
pseudo.to_parquet(out / "model" / "pseudo_labels.parquet", index=False)
print(f"{len(pseudo)} pseudo-labelled rows from the mean of {len(teachers)} teachers -> {out / 'model'}")
