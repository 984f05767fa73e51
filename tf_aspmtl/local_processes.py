"""Several processes of one job on this machine (a multi-worker run, a distributed search), started and stopped
together: each line they print is collected and echoed with the process's name; when one fails, or the time is up,
the others are stopped, so a dead peer never leaves the rest waiting forever."""

from __future__ import annotations

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
