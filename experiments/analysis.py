"""Do the adversarial and difference terms change the features? And which words move them?

    python -m experiments.analysis --model sp-mtl=runs/tables/sp_mtl_seed1/model/model.keras \\
        --model asp-mtl=runs/main-job/model/model.keras

For each trained model (16 FDU-MTL tasks), on frozen features:

* **task readability of the shared space**: a fresh linear probe (logistic
  regression) learns the task of a review from its shared feature on
  training reviews (up to ``--probe-rows`` per task) and is scored on the
  test reviews; chance is 1/16. A task-invariant shared space gives a low score.
* **the model's own discriminator** accuracy on the test reviews (ASP-MTL).
* **orthogonality**: mean |cosine| between each test review's shared and
  private feature (0 = orthogonal).

Then the paper's qualitative point: test reviews where the two models
disagree and the second model (ASP-MTL) is right, and for a few of them the
words that move the shared and the private feature most (occlusion: the
distance a feature moves when the word is removed). Writes
``experiments/results/analysis.{json,md}`` and ``analysis_words.png``.
Test rows are only read to report, never to fit anything.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

import tf_aspmtl  # noqa: F401  (registers the classes for safe loading)
from experiments.provenance import REPO_ROOT, command_line, provenance, write_atomic, write_json
from tf_aspmtl.data import load_fdu_mtl

logger = logging.getLogger("experiments.analysis")
RESULTS = REPO_ROOT / "experiments" / "results"


def features(model, frame, batch_size: int = 128) -> dict[str, np.ndarray]:
    """Shared and private features [rows, dim] of ``frame``'s rows, each through its own task's encoders."""
    vectorizer = model.preprocessor.text_vectorizer
    out: dict[str, list[np.ndarray]] = {"shared": [], "private": []}
    order = []
    for k, task in enumerate(model.task_names):
        rows = frame.index[frame["task"] == task]
        order += list(rows)
        texts = frame.loc[rows, "text"].tolist()
        for start in range(0, len(texts), batch_size):
            ids = vectorizer(tf.constant(texts[start:start + batch_size]))
            f = model.backbone.task_features(ids, k)
            for key in out:
                if key in f:
                    out[key].append(f[key].numpy())
    position = {row: i for i, row in enumerate(order)}
    back = np.array([position[row] for row in frame.index])
    return {k: np.concatenate(v)[back] for k, v in out.items() if v}


def probe_accuracy(train_x, train_y, test_x, test_y) -> float:
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    scaler = StandardScaler().fit(train_x)
    probe = LogisticRegression(max_iter=2000).fit(scaler.transform(train_x), train_y)
    return float(probe.score(scaler.transform(test_x), test_y))


def mean_abs_cosine(a: np.ndarray, b: np.ndarray) -> float:
    a = a / np.maximum(np.linalg.norm(a, axis=1, keepdims=True), 1e-12)
    b = b / np.maximum(np.linalg.norm(b, axis=1, keepdims=True), 1e-12)
    return float(np.mean(np.abs(np.sum(a * b, axis=1))))


def occlusion(model, text: str, task: str) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Each token's effect on the shared and on the private feature: the distance each moves without it."""
    vectorizer = model.preprocessor.text_vectorizer
    ids = vectorizer(tf.constant([text])).numpy()[0]
    ids = ids[ids != 0]
    vocabulary = vectorizer.get_vocabulary()
    words = [vocabulary[i] for i in ids]
    variants = [ids] + [np.delete(ids, i) for i in range(len(ids))]
    width = max(len(v) for v in variants)
    batch = np.zeros((len(variants), width), dtype=np.int32)
    for r, v in enumerate(variants):
        batch[r, : len(v)] = v
    f = model.backbone.task_features(tf.constant(batch), model.task_id(task))
    shared = f["shared"].numpy()
    private = f["private"].numpy() if "private" in f else np.zeros_like(shared)
    return words, np.linalg.norm(shared[1:] - shared[0], axis=1), np.linalg.norm(private[1:] - private[0], axis=1)


