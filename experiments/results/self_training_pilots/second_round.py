"""Pilot: a second self-training round: round 1's student as the teacher of a fresh student (dev only)."""
import json, shutil, sys
from pathlib import Path
import tf_aspmtl
from tf_aspmtl.data.fdu_mtl import load_fdu_mtl
from tf_aspmtl.training.held_out_duplicates import held_out_duplicates
from tf_aspmtl.training.pseudo_label import pseudo_label
from tf_aspmtl.training.ngram_config import NgramConfig
from tf_aspmtl.training.ngram_run import run_ngram

src, dst = Path(sys.argv[1]), Path(sys.argv[2])
threshold = float(sys.argv[3])
args = json.loads((src / "run_args.json").read_text())
args.pop("dev_only")
args["self_training_threshold"] = threshold
config = NgramConfig.from_dict({**args, "tasks": args["tasks"].split(",")})
if not dst.exists():
    (dst / "model" / "teacher").mkdir(parents=True)
    (dst / "model" / "teacher" / "teacher_results.json").write_text(json.dumps({"dev_error": {"x": 0.0}, "best_epoch": 0, "history": {}, "training_wall_time_s": 0.0, "processes": 1, "teacher": str(src)}))
    teacher = tf_aspmtl.Task.load(src / "model" / "model.keras")
    data = load_fdu_mtl(None, tasks=list(config.tasks), splits=("dev", "test", "unlabeled"))
    unl = data[data["split"] == "unlabeled"]
    unl = unl[~held_out_duplicates(unl, data[data["split"].isin(("dev", "test"))])]
    pseudo = pseudo_label(teacher, unl[["text", "task"]], threshold=threshold, max_per_task=None)
    pseudo.to_parquet(dst / "model" / "pseudo_labels.parquet")
    print("pseudo rows", len(pseudo))
res = run_ngram(config, dst, dev_only=True, verbose=2)
print("ROUND2", json.dumps({"avg_dev_error": res["avg_dev_error"], "best_epoch": res["best_epoch"], "pseudo": sum(res["self_training"]["pseudo_labelled_rows"].values()), "per_task": {t: v["dev_error"] for t, v in res["per_task"].items()}}))
json.dump(res, open(dst / "round2_results.json", "w"))
