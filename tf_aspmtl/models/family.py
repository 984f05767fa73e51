"""The base of the model families: a :class:`MultiTaskClassifier` whose encoder switches are fixed."""

from __future__ import annotations

from tf_aspmtl.models.multitask_classifier import MultiTaskClassifier

_FIXED = ("use_shared", "use_private")


class _Family(MultiTaskClassifier):
    """A family fixes which encoders exist; its config omits those two switches (and nothing else)."""

    use_private_encoders = False

    def __init__(self, preprocessor=None, **kwargs):
        for key in _FIXED:
            if key in kwargs:
                raise ValueError(f"{type(self).__name__} fixes {key}; use MultiTaskClassifier to choose it.")
        super().__init__(preprocessor, use_shared=True, use_private=self.use_private_encoders, **kwargs)

    def get_config(self):
        config = super().get_config()
        for key in _FIXED:
            config.pop(key, None)
        return config
