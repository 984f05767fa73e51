"""Shared fixtures of the tests/test_export*.py files (a pytest plugin: no tests here).

A tiny ASP-MTL trained a few steps on two real FDU-MTL tasks, and one export
of it (each task plus the multi-task model, version 1), made once per session.
"""

import dataclasses
import functools
import json
import os
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import keras
import pytest
import tensorflow as tf

from tf_aspmtl.export import exporter
from tf_aspmtl.data import load_fdu_mtl
from tf_aspmtl.data.pipeline import make_training_dataset
from tf_aspmtl.models import AdversarialSharedPrivateMTL

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TASKS = ["books", "MR"]
EXPORTED_TASKS = TASKS
CLASS_NAMES = [["negative", "positive"]] * len(TASKS)


@pytest.fixture(scope="session")
def trained_model(fdu_subset, small_vectorizer):
    """ASP-MTL (hidden 8) trained a few steps on two real tasks."""
    keras.utils.set_random_seed(0)
    train, _ = fdu_subset
    train = train[train["task"].isin(TASKS)]
    model = AdversarialSharedPrivateMTL(
        TASKS, vocabulary_size=small_vectorizer.vocabulary_size, text_vectorizer=small_vectorizer,
        embedding_dim=8, hidden_dim=8, class_names=CLASS_NAMES,
    )
    # Trained eagerly (8 steps cost less than tracing a train step: the tests only read the model), then read in
    # graphs, as everywhere else.
    model.compile(optimizer=keras.optimizers.Adam(0.02), run_eagerly=True)
    ds, _ = make_training_dataset(train, small_vectorizer, TASKS, batch_size=16)
    with warnings.catch_warnings():  # eagerly, a batch's step sees no gradient for other tasks' private encoders
        warnings.filterwarnings("ignore", "Gradients do not exist", UserWarning)
        model.fit(ds, steps_per_epoch=8, epochs=1, verbose=0)
    model.run_eagerly = False
    return model


@pytest.fixture(scope="session")
def export_base(trained_model, tmp_path_factory):
    """The base folder after one export of books and MR plus the multi-task model (version 1)."""
    base = tmp_path_factory.mktemp("exports")
    exported = exporter.export_model(trained_model, base, tasks=EXPORTED_TASKS, multitask=True)
    assert [(e.name, e.version) for e in exported] == [("books", 1), ("MR", 1), ("multitask", 1)]
    return base


@pytest.fixture(scope="session")
def fdu_test_sets():
    """The real `.task.test` texts of the exported tasks, by task."""
    frame = load_fdu_mtl(tasks=EXPORTED_TASKS, splits=("test",))
    return {task: frame[frame["task"] == task]["text"].tolist() for task in EXPORTED_TASKS}


@functools.lru_cache(maxsize=None)
def load_saved_model(path: str):
    """`tf.saved_model.load(path)`, once per path (exports are never rewritten in place)."""
    return tf.saved_model.load(path)


def load_signature(base, name, version=1):
    """The `serving_default` signature of `<base>/<name>/<version>`."""
    return load_saved_model(str(base / name / str(version))).signatures["serving_default"]


PROBES = ["a gripping , well written story .", "", "dull and far too long", "\u05d6\u05d4 \U0001F600"]
PROBE_TASKS = [TASKS[i % len(TASKS)] for i in range(len(PROBES))]

