"""The adversary sweep's report (issue 23): ``table.md`` and ``table.csv`` from the rows of
:func:`experiments.adversary_sweep.table_rows`, and the sentences that answer the sweep's question from them."""

from __future__ import annotations

import csv
from typing import Any

from experiments.table_format import interval_verdict

REFERENCE = "sp"
"""The setting every other one is paired with by seed (SP-MTL)."""
PROBE_CACHE = ".probe.json"
COLUMNS = {"probe": "probe on shared: task accuracy %", "discriminator": "discriminator accuracy %",
           "test_error": "test error %"}


def _cell(spread: dict[str, Any] | None, fmt: str) -> str:
    if spread is None:
        return "–"
    sd = "" if spread["sd"] is None else " ± " + format(spread["sd"], fmt.lstrip("+"))
    return format(spread["mean"], fmt) + sd


def verdict(rows: list[dict[str, Any]], threshold: float, chance: float) -> str:
    """One sentence, read off the rows: do settings the probe reads at <= ``threshold`` % have lower test error?"""
    rated = [r for r in rows if r["probe"] is not None]
    low = [r for r in rated if r["probe"]["mean"] <= threshold]
    high = [r for r in rated if r["probe"]["mean"] > threshold]
    if not low:
        lowest = min(rated, key=lambda r: r["probe"]["mean"])
        return (f"No setting reached a probe accuracy <= {threshold:g} % (the lowest: {lowest['setting']}, "
                f"{lowest['probe']['mean']:.1f} %; chance {chance:.2f} %): the sweep cannot tell whether a shared "
                f"space the probe cannot read gives lower test error.")
    if not high:
        return (f"Every setting's probe accuracy is <= {threshold:g} %: no setting above it to compare with.")

    def group(rs):
        names = ", ".join(f"{r['setting']}: {r['probe']['mean']:.1f} %" for r in rs)
        error = sum(r["test_error"]["mean"] for r in rs) / len(rs)
        diffs = [r["paired"]["mean"] if r.get("paired") else 0.0 if r["setting"] == REFERENCE else None for r in rs]
        paired = None if None in diffs else sum(diffs) / len(diffs)
        return names, error, paired

    (low_names, low_error, low_paired), (high_names, high_error, high_paired) = group(low), group(high)
    gap = low_error - high_error
    sds = [r["paired"]["sd"] for r in rows if r.get("paired") and r["paired"]["sd"] is not None]
    # A gap inside the seeds' spread of a paired difference is not called lower or higher.
    within_noise = gap == 0 or (bool(sds) and abs(gap) < max(sds))
    word = "about the same test error as" if within_noise else f"{'lower' if gap < 0 else 'higher'} test error than"
    every = max(r["test_error"]["mean"] for r in low) < min(r["test_error"]["mean"] for r in high)
    text = (f"Settings whose shared space the probe reads at <= {threshold:g} % ({low_names}) have {word} those "
            f"above ({high_names}): {low_error:.2f} % against {high_error:.2f} % (means over settings, "
            f"{gap:+.2f} points{', inside the spread below' if within_noise and gap else ''})")
    if low_paired is not None and high_paired is not None:
        text += f"; paired with SP-MTL by seed, {low_paired:+.2f} against {high_paired:+.2f} points"
    noise = f"; the paired differences' sd over seeds is up to {max(sds):.2f} points" if sds else ""
    return (text + f"; every setting at or below {threshold:g} % {'has' if every else 'does not have'} a lower mean "
            f"test error than every setting above{noise}.")


def against_reference(rows: list[dict[str, Any]]) -> str:
    """One sentence, read off the rows: the settings the probe reads less well than SP-MTL's shared space, and
    those it reads as well or better, with their test error paired with SP-MTL ("" without SP-MTL or pairs)."""
    (ref,) = [r for r in rows if r["setting"] == REFERENCE] or [None]
    others = [r for r in rows if r["setting"] != REFERENCE and r["probe"] is not None and r.get("paired")]
    if ref is None or ref["probe"] is None or not others:
        return ""
    bar = ref["probe"]["mean"]

    def group(rs):
        names = ", ".join(f"{r['setting']} {r['probe']['mean']:.1f} % / {r['paired']['mean']:+.2f}" for r in rs)
        return names, sum(r["paired"]["mean"] for r in rs) / len(rs)

    parts = []
    for rs, what in (([r for r in others if r["probe"]["mean"] < bar], "less well than"),
                     ([r for r in others if r["probe"]["mean"] >= bar], "as well as or better than")):
        if rs:
            names, mean = group(rs)
            parts.append(f"the {len(rs)} setting(s) the probe reads {what} {REFERENCE} ({names}) have a test error "
                         f"{mean:+.2f} points from {REFERENCE}'s on average")
    nearest = min(others, key=lambda r: r["probe"]["mean"])
    return (f"Against {REFERENCE}'s own shared space (probe {bar:.1f} %; each setting: probe / test error − "
            f"{REFERENCE}, means over seeds): " + "; ".join(parts) + f"; the least readable, {nearest['setting']} "
            f"({nearest['probe']['mean']:.1f} %), {nearest['paired']['mean']:+.2f}.")


