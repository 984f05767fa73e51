"""experiments.launch: several processes of one job, stopped together when one fails."""

import json
import sys
import time

import pytest

from experiments.launch import free_ports, run_processes, tf_config, train_commands


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


def test_train_commands_start_the_asked_module_under_multi_worker():
    for module in ("experiments.train", "experiments.ngram"):
        commands = train_commands(2, ["--epochs", "1"], module=module)
        assert [name for name, _, _ in commands] == ["worker-0", "worker-1"]
        assert all(argv[1:] == ["-m", module, "--epochs", "1", "--strategy", "multi-worker"] for _, argv, _ in commands)
        assert [json.loads(env["TF_CONFIG"])["task"]["index"] for _, _, env in commands] == [0, 1]
    assert train_commands(1, [])[0][1][2] == "experiments.train"  # the default: the existing callers'
    with pytest.raises(ValueError, match="module must be one of"):
        train_commands(2, [], module="experiments.tune")
