"""experiments.launch: several processes of one job, stopped together when one fails."""

import json
import sys
import time

from experiments.launch import free_ports, run_processes, tf_config


def test_a_failing_process_stops_the_others_and_every_line_is_kept():
    started = time.monotonic()
    procs = run_processes([("sleeper", [sys.executable, "-c", "import time; time.sleep(60)"], {}),
                           ("failer", [sys.executable, "-c", "import sys; print('bye'); sys.exit(3)"], {})],
                          timeout=30, echo=False)
    codes = {p.name: p.popen.returncode for p in procs}
    assert codes["failer"] == 3 and codes["sleeper"] != 0 and time.monotonic() - started < 30
    assert procs[1].lines == ["bye\n"]


def test_tf_config_names_every_worker_and_its_own_index():
    ports = free_ports(2)
    assert len(set(ports)) == 2
    config = json.loads(tf_config(ports, 1))
    assert config == {"cluster": {"worker": [f"127.0.0.1:{p}" for p in ports]}, "task": {"type": "worker", "index": 1}}
