"""The best configuration, chosen on dev: ``python -m experiments.tables choose-best`` writes
``experiments/configs/best.json`` from the screens' result files (the test split is never read)."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path
from typing import Any

from experiments import ngram, ngram_screens
from experiments.provenance import REPO_ROOT, git_commit, write_atomic
from experiments.result_files import RESULTS as RESULT_FILES
from experiments.table_plan import (
    LEVER_SETTINGS,
    OWN_FLAGS,
    PLAN,
    SCREEN16_SETTINGS,
    SCREEN_TASKS,
    SEEDS,
    TABLE2_SETTINGS,
)
from experiments.train import parse_args, resolve_config
from tf_aspmtl.analysis.seed_comparison import mean_sd

BEST_CONFIG = REPO_ROOT / "experiments" / "configs" / "best.json"
WIDE_DEEP_SCREEN = RESULT_FILES / "wide_deep_screen"
"""Result files of the wide-and-deep model's 16-task dev-only screen (``experiments/queues/wide_deep_screen.sh``):
``<setting>_seed<S>.json``, each with the ``python -m experiments.train`` command that made it."""
WIDE_DEEP_PREFIX = "s16_"
"""A wide-and-deep setting's candidate name is this prefix and the setting (``s16_wd_wide10_nb``)."""
RUN_FLAGS = {"--seed", "--output-dir", "--results", "--verbose"}
"""Flags of a screen's command that name its run, not its configuration (each takes a value); ``--dev-only`` too."""


def configuration_flags(command: str) -> list[str]:
    """The flags of a ``python -m experiments.train`` command that make its configuration: the run's own
    (:data:`RUN_FLAGS`, ``--dev-only``) removed."""
    words = shlex.split(command)
    if words[:3] != ["python", "-m", "experiments.train"]:
        raise ValueError(f"not an experiments.train command: {command!r}")
    flags, rest = [], iter(words[3:])
    for word in rest:
        name = word.split("=", 1)[0]
        if name == "--dev-only":
            continue
        if name in RUN_FLAGS:
            if "=" not in word:
                next(rest, None)
            continue
        flags.append(word)
    return flags


def wide_deep_screen_runs(folder: Path | None = None) -> dict[str, dict[int, dict[str, Any]]]:
    """Finished wide-and-deep screen runs: candidate name -> seed -> results JSON (with ``flags``: its
    configuration's flags). Seeds of one setting must share their flags."""
    runs: dict[str, dict[int, dict[str, Any]]] = {}
    for path in sorted((folder or WIDE_DEEP_SCREEN).glob("*_seed*.json")):
        match = re.fullmatch(r"(.+)_seed(\d+)", path.stem)
        if not match:
            continue
        result = json.loads(path.read_text(encoding="utf-8"))
        flags = configuration_flags(result["command"])
        seeds = runs.setdefault(WIDE_DEEP_PREFIX + match.group(1), {})
        other = next(iter(seeds.values()), None)
        if other is not None and other["flags"] != flags:
            raise ValueError(f"{path}: flags {flags} differ from its setting's other seeds' {other['flags']}")
        seeds[int(match.group(2))] = {**result, "flags": flags}
    return runs


def _finished(runs, names) -> dict[str, dict[str, float]]:
    """Candidates among ``names`` that finished every seed of :data:`SEEDS`: their mean dev error and wall time."""
    found = {}
    for name in names:
        done = runs.get(name, {})
        if all(seed in done for seed in SEEDS):
            found[name] = {
                "mean_dev_error": mean_sd([done[s]["avg_dev_error"] for s in SEEDS])[0],
                "mean_wall_time_s": mean_sd([done[s]["wall_time_s"] for s in SEEDS])[0],
            }
    return found


def _same_tasks(runs, candidates) -> None:
    """Raises ValueError unless every seed of every candidate ran the same tasks: a mean dev error over other tasks
    is no comparison (a screen with ``--tasks`` of easy tasks would win)."""
    reference = None
    for name in candidates:
        for seed in SEEDS:
            tasks = sorted(runs[name][seed].get("per_task", {}))
            if reference is None:
                reference = (name, seed, tasks)
            elif tasks != reference[2]:
                raise ValueError(f"candidate {name} seed {seed} ran tasks {tasks}, {reference[0]} seed {reference[1]} "
                                 f"ran {reference[2]}: their mean dev errors do not compare")


