"""experiments/queues/*.sh: which runs they start, where, and what their exit status says.

Each script is copied into a throw-away layout (``<root>/experiments/queues/``; the scripts ``cd`` two folders above
their own) and run with a stand-in ``python`` first on ``PATH``: it records its arguments and folder, and writes the
``--results`` file (and its ``.md``) as a finished run does. Nothing trains.
"""

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

QUEUES = Path(__file__).resolve().parents[1] / "experiments" / "queues"
FAKE_PYTHON = """#!/bin/bash
printf '%s\\t%s\\n' "$PWD" "$*" >> "$QUEUE_TEST_LOG"
results=""
while [ $# -gt 0 ]; do
  [ "$1" = "--results" ] && results=$2
  shift
done
[ -n "$results" ] || exit 0
mkdir -p "$(dirname "$results")"
printf '{"cwd": "%s"}\\n' "$PWD" > "$results"
[ -n "${FAKE_PYTHON_NO_MD:-}" ] || echo table > "${results%.json}.md"
[ -z "${FAKE_PYTHON_EXIT:-}" ] || exit "$FAKE_PYTHON_EXIT"
"""


def _git_checkout(path: Path) -> Path:
    path.mkdir(parents=True)
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@t"}
    subprocess.run(["git", "init", "-q", str(path)], check=True, env=env)
    subprocess.run(["git", "-C", str(path), "commit", "-q", "--allow-empty", "-m", "x"], check=True, env=env)
    return path


@pytest.fixture
def queue(tmp_path):
    """Runs a copy of a queue script from ``tmp_path/repo``; returns (exit code, output, python calls)."""
    repo = tmp_path / "repo"
    (repo / "experiments").mkdir(parents=True)
    shutil.copytree(QUEUES, repo / "experiments" / "queues")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "python").write_text(FAKE_PYTHON)
    (bin_dir / "python").chmod(0o755)
    log = tmp_path / "python_calls.log"

    def run(script: str, *args: str, env: dict | None = None):
        out = subprocess.run(["bash", str(repo / "experiments" / "queues" / script), *args], cwd=tmp_path,
                             capture_output=True, text=True, timeout=60,
                             env={**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "QUEUE_TEST_LOG": str(log),
                                  **(env or {})})
        calls = [line.split("\t") for line in log.read_text().splitlines()] if log.exists() else []
        return out.returncode, out.stdout + out.stderr, calls

    run.repo = repo
    return run


def test_paired_main_job_runs_each_side_in_its_own_checkout(queue, tmp_path):
    before, after = _git_checkout(tmp_path / "before"), _git_checkout(tmp_path / "after")
    code, output, calls = queue("paired_main_job.sh", "pair", str(before), str(after), env={"SEEDS": "0"})
    assert code == 0, output
    assert [cwd for cwd, _ in calls] == [str(before), str(after)]
    for side, checkout in (("before", before), ("after", after)):
        copied = queue.repo / "experiments" / "results" / "pair" / f"{side}_seed0.json"
        assert json.loads(copied.read_text()) == {"cwd": str(checkout)}


def test_paired_main_job_reads_relative_checkouts_from_where_it_is_started(queue, tmp_path):
    # The script moves to its own checkout first: `../before` was read from there, not from the caller's folder.
    before, after = _git_checkout(tmp_path / "before"), _git_checkout(tmp_path / "after")
    code, output, calls = queue("paired_main_job.sh", "pair", "before", "after", env={"SEEDS": "0"})  # cwd tmp_path
    assert code == 0, output
    assert [cwd for cwd, _ in calls] == [str(before), str(after)]


@pytest.mark.parametrize("missing", ["before", "after"])
def test_paired_main_job_refuses_a_checkout_that_does_not_exist(queue, tmp_path, missing):
    # A mistyped path made `cd ""` a no-op: that side ran in this checkout, its code and commit, under the name of
    # the other, and its results file made the queue skip it from then on.
    checkouts = {side: _git_checkout(tmp_path / side) for side in ("before", "after") if side != missing}
    checkouts[missing] = tmp_path / "no_such_checkout"
    code, output, calls = queue("paired_main_job.sh", "pair", str(checkouts["before"]), str(checkouts["after"]),
                                env={"SEEDS": "0"})
    assert code != 0 and "no_such_checkout" in output
    assert calls == []
    assert not (queue.repo / "experiments" / "results" / "pair").exists()


