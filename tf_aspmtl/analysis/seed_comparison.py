"""Two configurations compared over seeds, paired: the way to tell a real gain from seed-to-seed noise.

On FDU-MTL a 16-task mean moves by as much between seeds as between model families, so configurations are
compared on runs of the same seed (same initial weights and data order), per (seed, task) pair. The functions
here read the results files :func:`tf_aspmtl.training.run` writes (``per_task`` -> ``test_error``,
``avg_dev_error``, ``avg_test_error``), given as ``{seed: results}`` per configuration.

The 95 % interval is over the seeds, not over the (seed, task) pairs: the tasks of one seed come from one
multi-task model trained with that seed's initial weights and data order, so they share its luck and are not
independent; the independent units are the seeds. The interval is therefore the Student-t interval of the per-seed
mean differences (seeds - 1 degrees of freedom); with one seed there is none (NaN, NaN) and no claim. The pair
counts (how many pairs each side wins) are reported only as a description.

Example:

```python
import json, pathlib
load = lambda name: {s: json.loads(pathlib.Path(f"{name}_seed{s}.json").read_text()) for s in (0, 1, 2)}
comparison = compare_runs(load("asp_mtl"), load("sp_mtl"))
comparison["mean"], comparison["ci95"]  # test error points (a - b) and its 95 % t-interval over the seeds
```

The interval needs SciPy (``pip install "tf-aspmtl[analysis]"``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

Results = Mapping[int, Mapping[str, Any]]
"""seed -> one run's results file."""


def mean_sd(values: Sequence[float]) -> tuple[float, float]:
    """The mean and the sample standard deviation (NaN for one value) of ``values``."""
    if not values:
        raise ValueError("mean_sd needs at least one value")
    mean = sum(values) / len(values)
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1)) if len(values) > 1 else float("nan")
    return mean, sd


def t_interval95(values: Sequence[float]) -> tuple[float, float]:
    """The 95 % Student-t interval of the mean of ``values`` (NaN, NaN for fewer than two)."""
    if len(values) < 2:
        return float("nan"), float("nan")
    from scipy import stats

    mean, sd = mean_sd(values)
    half = float(stats.t.ppf(0.975, len(values) - 1)) * sd / math.sqrt(len(values))
    return mean - half, mean + half


def summarize_differences(differences: Sequence[float], seeds: Sequence[int],
                          per_seed: Sequence[float] | None = None,
                          dev_per_seed: Sequence[float] = ()) -> dict[str, Any]:
    """A paired comparison from its differences (a - b; negative: a has the lower error).

    The interval is over the seeds: the 95 % Student-t interval of the per-seed mean differences (``per_seed``,
    seeds - 1 degrees of freedom), since the tasks of one seed share one model's initial weights and data order
    and are not independent of each other. Fewer than two seeds: (NaN, NaN), no claim.

    Args:
        differences: one per pair (e.g. per seed and task); they give ``pairs`` and the pair counts.
        seeds: the seeds the pairs come from.
        per_seed: the mean difference of each seed (one per seed, in the order of ``seeds``); None: allowed only
            for one seed (its mean is the mean of ``differences``).
        dev_per_seed: the dev-error difference of each seed, reported beside.

    Returns:
        ``seeds``, ``pairs``, ``mean``, ``ci95`` (over the seeds' means), ``per_seed_mean_over_tasks``,
        ``dev_per_seed`` and how many pairs each side wins (``a_better_pairs``, ``b_better_pairs``; descriptive).
        ``mean`` is the mean of the per-seed means, the centre of the interval; with the same number of pairs per
        seed it equals the mean over all pairs, with unequal numbers it weighs each seed alike.

    Raises:
        ValueError: ``per_seed`` is None for more than one seed, or does not have one value per seed.
    """
    if per_seed is None:
        if len(seeds) != 1:
            raise ValueError("summarize_differences needs per_seed (one mean per seed) for more than one seed")
        per_seed = [mean_sd(differences)[0]]
    per_seed = list(per_seed)
    if len(per_seed) != len(seeds):
        raise ValueError(f"per_seed has {len(per_seed)} values for {len(seeds)} seeds")
    mean, _ = mean_sd(per_seed)
    low, high = t_interval95(per_seed)
    return {"seeds": list(seeds), "pairs": len(differences), "mean": mean, "ci95": [low, high],
            "per_seed_mean_over_tasks": per_seed, "dev_per_seed": list(dev_per_seed),
            "a_better_pairs": sum(d < 0 for d in differences), "b_better_pairs": sum(d > 0 for d in differences)}


def _same_tasks(runs: Mapping[tuple[str, int], Mapping[str, Any]]) -> None:
    """Raises ValueError unless every run of ``runs`` (``(configuration, seed) -> results``) has the same tasks: a
    mean (``avg_*_error``) over other tasks, or per-seed means over other tasks, do not pair."""
    reference = None
    for (name, seed), run in runs.items():
        tasks = set(run["per_task"])
        if reference is None:
            reference = (name, seed, tasks)
        elif tasks != reference[2]:
            raise ValueError(
                f"{name} seed {seed} has results for other tasks than {reference[0]} seed {reference[1]}: "
                f"only it has {sorted(tasks - reference[2])}, only the other has {sorted(reference[2] - tasks)}")


def compare_runs(a: Results, b: Results) -> dict[str, Any] | None:
    """``a - b`` test error per (seed, task) over the seeds both have (None if they share none), its mean per seed,
    and the 95 % interval over the seeds; see :func:`summarize_differences`.

    Raises:
        ValueError: the runs compared (both configurations, every shared seed) are not all over the same tasks.
    """
    seeds = sorted(set(a) & set(b))
    if not seeds:
        return None
    _same_tasks({**{("the first configuration", s): a[s] for s in seeds},
                 **{("the second configuration", s): b[s] for s in seeds}})
    differences, per_seed = [], []
    for seed in seeds:
        tasks_a, tasks_b = a[seed]["per_task"], b[seed]["per_task"]
        d = [tasks_a[t]["test_error"] - tasks_b[t]["test_error"] for t in tasks_a]
        differences += d
        per_seed.append(sum(d) / len(d))
    dev = [a[s]["avg_dev_error"] - b[s]["avg_dev_error"] for s in seeds]
    return summarize_differences(differences, seeds, per_seed, dev)


def error_table(runs: Mapping[str, Results], settings: Sequence[str], decimals: int = 4):
    """A pandas frame: a row per task and ``average``; for each setting its test error's mean, sd and number of
    seeds (``<setting>_mean``, ``_sd``, ``_seeds``), rounded to ``decimals``. None if no setting has a run.

    Raises:
        ValueError: the settings' runs are not all over the same tasks (the ``average`` row would mix task sets).
    """
    import pandas as pd

    tasks = next((list(r["per_task"]) for s in settings for r in runs.get(s, {}).values()), None)
    if tasks is None:
        return None
    _same_tasks({(s, seed): r for s in settings for seed, r in runs.get(s, {}).items()})
    rows = []
    for task in tasks + ["average"]:
        row: dict[str, Any] = {"task": task}
        for setting in settings:
            done = runs.get(setting, {})
            values = [done[s]["avg_test_error"] if task == "average" else done[s]["per_task"][task]["test_error"]
                      for s in sorted(done)]
            mean, sd = mean_sd(values) if values else (float("nan"), float("nan"))
            row[f"{setting}_mean"], row[f"{setting}_sd"] = round(mean, decimals), round(sd, decimals)
            row[f"{setting}_seeds"] = len(values)
        rows.append(row)
    return pd.DataFrame(rows)
