"""``saved_model_cli`` with the TensorFlow Text ops registered.

Stock ``saved_model_cli`` cannot run our exports: their graphs hold TF Text
ops (``NormalizeUTF8``, ``CaseFoldUTF8``,
``TFText>WhitespaceTokenizeWithOffsetsV2``) that only ``import
tensorflow_text`` registers. This wrapper imports it, then hands the command
line, unchanged, to TensorFlow's own ``saved_model_cli``. ``run`` loads the
SavedModel with the TF1 session loader (``tf.compat.v1.saved_model.load``
into a ``Session``), the path TF Serving's C++ ``SavedModelBundle`` loader
takes, so it catches what the TF2 Python loader forgives.

Usage (any ``saved_model_cli`` command and flag)::

    python -m export.saved_model_cli run --dir exports/books/1 --tag_set serve \\
        --signature_def serving_default --input_exprs 'text=["a gripping story", ""]'
    python -m export.saved_model_cli show --dir exports/books/1 --all
"""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> None:
    """Runs ``saved_model_cli`` on ``argv`` (default ``sys.argv[1:]``) with TF Text ops registered."""
    import tensorflow_text  # noqa: F401  (registers the TF Text ops)
    from tensorflow.python.tools import saved_model_cli

    if argv is not None:
        sys.argv = ["saved_model_cli", *argv]
    else:
        sys.argv = ["saved_model_cli", *sys.argv[1:]]
    saved_model_cli.main()


if __name__ == "__main__":
    main()
