"""Scores per_task_epochs.py's records: each task's dev rows split in two halves (alternate rows); an epoch is
chosen on one half and scored on the other, both ways, (a) one epoch for all tasks (the least mean of the tasks'
errors, as the run chooses) and (b) each task's own epoch. Prints the mean held-out error of each rule.

Usage: per_task_epochs_report.py RECORD.json [...]"""
import json
import sys

import numpy as np

for path in sys.argv[1:]:
    record = json.load(open(path, encoding="utf-8"))
    correct = np.array(record["correct"], dtype=float)  # epochs x dev rows
    tasks = np.array(record["tasks"])
    names = list(dict.fromkeys(tasks))
    one, own, chosen = [], [], []
    for fold in (0, 1):
        rows = {t: np.flatnonzero(tasks == t) for t in names}
        pick = {t: r[fold::2] for t, r in rows.items()}
        score = {t: r[1 - fold::2] for t, r in rows.items()}
        errors = np.stack([1 - correct[:, pick[t]].mean(1) for t in names])  # tasks x epochs, on the picking half
        shared = int(np.argmin(errors.mean(0)))  # the first of equal minima, as the run keeps the earlier epoch
        each = [int(np.argmin(errors[i])) for i in range(len(names))]
        one.append(np.mean([1 - correct[shared, score[t]].mean() for t in names]))
        own.append(np.mean([1 - correct[each[i], score[t]].mean() for i, t in enumerate(names)]))
        chosen.append(shared + 1)
    by_epoch = [round(float(100 * (1 - np.mean([correct[e, tasks == t].mean() for t in names]))), 3)
                for e in range(len(correct))]
    print(f"{path}: seed {record['seed']}: held-out half error, one epoch for all {100 * np.mean(one):.3f} %, "
          f"each task's own {100 * np.mean(own):.3f} % (difference {100 * (np.mean(own) - np.mean(one)):+.3f}); "
          f"the one epoch chosen per fold {chosen}; mean dev error by epoch {by_epoch}")
