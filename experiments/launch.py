"""Start a multi-process training run or tuning search on this machine.

    python -m experiments.launch train --workers 2 -- --model asp-mtl --tasks books,dvd
    python -m experiments.launch ngram --workers 2 -- --tasks books,dvd --output-dir runs/ngram-2w
    python -m experiments.launch tune --workers 2 -- --tuner random --trials 8 --tasks books,dvd

``train`` starts ``--workers`` copies of ``python -m experiments.train ...
--strategy multi-worker``, each with a ``TF_CONFIG`` naming all of them on
127.0.0.1 and its own index (worker 0 is the chief); ``ngram`` the same of
``python -m experiments.ngram`` (the shared/private n-gram model).

``tune`` starts one Keras Tuner chief (``KERASTUNER_TUNER_ID=chief``, which
only runs the oracle's gRPC server) and ``--workers`` tuners
(``tuner0``, ``tuner1``, ...) of ``python -m experiments.tune ...``, all with
``KERASTUNER_ORACLE_IP=127.0.0.1`` and ``KERASTUNER_ORACLE_PORT``.

On a real cluster you set the same variables by hand on each machine
(README, "Distribution"); this script is the one-machine
version, used by the tests. Every line a process prints is echoed with its
name in front; when one process fails the others are stopped, so a dead
peer never leaves the rest waiting forever. (It imports neither TensorFlow nor
tf_aspmtl: the launcher stays a small process beside its workers.)
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Sequence

HOST = "127.0.0.1"


def free_ports(count: int) -> list[int]:
    """``count`` distinct TCP ports that are free on this machine right now."""
    sockets, ports = [], []
    try:
        for _ in range(count):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind((HOST, 0))
            sockets.append(s)
            ports.append(s.getsockname()[1])
    finally:
        for s in sockets:
            s.close()
    return ports


def tf_config(ports: Sequence[int], index: int) -> str:
    """The ``TF_CONFIG`` of worker ``index`` in a cluster of workers on 127.0.0.1 at ``ports``."""
    return json.dumps(
        {"cluster": {"worker": [f"{HOST}:{p}" for p in ports]}, "task": {"type": "worker", "index": index}}
    )


@dataclass
class Process:
    """One launched process, its name and everything it printed."""

    name: str
    popen: subprocess.Popen
    lines: list[str] = field(default_factory=list)


def _pump(proc: Process, echo: bool) -> None:
    """Collects (and echoes, name first) every line ``proc`` prints."""
    for line in proc.popen.stdout:
        proc.lines.append(line)
        if echo:
            sys.stdout.write(f"[{proc.name}] {line}")
            sys.stdout.flush()


def run_processes(
    commands: Sequence[tuple[str, list[str], dict[str, str]]],
    timeout: float | None = None,
    echo: bool = True,
    cwd: str | None = None,
) -> list[Process]:
    """Runs ``(name, argv, extra_env)`` commands together and waits for all of them.

    When one exits with an error, or ``timeout`` seconds pass, the others are
    terminated (then killed). Returns the processes, with ``popen.returncode``
    and their output lines.
    """
    procs = []
    for name, argv, extra_env in commands:
        env = {**os.environ, "PYTHONUNBUFFERED": "1", **extra_env}
        popen = subprocess.Popen(
            argv, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1
        )
        procs.append(Process(name, popen))
    pumps = [threading.Thread(target=_pump, args=(p, echo), daemon=True) for p in procs]
    for t in pumps:
        t.start()
    deadline = None if timeout is None else time.monotonic() + timeout
    try:
        while [p.popen.poll() for p in procs].count(None):  # poll every process: each sets its returncode
            failed = [p for p in procs if p.popen.returncode not in (None, 0)]
            if failed or (deadline is not None and time.monotonic() > deadline):
                why = f"{failed[0].name} exited with {failed[0].popen.returncode}" if failed else "timeout"
                print(f"[launch] {why}; stopping the other processes", file=sys.stderr)
                break
            time.sleep(0.2)
    finally:
        _stop([p for p in procs if p.popen.poll() is None])
        for t in pumps:
            t.join(timeout=5)
    return procs


def _stop(procs: Sequence[Process]) -> None:
    """Terminates ``procs``, killing any still running after 10 s."""
    for p in procs:
        p.popen.terminate()
    for p in procs:
        try:
            p.popen.wait(timeout=10)
        except subprocess.TimeoutExpired:
            p.popen.kill()
            p.popen.wait()


TRAINING_MODULES = {"train": "experiments.train", "ngram": "experiments.ngram"}
"""The jobs that train under ``--strategy multi-worker`` and their modules."""


def train_commands(workers: int, train_args: Sequence[str], module: str = "experiments.train"
                   ) -> list[tuple[str, list[str], dict[str, str]]]:
    """The commands of a ``workers``-process MultiWorkerMirroredStrategy run of ``module`` (one of
    :data:`TRAINING_MODULES`' values: experiments.train, or experiments.ngram for the n-gram model)."""
    if workers < 1:
        raise ValueError(f"--workers must be >= 1; got {workers}")
    if module not in TRAINING_MODULES.values():
        raise ValueError(f"module must be one of {sorted(TRAINING_MODULES.values())}; got {module!r}")
    ports = free_ports(workers)
    argv = [sys.executable, "-m", module, *train_args, "--strategy", "multi-worker"]
    return [(f"worker-{i}", argv, {"TF_CONFIG": tf_config(ports, i)}) for i in range(workers)]


def tune_commands(workers: int, tune_args: Sequence[str]) -> list[tuple[str, list[str], dict[str, str]]]:
    """The commands of a Keras Tuner search with one chief and ``workers`` tuners on 127.0.0.1."""
    if workers < 1:
        raise ValueError(f"--workers must be >= 1; got {workers}")
    (port,) = free_ports(1)
    argv = [sys.executable, "-m", "experiments.tune", *tune_args]
    oracle = {"KERASTUNER_ORACLE_IP": HOST, "KERASTUNER_ORACLE_PORT": str(port)}
    commands = [("chief", argv, {**oracle, "KERASTUNER_TUNER_ID": "chief"})]
    commands += [(f"tuner{i}", argv, {**oracle, "KERASTUNER_TUNER_ID": f"tuner{i}"}) for i in range(workers)]
    return commands


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("job", choices=[*TRAINING_MODULES, "tune"])
    p.add_argument("--workers", type=int, default=2, help="worker processes (tune: besides the chief)")
    p.add_argument("--timeout", type=float, help="seconds before every process is stopped")
    p.usage = "python -m experiments.launch {train,ngram,tune} [--workers N] [--timeout S] -- ARGS OF THE JOB"
    argv = list(sys.argv[1:] if argv is None else argv)
    split = argv.index("--") if "--" in argv else len(argv)
    args, rest = p.parse_args(argv[:split]), argv[split + 1 :]
    if args.job == "tune":
        commands = tune_commands(args.workers, rest)
    else:
        commands = train_commands(args.workers, rest, module=TRAINING_MODULES[args.job])
    procs = run_processes(commands, timeout=args.timeout)
    codes = {p.name: p.popen.returncode for p in procs}
    print(f"[launch] exit codes: {codes}")
    return 0 if all(c == 0 for c in codes.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