def test_paired_main_job_stops_when_a_finished_run_cannot_be_copied_here(queue, tmp_path):
    # The copy's failure was ignored: the queue went on and ended with "queue finished" and exit 0, this checkout
    # holding no results file of the run (here: a checkout whose experiments.train writes no .md beside it).
    before, after = _git_checkout(tmp_path / "before"), _git_checkout(tmp_path / "after")
    code, output, calls = queue("paired_main_job.sh", "pair", str(before), str(after),
                                env={"SEEDS": "0", "FAKE_PYTHON_NO_MD": "1"})
    assert code != 0 and "queue finished" not in output
    assert len(calls) == 1


def test_paired_main_job_takes_this_checkout_as_one_side(queue, tmp_path):
    before = _git_checkout(tmp_path / "before")
    code, output, calls = queue("paired_main_job.sh", "pair", str(before), str(queue.repo), env={"SEEDS": "0"})
    assert code == 0, output
    assert [cwd for cwd, _ in calls] == [str(before), str(queue.repo)]
    assert json.loads((queue.repo / "experiments" / "results" / "pair" / "after_seed0.json").read_text()) == {
        "cwd": str(queue.repo)}


def test_ngram_transfer_refuses_an_unknown_task_before_training(queue):
    # ONLY="book" (a typo): the held-out task matched none, so the first run trained the 16-task source model as
    # "src_no_book" (hours on 2 cores), dev only, and wrote its results file before anything said the task was wrong.
    code, output, calls = queue("ngram_transfer.sh", env={"SEEDS": "0", "ONLY": "books book"})
    assert code != 0 and "book" in output
    assert calls == []


def test_ngram_transfer_holds_out_the_task_it_names(queue):
    code, output, calls = queue("ngram_transfer.sh", env={"SEEDS": "0", "ONLY": "MR"})
    assert code == 0, output
    source, bc, single = (args.split() for _, args in calls)
    tasks = source[source.index("--tasks") + 1].split(",")
    assert "MR" not in tasks and len(tasks) == 15 and "--dev-only" in source
    assert bc[bc.index("--task") + 1] == "MR" and single[single.index("--tasks") + 1] == "MR"


def test_a_screen_runs_what_is_missing_and_skips_what_finished(queue):
    results = queue.repo / "experiments" / "results" / "single_protocol"
    results.mkdir(parents=True)
    (results / "base_seed0.json").write_text("{}")
    code, output, calls = queue("single_protocol.sh", env={"SEEDS": "0 1", "ONLY": "base adam"})
    assert code == 0, output
    runs = [args.split() for _, args in calls]
    assert [(r[r.index("--seed") + 1], r[r.index("--output-dir") + 1]) for r in runs] == [
        ("0", "runs/single_protocol/adam_seed0"), ("1", "runs/single_protocol/base_seed1"),
        ("1", "runs/single_protocol/adam_seed1")]
    assert all(cwd == str(queue.repo) and "--dev-only" in r for (cwd, _), r in zip(calls, runs))
    assert "--optimizer adam" in calls[0][1] and "--optimizer" not in calls[1][1]


def test_a_failed_run_stops_a_screen_with_an_error(queue):
    code, output, calls = queue("single_protocol.sh", env={"SEEDS": "0", "FAKE_PYTHON_EXIT": "1"})
    assert code != 0 and "queue finished" not in output and len(calls) == 1


def test_a_screen_refuses_an_unknown_setting_before_any_run(queue):
    # ONLY="base w2v_lnog" (a typo): base seed 0 trained first, then the queue stopped at the typo, leaving the
    # other seeds unrun; the names are checked before the first run now.
    code, output, calls = queue("single_protocol.sh", env={"ONLY": "base w2v_lnog"})
    assert code == 2 and "no setting w2v_lnog" in output
    assert calls == []
