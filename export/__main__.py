"""Command line: ``python -m export --model PATH.keras --output BASE [--tasks a,b] [--version N] [--multitask]``.

Parses the arguments and calls :func:`tf_aspmtl.export.export_model`, which does the work.
"""

from __future__ import annotations

import argparse
import os
import sys

from tf_aspmtl.export.model_config import CONFIG_FILE, DEFAULT_SERVING_BASE


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m export",
        description=(
            "Export a trained tf_aspmtl model for TensorFlow Serving: one SavedModel per task at "
            "BASE/<name>/<version>/ (raw text in; probabilities, label_id, label out), "
            f"plus BASE/{CONFIG_FILE}."
        ),
    )
    parser.add_argument("--model", required=True, help="the trained model, a .keras file written by model.save")
    parser.add_argument("--output", required=True, help="base folder TF Serving watches (one folder per model)")
    parser.add_argument("--tasks", help="comma-separated tasks to export (default: every task of the model)")
    parser.add_argument("--version", type=int, help="version number (default: the next free one); never overwrites")
    parser.add_argument("--multitask", action="store_true",
                        help="also export one multi-task SavedModel (inputs text and task)")
    parser.add_argument("--multitask-name", default="multitask", help="model name of the multi-task export")
    parser.add_argument("--prefix", default="", help="prefix of every model name, e.g. 'asp_' -> asp_books")
    parser.add_argument("--serving-base", default=DEFAULT_SERVING_BASE,
                        help=f"BASE as the server sees it, for {CONFIG_FILE} (default: %(default)s, the docker mount)")
    parser.add_argument("--no-check", action="store_true",
                        help="skip loading each export back and comparing it with the Keras model")
    parser.add_argument("--no-calibration", action="store_true",
                        help="serve the model's raw probabilities even when it has per-task temperatures "
                             "(model.calibrate); the labels are the same either way")
    parser.add_argument("--chunk-rows", type=int,
                        help="rows per length-sorted chunk in the served graph; 0 runs each batch as one "
                             "(default: tf_aspmtl.serving.DEFAULT_CHUNK_ROWS, 16)")
    parser.add_argument("--no-warmup", action="store_true", help="write no TF Serving warm-up requests")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from tf_aspmtl.export import export_model

    tasks = None if args.tasks is None else [t.strip() for t in args.tasks.split(",") if t.strip()]
    chunking = {} if args.chunk_rows is None else {"chunk_rows": args.chunk_rows or None}
    chunking["calibrated"] = not args.no_calibration
    try:
        exported = export_model(
            args.model,
            args.output,
            tasks=tasks,
            version=args.version,
            multitask=args.multitask,
            multitask_name=args.multitask_name,
            prefix=args.prefix,
            serving_base=args.serving_base,
            check=not args.no_check,
            warmup_requests=not args.no_warmup,
            **chunking,
        )
    except (ValueError, OSError) as error:  # named: bad input, a damaged file, a full disk
        print(f"python -m export: error: {error}", file=sys.stderr)
        return 2
    for item in exported:
        print(f"{item.name}: version {item.version} at {item.path} (TF Text ops: {', '.join(item.tf_text_ops)})")
    print(f"TF Serving config: {os.path.join(os.path.abspath(args.output), CONFIG_FILE)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
