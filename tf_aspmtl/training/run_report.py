"""A run's results record as a Markdown table: dev and test error per task, beside a reference column."""

from __future__ import annotations

from typing import Any, Mapping


def results_markdown(results: Mapping[str, Any], reference: Mapping[str, float] | None = None,
                     reference_name: str = "paper test error") -> str:
    """Dev and test error (%) per task of a :func:`tf_aspmtl.training.run` record, and their averages.

    Args:
        results: the record (``model``, ``command``, ``commit``, ``wall_time_s``, ``short_run``, ``per_task``,
            ``avg_dev_error``, ``avg_test_error``, optional ``self_training``).
        reference: optional test error % per task to show beside ours (e.g. the paper's Table 2 column).
        reference_name: that column's heading.
    """
    reference = dict(reference or {})
    lines = [
        f"# {results['model']}: error % (dev selects the epoch; test reported once)",
        "",
        f"`{results.get('command', '')}` at commit `{results.get('commit', '')}`, {results['wall_time_s']:.0f} s"
        + (" (short run: not the paper's scale)" if results["short_run"] else ""),
        "",
        f"| task | dev error | test error | {reference_name} |",
        "|---|---:|---:|---:|",
    ]
    for task, r in results["per_task"].items():
        ref = reference.get(task)
        test = "–" if r["test_error"] is None else f"{r['test_error']:.1f}"
        lines.append(f"| {task} | {r['dev_error']:.1f} | {test} | {'' if ref is None else f'{ref:.1f}'} |")
    ref_avg = [reference[t] for t in results["per_task"] if t in reference]
    ref_txt = f"{sum(ref_avg) / len(ref_avg):.1f}" if len(ref_avg) == len(results["per_task"]) else ""
    test = "–" if results["avg_test_error"] is None else f"**{results['avg_test_error']:.1f}**"
    lines.append(f"| **average** | **{results['avg_dev_error']:.1f}** | {test} | {ref_txt} |")
    st = results.get("self_training")
    if st:
        rows = sum(sum(counts.values()) for counts in st["pseudo_labels"].values())
        lines += ["", f"Self-training: {rows} pseudo-labelled rows (threshold {st['threshold']:g}, classes balanced "
                      f"per task); the teachers' average dev error {st['avg_teacher_dev_error']:.1f}."]
    return "\n".join(lines) + "\n"
