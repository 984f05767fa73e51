"""A finished search's files: every trial (CSV), dev accuracy against lambda and gamma (PNG), the best trial as a
training config and the outcome (JSON)."""

from __future__ import annotations

import io
import logging
import os
from pathlib import Path
from typing import Any, Mapping, NamedTuple, Sequence

import pandas as pd

from tf_aspmtl.io_utils import write_bytes_atomic, write_json_atomic, write_text_atomic
from tf_aspmtl.training.train_config import TrainConfig
from tf_aspmtl.tuning.aspmtl_hypermodel import PAPER_LOSS_WEIGHTS
from tf_aspmtl.tuning.trial_report import best_train_config, json_ready, search_summary, trials_frame

logger = logging.getLogger("tf_aspmtl.tuning")


class SearchFiles(NamedTuple):
    """Where one copy of a search's outcome goes."""

    trials_csv: Path
    trials_png: Path
    best_config: Path
    summary: Path


def write_search_files(tuner, base: TrainConfig, settings: Mapping[str, Any], reference: Mapping[str, Any] | None,
                       targets: Sequence[SearchFiles], title: str, made_by: Mapping[str, Any]) -> dict[str, Any]:
    """Writes every target's trials CSV and PNG, best config and summary; returns the summary.

    Args:
        tuner: the search's tuner (its ``oracle`` holds the trials).
        base: the config the best trial's hyperparameters are set into (:func:`best_train_config`).
        settings: the search's settings; its ``searched`` names the hyperparameters reported.
        reference: the reference trial's hyperparameter values (the paper's point), or None.
        targets: the copies to write.
        title: the plot's title.
        made_by: fields added to the summary (at least ``command`` and ``commit``, which the best config records).
    """
    frame = trials_frame(tuner.oracle, reference)
    best_trials = [t for t in tuner.oracle.get_best_trials(1) if t.status == "COMPLETED"]
    best_config = best_train_config(base, best_trials[0].hyperparameters.values) if best_trials else None
    record = json_ready({**search_summary(frame, settings, best_config), **made_by})
    for target in targets:
        write_text_atomic(target.trials_csv, frame.to_csv(index=False))
        plot_trials(frame, target.trials_png, title)
        if best_config is not None:
            provenance = {"command": record["command"], "commit": record["commit"], "summary": str(target.summary)}
            write_json_atomic(target.best_config, json_ready({**best_config, "provenance": provenance}))
        write_json_atomic(target.summary, record)
        logger.info("wrote %s", ", ".join(map(str, target)))
    return record


WEIGHT_RANGE = (7e-4, 1.4)  # axis limits around the searched 1e-3 .. 1


def plot_trials(frame: pd.DataFrame, path: str | os.PathLike, title: str = "") -> None:
    """A PNG of dev accuracy against lambda and gamma (log scales), written atomically.

    Left: the (lambda, gamma) plane, colour = mean dev accuracy; the paper's
    point is a star, the best trial is ringed. Middle and right: dev accuracy
    against lambda and against gamma. Families without lambda and gamma get
    dev accuracy against the trial number.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    done = frame[frame["status"] == "COMPLETED"].dropna(subset=["objective"])
    has_weights = {"adversarial_weight", "difference_weight"} <= set(frame.columns)
    if has_weights:
        fig, axes = plt.subplots(1, 3, figsize=(15, 5), constrained_layout=True)
        plane, by_lambda, by_gamma = axes
        acc = 100.0 * done["objective"].astype(float)
        sc = plane.scatter(done["adversarial_weight"], done["difference_weight"], c=acc, cmap="viridis", s=60,
                           edgecolors="k", linewidths=0.4)
        fig.colorbar(sc, ax=plane, label="mean dev accuracy (%)")
        plane.scatter([PAPER_LOSS_WEIGHTS["adversarial_weight"]], [PAPER_LOSS_WEIGHTS["difference_weight"]],
                      marker="*", s=320, facecolors="none", edgecolors="red", linewidths=1.5,
                      label="paper: lambda 0.05, gamma 0.01")
        if len(done):
            best = done.loc[done["objective"].astype(float).idxmax()]
            plane.scatter([best["adversarial_weight"]], [best["difference_weight"]], s=260, facecolors="none",
                          edgecolors="orange", linewidths=2, label=f"best: trial {best['trial_id']}")
        plane.set(xscale="log", yscale="log", xlabel="lambda (adversarial_weight)", xlim=WEIGHT_RANGE,
                  ylim=WEIGHT_RANGE, ylabel="gamma (difference_weight)", title="trials in the (lambda, gamma) plane")
        _decades(plane.xaxis)
        _decades(plane.yaxis)
        plane.legend(loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=2, fontsize=8)
        for ax, column, name, paper in (
            (by_lambda, "adversarial_weight", "lambda", PAPER_LOSS_WEIGHTS["adversarial_weight"]),
            (by_gamma, "difference_weight", "gamma", PAPER_LOSS_WEIGHTS["difference_weight"]),
        ):
            ref = done[done.get("is_reference", False) == True]  # noqa: E712
            ax.scatter(done[column], acc, s=40, edgecolors="k", linewidths=0.4)
            if len(ref):
                ax.scatter(ref[column], 100.0 * ref["objective"].astype(float), marker="*", s=300, color="red",
                           label="paper's point")
                ax.legend(loc="best", fontsize=8)
            ax.axvline(paper, color="red", lw=0.8, ls=":")
            ax.set(xscale="log", xlabel=f"{name} ({column})", ylabel="mean dev accuracy (%)", xlim=WEIGHT_RANGE,
                   title=f"dev accuracy against {name}")
            _decades(ax.xaxis)
    else:
        fig, ax = plt.subplots(figsize=(7, 4.6), constrained_layout=True)
        ax.plot(range(len(done)), 100.0 * done["objective"].astype(float), "o")
        ax.set(xlabel="trial", ylabel="mean dev accuracy (%)", title="dev accuracy by trial")
        ax.set_xticks(range(len(done)), done["trial_id"], rotation=90)
    if title:
        fig.suptitle(title, fontsize=9)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_bytes_atomic(path, buffer.getvalue())
    plt.close(fig)


def _decades(axis) -> None:
    """Ticks at powers of ten, no minor labels."""
    from matplotlib.ticker import LogLocator, NullFormatter

    axis.set_major_locator(LogLocator(base=10))
    axis.set_minor_formatter(NullFormatter())