def choose_best(runs, command: str) -> dict[str, Any]:
    """The screened setting with the lowest mean dev error over every seed, as a 16-task TrainConfig file.

    Candidates are the 16-task screen's settings that finished all of
    :data:`SEEDS`, with Table 2's ASP-MTL (their baseline), the n-gram
    model's 16-task screens (:data:`experiments.ngram_screens.SCREEN_SETTINGS`; then
    the file is an ``experiments.ngram --config``) and the wide-and-deep
    model's (:data:`WIDE_DEEP_SCREEN`); only when none has, the 4-task
    screen's settings (and its baseline). So every candidate saw the same
    tasks, seeds and data order. Mean dev errors are compared to 3 decimals
    (whole rows: float noise is no gain); a tie keeps the current
    ``best.json`` choice, then goes to the cheaper (mean wall time). An n-gram
    screen that :data:`experiments.ngram_screens.SUPERSEDED_BY` names is left
    out once the rerun standing for it has finished (said in
    ``provenance["superseded"]``). Only dev
    errors are read (the screens never read test). Writes
    ``experiments/configs/best.json``; the reason goes in its ``provenance``
    field, which :meth:`TrainConfig.from_json_file` ignores.
    """
    # The 16-task screen supersedes the 4-task one (whose winner did not carry over to 16 tasks); its candidates
    # include the paper's ASP-MTL itself (Table 2's runs, the screen's baseline): a lever must beat it on dev.
    base16 = PLAN["screen16"]["baseline"]
    screen = "all 16 tasks"
    candidates = _finished(runs, SCREEN16_SETTINGS) and _finished(runs, {base16: TABLE2_SETTINGS[base16],
                                                                        **SCREEN16_SETTINGS})
    if not candidates:
        screen = SCREEN_TASKS
        candidates = _finished(runs, LEVER_SETTINGS)
    if not candidates:
        raise SystemExit(f"no lever setting has finished seeds {list(SEEDS)}: run python -m experiments.tables run "
                         "screen16 (or levers)")
    ngram_names, wide_deep, superseded = {}, {}, {}
    if screen == "all 16 tasks":  # the n-gram and wide-and-deep models' 16-task screens compete with the LSTMs
        wide_deep = wide_deep_screen_runs()
        runs = {**runs, **ngram_screens.load_screen_runs(), **wide_deep}
        ngram_names = {ngram_screens.screen_key(name): flags for name, flags in ngram_screens.SCREEN_SETTINGS.items()}
        candidates.update(_finished(runs, ngram_names))
        candidates.update(_finished(runs, wide_deep))
        for old, new in ngram_screens.SUPERSEDED_BY.items():  # the rerun of the same flags by today's code stands
            old, new = ngram_screens.screen_key(old), ngram_screens.screen_key(new)
            if old in candidates and new in candidates:
                superseded[old] = new
                del candidates[old]
    _same_tasks(runs, candidates)
    # Dev errors are whole rows (a 16-task mean moves in steps of 1/32 point): compare them to 3 decimals, so float
    # noise cannot break a tie. A tie keeps the current choice (a candidate must beat it to replace it), then goes
    # to the cheaper.
    incumbent = None
    if BEST_CONFIG.exists():
        incumbent = json.loads(BEST_CONFIG.read_text(encoding="utf-8")).get("provenance", {}).get("chosen")
    chosen = min(candidates, key=lambda n: (round(candidates[n]["mean_dev_error"], 3), n != incumbent,
                                            candidates[n]["mean_wall_time_s"]))
    if chosen in ngram_names:
        flags = list(ngram_names[chosen])
        config = ngram.identity(ngram.config_from_flags(flags))
        command_of_runs = "python -m experiments.ngram --dev-only"
    elif chosen in wide_deep:
        flags = wide_deep[chosen][SEEDS[0]]["flags"]
        config = resolve_config(parse_args(flags)).to_dict()
        command_of_runs = "bash experiments/queues/wide_deep_screen.sh"
    else:
        flags = list(OWN_FLAGS[chosen])
        config = resolve_config(parse_args(flags)).to_dict()
        command_of_runs = "python -m experiments.tables run screen16"
    config["command"], config["commit"] = command, git_commit()
    config["provenance"] = {
        "chosen_by": command, "chosen": chosen, "flags": " ".join(flags), "screen_tasks": screen,
        "seeds": list(SEEDS), "rule": "lowest mean dev error over the seeds on the screening tasks (the LSTM "
        "settings and the n-gram and wide-and-deep models' screens alike), to 3 decimals; ties: the current choice, "
        "then the cheaper", "screen_command": command_of_runs,
        "candidates": candidates,
    }
    if superseded:  # left out: a rerun of the same flags by later code stands for them
        config["provenance"]["superseded"] = superseded
    BEST_CONFIG.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(BEST_CONFIG, json.dumps(config, indent=2) + "\n")
    return config
