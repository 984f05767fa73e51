"""Start a multi-process training run or tuning search on this machine.

    python -m experiments.launch train --workers 2 -- --model asp-mtl --tasks books,dvd
    python -m experiments.launch tune --workers 2 -- --tuner random --trials 8 --tasks books,dvd

``train`` starts ``--workers`` copies of ``python -m experiments.train ...
--strategy multi-worker``, each with a ``TF_CONFIG`` naming all of them on
127.0.0.1 and its own index (worker 0 is the chief).

``tune`` starts one Keras Tuner chief (``KERASTUNER_TUNER_ID=chief``, which
only runs the oracle's gRPC server) and ``--workers`` tuners
(``tuner0``, ``tuner1``, ...) of ``python -m experiments.tune ...``, all with
``KERASTUNER_ORACLE_IP=127.0.0.1`` and ``KERASTUNER_ORACLE_PORT``.

On a real cluster you set the same variables by hand on each machine
(README, "Distribution"); this script is the one-machine
version, used by the tests; :func:`tf_aspmtl.local_processes.run_processes` runs
the processes (every line echoed with its process's name; one fails, the others stop).
"""

from __future__ import annotations

import argparse
import sys
from typing import Sequence

from tf_aspmtl.local_processes import HOST, free_ports, run_processes, tf_config

__all__ = ["main", "run_processes", "tf_config", "train_commands", "tune_commands"]


def train_commands(workers: int, train_args: Sequence[str]) -> list[tuple[str, list[str], dict[str, str]]]:
    """The commands of a ``workers``-process MultiWorkerMirroredStrategy run of experiments.train."""
    if workers < 1:
        raise ValueError(f"--workers must be >= 1; got {workers}")
    ports = free_ports(workers)
    argv = [sys.executable, "-m", "experiments.train", *train_args, "--strategy", "multi-worker"]
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
    p.add_argument("job", choices=["train", "tune"])
    p.add_argument("--workers", type=int, default=2, help="worker processes (tune: besides the chief)")
    p.add_argument("--timeout", type=float, help="seconds before every process is stopped")
    p.usage = "python -m experiments.launch {train,tune} [--workers N] [--timeout S] -- ARGS OF THE JOB"
    argv = list(sys.argv[1:] if argv is None else argv)
    split = argv.index("--") if "--" in argv else len(argv)
    args, rest = p.parse_args(argv[:split]), argv[split + 1 :]
    make = train_commands if args.job == "train" else tune_commands
    procs = run_processes(make(args.workers, rest), timeout=args.timeout)
    codes = {p.name: p.popen.returncode for p in procs}
    print(f"[launch] exit codes: {codes}")
    return 0 if all(c == 0 for c in codes.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
