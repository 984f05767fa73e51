"""Pilot: self-training keeping every pseudo label >= threshold, the minority class of each task repeated (round
robin) up to the majority's count, so the classes stay balanced; dev only, from the best run's teacher."""
import functools, json, shutil, sys
from pathlib import Path
import numpy as np, pandas as pd
import tf_aspmtl.training
tpl = sys.modules["tf_aspmtl.training.teacher_pseudo_labels"]
from tf_aspmtl.training.ngram_config import NgramConfig
from tf_aspmtl.training.ngram_run import run_ngram

src, dst, threshold, ratio = Path(sys.argv[1]), Path(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
_orig = tpl.pseudo_label
def upsampled(model, frame, **kw):
    kw["balance"] = False
    rows = _orig(model, frame, **kw)
    out = []
    for task, t in rows.groupby("task", sort=False):
        counts = t["label"].value_counts()
        minority = counts.min()
        cap = int(round(minority * ratio))  # at most `ratio` x the minority's rows of each class, minority repeated
        for c, g in t.groupby("label"):
            g = g.head(cap)
            reps = int(np.ceil(min(cap, counts.max()) / len(g)))
            out.append(pd.concat([g] * reps).head(min(cap, counts.max())))
    return pd.concat(out, ignore_index=True)
tpl.pseudo_label = upsampled
args = json.loads((src / "run_args.json").read_text())
args.pop("dev_only")
args["self_training_threshold"] = threshold
config = NgramConfig.from_dict({**args, "tasks": args["tasks"].split(",")})
if not dst.exists():
    (dst / "model").mkdir(parents=True)
    shutil.copytree(src / "model" / "teacher", dst / "model" / "teacher")
res = run_ngram(config, dst, dev_only=True, verbose=2)
st = res["self_training"]
print("UPSAMPLED", json.dumps({"avg_dev_error": res["avg_dev_error"], "best_epoch": res["best_epoch"],
      "pseudo": sum(st["pseudo_labelled_rows"].values())}))
