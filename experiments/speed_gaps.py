"""Issue 22's missed speed goals: where each one's time goes, from the profiles under ``experiments/results/``.

:func:`speed_gaps` reads the training profiles (``python -m experiments.profile_train``), the serving profiles
(``python -m experiments.profile_serving``), the training benchmark (``bench_train.json``) and the paired runs of
skipping absent tasks' Adam updates (``lazy_absent_tasks/``) and the LSTM backward benchmark
(``speed_equality/lstm_backward.json``), and returns the figures that docs/RESULTS.md's
"Where the missed goals' time goes" quotes (its template holds the prose; every number comes from here).
"""

from __future__ import annotations

import json
import statistics
from pathlib import Path
from typing import Any

from experiments.provenance import cpu_kind

RESULTS = Path(__file__).resolve().parent / "results"
PROFILES = RESULTS / "speed_equality"
LSTM_KERNELS = ("BlockLSTM", "BlockLSTMGrad")
STRING_OPS = ("StaticRegexReplace", "StaticRegexFullMatch", "StringSplitV2", "StringNGrams", "LookupTableFindV2",
              "RaggedCountSparseOutput", "CaseFoldUTF8", "NormalizeUTF8", "WhitespaceTokenizeWithOffsetsV2")
"""The serving graph's tokenisation, n-gram and lookup ops (text to ids or features)."""


def _json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def _training(name: str) -> dict[str, float]:
    """ms a step of op time, by part and for the fused LSTM kernels, of one ``profile_train`` result."""
    profile = _json(PROFILES / name)
    steps, summary = profile["config"]["steps"], profile["summary"]
    kernels = sum(op["ms"] for op in summary["top_ops"] if op["op_type"] in LSTM_KERNELS)
    return {"op_ms": summary["op_ms_total"] / steps, "lstm_ms": kernels / steps,
            "lstm_share": kernels / summary["op_ms_total"],
            **{f"{part}_ms": ms / steps for part, ms in summary["by_part_ms"].items()}}


def _serving(name: str, batch_size: int, op_types: tuple[str, ...]) -> dict[str, float]:
    """Op and wall ms a call at ``batch_size``, and the share of op time of ``op_types``, of a ``profile_serving``."""
    (batch,) = [b for b in _json(PROFILES / name)["batch_sizes"] if b["batch_size"] == batch_size]
    ops = sum(op["ms_per_call"] for op in batch["top_ops"] if op["op_type"] in op_types)
    return {"op_ms": batch["op_ms_per_call"], "wall_ms": batch["wall_ms_per_call"],
            "share": ops / batch["op_ms_per_call"]}


def _examples_per_s(model: str, batch_size: int) -> float:
    (found,) = [m["examples_per_s"] for m in _json(RESULTS / "bench_train.json")["models"]
                if m["name"] == model and m["batch_size"] == batch_size]
    return found


def _absent_tasks_dev_cost() -> dict[str, Any]:
    """Mean dev error of skipping the absent tasks' Adam updates minus keeping them, over the paired seeds."""
    folder = RESULTS / "lazy_absent_tasks"
    seeds = sorted(int(p.stem.rsplit("seed", 1)[1]) for p in folder.glob("after_seed*.json"))
    differences = [_json(folder / f"after_seed{s}.json")["avg_dev_error"]
                   - _json(folder / f"before_seed{s}.json")["avg_dev_error"] for s in seeds]
    return {"mean": statistics.mean(differences), "seeds": len(seeds),
            "worse_on_every_seed": all(d > 0 for d in differences)}


def _lstm_backward(steps: int) -> dict[str, float]:
    """ms of forward + backward at ``steps`` steps, one LSTM alone and two at once, by backward pass
    (``python -m experiments.bench_lstm_backward``)."""
    rows = _json(PROFILES / "lstm_backward.json")["rows"]
    keys = {"BlockLSTMGrad": "block", "batched, graph ops": "graph", "batched, XLA": "xla"}
    return {f"lstm_backward_{keys[kind]}_{row['lstms']}x_ms": ms
            for row in rows if row["steps"] == steps for kind, ms in row["ms"].items()}


def speed_gaps() -> dict[str, Any]:
    """The figures of the "missed goals" section, by name (shares as fractions, times in ms)."""
    two, sixteen = _training("profile_asp_mtl_tasks2.json"), _training("profile_asp_mtl_tasks16.json")
    return {
        "train_op_ms": sixteen["op_ms"], "train_lstm_ms": sixteen["lstm_ms"], "train_lstm_pct": 100 * sixteen["lstm_share"],
        "optimizer_ms_2": two["optimizer_ms"], "optimizer_ms_16": sixteen["optimizer_ms"],
        "forward_backward_ms_2": two["forward_ms"] + two["backward_ms"],
        "forward_backward_ms_16": sixteen["forward_ms"] + sixteen["backward_ms"],
        "asp_b16_per_s": _examples_per_s("asp-mtl", 16), "asp_b64_per_s": _examples_per_s("asp-mtl", 64),
        "plain_b16_per_s": _examples_per_s("plain", 16), "plain_b64_per_s": _examples_per_s("plain", 64),
        "absent_tasks_dev_cost": _absent_tasks_dev_cost(), **_lstm_backward(120),
        **{f"lstm_serving_{k}_b{b}": v for b in (1, 64)
           for k, v in _serving("profile_serving_lstm.json", b, LSTM_KERNELS).items()},
        **{f"ngram_serving_{k}_b{b}": v for b in (1, 64)
           for k, v in _serving("profile_serving_ngram.json", b, STRING_OPS).items()},
    }


SUMMARIES = ("bench_summary.json", "bench_summary_avx512_03f8e9b.json", "bench_summary_avx512_9f0bb4f.json",
             "bench_summary_avx512.json", "bench_summary_no_avx512.json")
"""``python -m experiments.bench_suite`` summaries kept under ``experiments/results/``: the newest first."""


def speed_reruns() -> str:
    """Every kept summary's figures side by side (a Markdown table): whether a figure holds when the benchmark
    command is rerun, on a machine of the same kind or of another, at a later commit."""
    runs = [(name, _json(RESULTS / name)) for name in SUMMARIES if (RESULTS / name).exists()]
    if not runs:
        raise FileNotFoundError(f"no benchmark summary under {RESULTS} ({', '.join(SUMMARIES)})")
    goals = runs[0][1]["goals"]
    lines = ["| figure | goal | " + " | ".join(f"`{name}` ({run['commit'][:7]}; {cpu_kind(run.get('machine', {}), 'CPU flags not recorded')})"
                                              for name, run in runs) + " |",
             "|---|---|" + "---:|" * len(runs)]
    for key in runs[0][1]["figures"]:
        cells = []
        for _, run in runs:
            value = run["figures"].get(key)
            cells.append("–" if value is None else f"{value:.3g}" if isinstance(value, float) else str(value))
        goal = " ".join(map(str, goals[key])) if key in goals else ""
        lines.append(f"| `{key}` | {goal} | " + " | ".join(cells) + " |")
    errors = [run["details"].get("main_job", {}).get("avg_test_error") for _, run in runs]
    lines.append("| the main job's mean test error, % (seed 0) | | "
                 + " | ".join("–" if e is None else f"{e:.2f}" for e in errors) + " |")
    return "\n".join(lines)