# Runs in a fresh interpreter (-I: no PYTHONPATH, no user site; cwd is a
# temporary folder) in which importing tf_aspmtl (or any of export but the
# saved_model_cli wrapper) fails. It loads each export with the TF2 API and
# with the TF1 session loader (tf.compat.v1.saved_model.load into a Session:
# what `saved_model_cli run` and TF Serving's C++ SavedModelBundle do), lists
# the ops tensorflow registers before and after `import tensorflow_text`, and
# finally runs `python -m export.saved_model_cli run ...` (via runpy), which exits.
FRESH_PROCESS = textwrap.dedent(
    """
    import json, os, sys
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"

    class Blocker:
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in ("tf_aspmtl", "tests") or (
                name.startswith("export.") and name != "export.saved_model_cli"
            ):
                raise ImportError(f"{name} is blocked in this process")
            return None

    sys.meta_path.insert(0, Blocker())
    import tensorflow as tf
    from tensorflow.core.framework import op_def_pb2
    from tensorflow.python.client import pywrap_tf_session

    def registered_ops():
        buffer = pywrap_tf_session.TF_GetAllOpList()
        op_list = op_def_pb2.OpList()
        op_list.ParseFromString(pywrap_tf_session.TF_GetBuffer(buffer))
        return {op.name for op in op_list.op}

    repo, jobs, probes, cli_argv = json.loads(sys.argv[1])
    core_ops = registered_ops()
    try:
        tf.saved_model.load(jobs[0][1])
        without_tf_text = "loaded"
    except Exception as error:
        without_tf_text = str(error).splitlines()[0]
    import tensorflow_text  # noqa: F401
    tf_text_ops = registered_ops() - core_ops
    try:
        import tf_aspmtl  # noqa: F401
        blocked = False
    except ImportError:
        blocked = True

    results = {}
    for name, path, tasks in jobs:
        feed = {"text": tf.constant(probes)}
        if tasks:
            feed["task"] = tf.constant(tasks)
        eager = tf.saved_model.load(path).signatures["serving_default"](**feed)
        with tf.compat.v1.Session(graph=tf.Graph()) as session:
            meta_graph = tf.compat.v1.saved_model.load(session, ["serve"], path)
            signature = meta_graph.signature_def["serving_default"]
            fetches = {k: v.name for k, v in signature.outputs.items()}
            feeds = {signature.inputs[k].name: v.numpy() for k, v in feed.items()}
            session_out = session.run(fetches, feeds)
        results[name] = {
            "eager": eager["probabilities"].numpy().tolist(),
            "session": session_out["probabilities"].tolist(),
            "labels": [x.decode() for x in session_out["label"]],
        }
    print("RESULT " + json.dumps({
        "blocked": blocked, "modules": sorted(m for m in sys.modules if m.startswith("tf_aspmtl")),
        "without_tf_text": without_tf_text, "core_ops": sorted(core_ops), "tf_text_ops": sorted(tf_text_ops),
        "results": results,
    }), flush=True)
    # `python -m export.saved_model_cli ARGS`, as runpy runs it; the blocker still stops the rest of export.
    import runpy
    sys.path.insert(0, repo)
    sys.argv = ["saved_model_cli", *cli_argv]
    runpy.run_module("export.saved_model_cli", run_name="__main__", alter_sys=True)
    """
)


@dataclasses.dataclass
class FreshProcess:
    """The fresh-process check, running in the background; :meth:`finish` waits for it."""

    popen: subprocess.Popen
    stdout: Path
    stderr: Path
    jobs: list
    cli_outdir: Path

    def finish(self, timeout: float = 300) -> tuple[int, str, str]:
        """(return code, stdout, stderr) once the process has exited."""
        code = self.popen.wait(timeout=timeout)
        return code, self.stdout.read_text(), self.stderr.read_text()


@pytest.fixture(scope="session")
def fresh_process(export_base, tmp_path_factory):
    """Starts FRESH_PROCESS on the exports; its ~10 s of importing TensorFlow overlaps the in-process tests."""
    folder = tmp_path_factory.mktemp("fresh_process")
    jobs = [(name, str(export_base / name / "1"), None) for name in EXPORTED_TASKS]
    jobs.append(("multitask", str(export_base / "multitask" / "1"), PROBE_TASKS))
    cli_outdir = folder / "cli_outputs"
    cli_argv = ["run", "--dir", jobs[-1][1], "--tag_set", "serve", "--signature_def", "serving_default",
                "--input_exprs", f"text={PROBES!r};task={PROBE_TASKS!r}", "--outdir", str(cli_outdir)]
    script = folder / "fresh.py"
    script.write_text(FRESH_PROCESS)
    stdout, stderr = folder / "stdout.txt", folder / "stderr.txt"
    with open(stdout, "w") as out, open(stderr, "w") as err:
        popen = subprocess.Popen(
            [sys.executable, "-I", str(script), json.dumps([REPO, jobs, PROBES, cli_argv])],
            cwd=folder, stdout=out, stderr=err, text=True,
        )
    handle = FreshProcess(popen, stdout, stderr, jobs, cli_outdir)
    yield handle
    if popen.poll() is None:
        popen.kill()
        popen.wait()
