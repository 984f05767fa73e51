"""tf-aspmtl: adversarial shared-private multi-task text classification in Keras."""

__version__ = "0.1.0"
