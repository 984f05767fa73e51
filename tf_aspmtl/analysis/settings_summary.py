"""Settings compared over seeds: each figure's mean ± sd per setting, and one figure paired with a reference setting.

The per-run figures come in as ``{setting: {seed: {figure: value}}}`` (a figure a run lacks, such as the
discriminator accuracy of a model without a discriminator, is simply absent). A paired difference is taken seed by
seed, on the seeds both the setting and the reference have, so seed-to-seed noise that moves both cancels.

Example:

```python
figures = {"sp": {0: {"test_error": 14.0}, 1: {"test_error": 15.0}},
           "asp": {0: {"test_error": 13.5}, 1: {"test_error": 14.9}}}
summary = summarize_settings(figures, ["test_error"], reference="sp", paired="test_error")
summary["asp"]["test_error"]  # {"mean": 14.2, "sd": 0.99, "n": 2}
summary["asp"]["paired"]      # {"mean": -0.3, "sd": 0.28, "n": 2, "per_seed": {0: -0.5, 1: -0.1}}
```
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from tf_aspmtl.analysis.seed_comparison import mean_sd

Figures = Mapping[str, Mapping[int, Mapping[str, float]]]
"""setting -> seed -> figure name -> value."""


def spread(values: Sequence[float]) -> dict[str, Any] | None:
    """``{"mean", "sd", "n"}`` of ``values`` (sd None for one value), or None for no value."""
    if not values:
        return None
    mean, sd = mean_sd([float(v) for v in values])
    return {"mean": mean, "sd": None if math.isnan(sd) else sd, "n": len(values)}


def summarize_settings(figures: Figures, keys: Sequence[str], reference: str | None = None,
                       paired: str | None = None) -> dict[str, dict[str, Any]]:
    """Per setting, in ``figures``' order: its seeds, :func:`spread` of each figure of ``keys`` over the seeds that
    have it, and, with ``reference`` and ``paired``, the differences ``setting - reference`` of figure ``paired``
    per seed both have, with their spread.

    Args:
        figures: setting -> seed -> figure -> value.
        keys: the figures to summarise.
        reference: the setting the others are paired with (its own ``paired`` entry is None).
        paired: the figure compared with the reference.

    Returns:
        ``{setting: {"seeds": [...], <key>: spread or None, "paired": {"mean", "sd", "n", "per_seed"} or None}}``;
        ``"paired"`` only when ``reference`` and ``paired`` are given.

    Raises:
        ValueError: ``reference`` is not a setting of ``figures``, or only one of ``reference``/``paired`` is given.
    """
    if (reference is None) != (paired is None):
        raise ValueError(f"give both reference and paired, or neither; got reference={reference!r}, paired={paired!r}")
    if reference is not None and reference not in figures:
        raise ValueError(f"reference setting {reference!r} has no runs; settings with runs: {list(figures)}")
    summary: dict[str, dict[str, Any]] = {}
    for setting, runs in figures.items():
        seeds = sorted(runs)
        entry: dict[str, Any] = {"seeds": seeds}
        for key in keys:
            entry[key] = spread([runs[s][key] for s in seeds if runs[s].get(key) is not None])
        if reference is not None:
            entry["paired"] = None
            if setting != reference:
                base = figures[reference]
                both = [s for s in seeds if runs[s].get(paired) is not None and base.get(s, {}).get(paired) is not None]
                per_seed = {s: float(runs[s][paired]) - float(base[s][paired]) for s in both}
                found = spread(list(per_seed.values()))
                entry["paired"] = None if found is None else {**found, "per_seed": per_seed}
        summary[setting] = entry
    return summary