def plot_words(examples: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = sum(2 for _ in examples)
    fig, axes = plt.subplots(rows, 1, figsize=(14, 0.9 * rows + 0.5))
    axes = np.atleast_1d(axes)
    for e, example in enumerate(examples):
        for j, key in enumerate(("shared", "private")):
            ax = axes[2 * e + j]
            ax.axis("off")
            scores = np.asarray(example[f"{key}_occlusion"])
            top = scores.max() or 1.0
            x = 0.0
            ax.text(-0.01, 0.5, f"{example['model']}, {example['task']}: {key}", ha="right", va="center",
                    fontsize=8, transform=ax.transAxes)
            for word, score in list(zip(example["words"], scores))[:40]:
                ax.text(x, 0.5, word, fontsize=8, va="center", transform=ax.transAxes,
                        bbox={"facecolor": plt.cm.Reds(0.85 * score / top), "edgecolor": "none", "pad": 1})
                x += 0.0085 * (len(word) + 2)
    fig.suptitle("Words that move each feature most when removed (darker = larger move); SP-MTL vs ASP-MTL disagree, "
                 "ASP-MTL right", fontsize=9)
    fig.tight_layout()
    tmp = path.with_name(f".{path.name}.part.png")
    fig.savefig(tmp, dpi=100, bbox_inches="tight")
    plt.close(fig)
    tmp.replace(path)


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", action="append", help="NAME=PATH of a .keras model (twice: SP then ASP)")
    p.add_argument("--replot", action="store_true", help="only redraw the word plot from <output>.json")
    p.add_argument("--probe-rows", type=int, default=400, help="training reviews per task for the probe")
    p.add_argument("--examples", type=int, default=4)
    p.add_argument("--data-dir")
    p.add_argument("--output", default=str(RESULTS / "analysis"), help="output prefix")
    args = p.parse_args(argv)
    if args.replot:
        import json

        plot_words(json.loads(Path(f"{args.output}.json").read_text())["examples"], Path(f"{args.output}_words.png"))
        return 0
    if not args.model:
        p.error("--model NAME=PATH is required (twice: SP-MTL, then ASP-MTL)")
    named = [m.split("=", 1) for m in args.model]
    models = {name: keras.models.load_model(path, safe_mode=True) for name, path in named}
    tasks = next(iter(models.values())).task_names
    data = load_fdu_mtl(args.data_dir, tasks=tasks, splits=("train", "test"))
    train = data[data["split"] == "train"].groupby("task", sort=False).head(args.probe_rows)
    test = data[data["split"] == "test"]
    task_index = {t: i for i, t in enumerate(tasks)}
    report: dict[str, Any] = {"models": {n: str(pth) for n, pth in named}, "chance": 1.0 / len(tasks), "per_model": {}}
    predictions = {}
    for name, model in models.items():
        train_f, test_f = features(model, train), features(model, test)
        entry: dict[str, Any] = {"class": type(model).__name__}
        y_train, y_test = train["task"].map(task_index).to_numpy(), test["task"].map(task_index).to_numpy()
        entry["probe_task_accuracy_shared"] = probe_accuracy(train_f["shared"], y_train, test_f["shared"], y_test)
        if "private" in test_f:
            entry["probe_task_accuracy_private"] = probe_accuracy(train_f["private"], y_train, test_f["private"], y_test)
            entry["mean_abs_cosine_shared_private"] = mean_abs_cosine(test_f["shared"], test_f["private"])
        if model.discriminator is not None:
            logits = model.discriminator(tf.constant(test_f["shared"])).numpy()
            entry["discriminator_accuracy"] = float(np.mean(logits.argmax(axis=1) == y_test))
        probs = model.predict({"text": test["text"].tolist(), "task": test["task"].tolist()}, verbose=0)
        predictions[name] = probs.argmax(axis=1)
        entry["test_error"] = float(100 * np.mean(predictions[name] != test["label"].to_numpy()))
        report["per_model"][name] = entry
        logger.info("%s: %s", name, entry)
    first, second = list(models)[:2] if len(models) >= 2 else (None, None)
    examples = []
    if second:
        truth = test["label"].to_numpy()
        wins = np.flatnonzero((predictions[first] != predictions[second]) & (predictions[second] == truth))
        losses = np.flatnonzero((predictions[first] != predictions[second]) & (predictions[first] == truth))
        report["disagreements"] = {"second_right": int(len(wins)), "first_right": int(len(losses))}
        short = sorted(wins, key=lambda i: len(test["text"].iloc[i]))[: args.examples]
        for i in short:
            row = test.iloc[i]
            for name in (first, second):
                words, s_occ, p_occ = occlusion(models[name], row["text"], row["task"])
                examples.append({"model": name, "task": row["task"], "label": int(row["label"]), "words": words,
                                 "shared_occlusion": s_occ.tolist(), "private_occlusion": p_occ.tolist()})
        if examples:
            plot_words(examples, Path(f"{args.output}_words.png"))
    report["examples"] = examples
    report.update(provenance(command_line("experiments.analysis", argv)))
    write_json(Path(f"{args.output}.json"), report)
    write_atomic(Path(f"{args.output}.md"), markdown(report))
    print(markdown(report))
    return 0


def markdown(report: dict[str, Any]) -> str:
    lines = ["# Do the terms change the features? (16 FDU-MTL tasks, test reviews)", "",
             f"Made by `{report['command']}`. Probe: logistic regression from frozen features to the task, fitted "
             f"on training reviews, scored on test reviews (chance {100 * report['chance']:.1f} %).", "",
             "| model | test error % | probe on shared: task accuracy % | probe on private % | discriminator "
             "accuracy % | mean abs cosine(shared, private) |", "|---|---:|---:|---:|---:|---:|"]
    for name, e in report["per_model"].items():
        def pct(key):
            return f"{100 * e[key]:.1f}" if key in e else "–"
        cos = f"{e['mean_abs_cosine_shared_private']:.3f}" if "mean_abs_cosine_shared_private" in e else "–"
        lines.append(f"| {name} | {e['test_error']:.2f} | {pct('probe_task_accuracy_shared')} | "
                     f"{pct('probe_task_accuracy_private')} | {pct('discriminator_accuracy')} | {cos} |")
    if "disagreements" in report:
        d = report["disagreements"]
        lines += ["", f"Test reviews where the two models disagree: the second is right on {d['second_right']}, "
                  f"the first on {d['first_right']}."]
    for e in report["examples"]:
        top_s = [w for _, w in sorted(zip(e["shared_occlusion"], e["words"]), reverse=True)[:5]]
        top_p = [w for _, w in sorted(zip(e["private_occlusion"], e["words"]), reverse=True)[:5]]
        lines.append(f"- {e['model']}, {e['task']} (label {e['label']}): shared moved most by {top_s}; private by {top_p}")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