def controlled_lines(pairs: list[dict[str, Any]]) -> list[str]:
    """The controlled comparisons (:func:`experiments.adversary_sweep.controlled_pairs`) as a table with the
    95 % interval of each over the seeds' mean differences (the tasks of one seed come from one model, so the seeds
    are the independent units; one seed: no interval, no verdict) ([] without any)."""
    if not pairs:
        return []
    lines = ["The same question without comparing different settings: each setting beside the one it changes only "
             "by projecting the task means out of the shared space (the projection is what makes it unreadable), "
             "paired by seed and task (test error, points; negative: the unreadable space has the lower error; the "
             "mean difference is the mean of the per-seed means, its 95 % t-interval is over the seeds):", "",
             "| comparison | seeds | seed x task pairs | mean difference | 95 % interval over seeds "
             "| per seed (mean over tasks) | pairs where the first / second is better | 95 % interval over seeds says |",
             "|---|---|---:|---:|---|---|---|---|"]
    for p in pairs:
        interval, says = interval_verdict(p["ci95"], f"{p['a']} lower", f"{p['b']} lower")
        lines.append(f"| {p['a']} − {p['b']} | {', '.join(map(str, p['seeds']))} | {p['pairs']} | "
                     f"**{p['mean']:+.2f}** | {interval} | "
                     f"{', '.join(f'{d:+.2f}' for d in p['per_seed_mean_over_tasks'])} | "
                     f"{p['a_better_pairs']} / {p['b_better_pairs']} | {says} |")
    return lines


def markdown(rows: list[dict[str, Any]], made: dict[str, Any], settings: list[str],
             pairs: list[dict[str, Any]] = ()) -> str:
    """``table.md``: where it comes from, the table, the :func:`verdict`, the controlled ``pairs``
    (:func:`controlled_lines`), each run's figures, and which of ``settings`` (every setting of the sweep, in
    order) have no finished run yet."""
    chance = 100.0 / len(made["tasks"])
    results, runs = made["results_dir"], made["runs_dir"]
    lines = ["# A fair chance for the adversary: does an unreadable shared space lower test error? (issue 23)", "",
             f"Made by `{made['command']}` at commit `{made['commit']}`, from `{results}/<setting>_seed<S>.json` "
             f"(test error: the run's `avg_test_error`, {len(made['tasks'])} FDU-MTL tasks, epoch chosen on dev) and "
             f"`{results}/<setting>_seed<S>{PROBE_CACHE}` (computed from `{runs}/<setting>_seed<S>/model/model.keras`"
             f" on the test reviews). Probe: logistic regression from the frozen shared feature to the task, fitted "
             f"on the first {made['probe_rows']} training reviews of each task (probe seed {made['probe_seed']}); "
             f"chance {chance:.2f} %. Discriminator: the model's own (SP-MTL has none). Mean ± sd over seeds; the "
             f"difference is setting − {REFERENCE} of the same seed (negative: lower test error than SP-MTL), with "
             f"the number of seeds paired.", "",
             "| setting | flags | seeds | " + " | ".join(COLUMNS.values())
             + f" | test error − {REFERENCE} (points) |",
             "|---|---|---|---:|---:|---:|---:|"]
    for r in rows:
        d = r.get("paired")
        diff = "(reference)" if r["setting"] == REFERENCE else "–" if not d else f"{_cell(d, '+.2f')} (n = {d['n']})"
        lines.append(f"| {r['setting']} | `{r['flags']}` | {', '.join(map(str, r['seeds']))} (n = {len(r['seeds'])})"
                     f" | {_cell(r['probe'], '.1f')} | {_cell(r['discriminator'], '.1f')} | "
                     f"{_cell(r['test_error'], '.2f')} | {diff} |")
    relative = against_reference(rows)
    lines += ["", verdict(rows, made["threshold"], chance)] + (["", relative] if relative else [])
    controlled = controlled_lines(list(pairs))
    lines += [""] + controlled if controlled else []
    lines += ["", "Each run, with the CPU it ran on (a seed repeats exactly on one kind of CPU only: runs of one seed "
              "on two kinds share their initial weights and data order, not their arithmetic):", "",
              "| setting | seed | " + " | ".join(COLUMNS.values()) + f" | test error − {REFERENCE} | CPU |",
              "|---|---:|---:|---:|---:|---:|---|"]
    for r in rows:
        for seed, f in sorted(r["runs"].items()):
            d = (r.get("paired") or {}).get("per_seed", {}).get(seed)
            disc = "–" if "discriminator" not in f else f"{f['discriminator']:.1f}"
            lines.append(f"| {r['setting']} | {seed} | {f['probe']:.1f} | {disc} | {f['test_error']:.2f} | "
                         + ("–" if d is None else f"{d:+.2f}") + f" | {f.get('cpu', 'not recorded')} |")
    missing = [name for name in settings if name not in {r["setting"] for r in rows}]
    if missing:
        lines += ["", f"Not run yet: {', '.join(missing)}."]
    return "\n".join(lines) + "\n"


def write_csv(rows: list[dict[str, Any]], out) -> None:
    """``table.csv``: one row per setting, each column's mean and sd, and the paired test-error difference."""
    writer = csv.writer(out, lineterminator="\n")
    names = {"probe": "probe_task_accuracy_pct", "discriminator": "discriminator_accuracy_pct",
             "test_error": "test_error_pct"}
    writer.writerow(["setting", "flags", "seeds", "n_seeds"] + [f"{names[k]}_{x}" for k in COLUMNS
                                                                 for x in ("mean", "sd")]
                    + [f"test_error_minus_{REFERENCE}_mean", f"test_error_minus_{REFERENCE}_sd", "n_paired"])

    def num(value):
        return "" if value is None else f"{value:.4f}"

    for r in rows:
        d = r.get("paired") or {}
        writer.writerow([r["setting"], r["flags"], " ".join(map(str, r["seeds"])), len(r["seeds"])]
                        + [num((r[k] or {}).get(x)) for k in COLUMNS for x in ("mean", "sd")]
                        + [num(d.get("mean")), num(d.get("sd")), d.get("n", "")])
