"""Pilot: self-training with the pseudo labels kept unbalanced (every row >= threshold), dev only, from the best run's
teacher (copied folder: the teacher kept, the pseudo labels and the student removed)."""
import functools, json, shutil, sys
from pathlib import Path
import importlib
import tf_aspmtl.training
import sys as _s
tpl = _s.modules["tf_aspmtl.training.teacher_pseudo_labels"]
from tf_aspmtl.training.ngram_config import NgramConfig
from tf_aspmtl.training.ngram_run import run_ngram

src, dst, threshold = Path(sys.argv[1]), Path(sys.argv[2]), float(sys.argv[3])
tpl.pseudo_label = functools.partial(tpl.pseudo_label, balance=False)
args = json.loads((src / "run_args.json").read_text())
args.pop("dev_only")
args["self_training_threshold"] = threshold
config = NgramConfig.from_dict({**args, "tasks": args["tasks"].split(",")})
if not dst.exists():
    (dst / "model").mkdir(parents=True)
    shutil.copytree(src / "model" / "teacher", dst / "model" / "teacher")
res = run_ngram(config, dst, dev_only=True, verbose=2)
st = res["self_training"]
print("UNBALANCED", json.dumps({"avg_dev_error": res["avg_dev_error"], "best_epoch": res["best_epoch"],
      "teacher": st["avg_teacher_dev_error"], "pseudo": sum(st["pseudo_labelled_rows"].values()), "labels": st["pseudo_labels"]}))
