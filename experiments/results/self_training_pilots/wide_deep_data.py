"""Pilot data: an FDU-MTL folder whose train files start with the n-gram teacher's pseudo-labelled rows (dev = the
same last 200 rows of each original train file)."""
import sys
from pathlib import Path
import pandas as pd
from tf_aspmtl.data.paths import resolve_fdu_mtl_dir
src = resolve_fdu_mtl_dir(); dst = Path(sys.argv[2]); dst.mkdir(parents=True, exist_ok=True)
pseudo = pd.read_parquet(sys.argv[1])
for f in src.iterdir():
    if f.name.endswith(".task.train"):
        task = f.name[:-len(".task.train")]
        rows = pseudo[pseudo["task"] == task]
        lines = [f"{int(l)}\t{t.replace(chr(9), ' ')}\n" for l, t in zip(rows["label"], rows["text"])]
        (dst / f.name).write_bytes("".join(lines).encode("utf-8") + f.read_bytes())
    elif f.name.endswith((".test", ".unlabel")):
        (dst / f.name).unlink(missing_ok=True); (dst / f.name).symlink_to(f)
print("ok")
