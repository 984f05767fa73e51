"""Word n-gram features beside character n-gram features, the characters' scaled by a weight: one sparse row."""

from __future__ import annotations

import math
from typing import Sequence

import keras
import numpy as np
import tensorflow as tf

from tf_aspmtl.preprocessing.ngram_features import NgramFeatures


@keras.saving.register_keras_serializable(package="tf_aspmtl")
class NgramFeatureUnion(keras.layers.Layer):
    """The columns of a word :class:`NgramFeatures` followed by those of a character one, times ``character_weight``.

    Each block is weighted and normalised on its own (each row of unit L2 norm before any NB scaling), then the
    character block is scaled by ``character_weight``: below 1, the word n-grams lead and the character n-grams
    (``analyzer="char_wb"``: stems, misspellings, suffixes the words split apart) add what they miss. The output is
    one ``tf.SparseTensor`` float32 ``[batch, words.vocabulary_size + characters.vocabulary_size]``, the input of
    :class:`tf_aspmtl.models.SharedPrivateNgramClassifier` in place of a single :class:`NgramFeatures`, computed in
    the graph from raw text (so a saved or served model computes it too).

    Args:
        words: a word :class:`NgramFeatures` (``analyzer="word"``).
        characters: a character :class:`NgramFeatures` (``analyzer="char_wb"``) of the same ``weighting``.
        character_weight: float > 0. The character block's scale against the words'.

    Example:
    >>> union = NgramFeatureUnion(NgramFeatures(max_features=20),
    ...                           NgramFeatures(max_features=40, ngrams=3, min_ngram=2, analyzer="char_wb"), 0.5)
    >>> union.adapt(["a good book", "a bad book"])
    >>> x = union(tf.constant(["a good read"]))
    >>> x.dense_shape.numpy().tolist() == [1, union.vocabulary_size], union.vocabulary_size > 20
    (True, True)
    """

    def __init__(self, words: NgramFeatures, characters: NgramFeatures, character_weight: float = 0.15, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(words, NgramFeatures) or words.analyzer != "word":
            raise ValueError(f"words must be an NgramFeatures of analyzer 'word'; got {words!r}")
        if not isinstance(characters, NgramFeatures) or characters.analyzer != "char_wb":
            raise ValueError(f"characters must be an NgramFeatures of analyzer 'char_wb'; got {characters!r}")
        if characters.weighting != words.weighting:
            raise ValueError(f"both blocks need the same weighting; got {words.weighting!r} (words) and "
                             f"{characters.weighting!r} (characters)")
        if isinstance(character_weight, bool) or not isinstance(character_weight, (int, float)) \
                or not math.isfinite(character_weight) or character_weight <= 0:
            raise ValueError(f"character_weight must be a finite number > 0; got {character_weight!r}")
        self.words, self.characters = words, characters
        self.character_weight = float(character_weight)

    @property
    def adapted(self) -> bool:
        return self.words.adapted and self.characters.adapted

    @property
    def vocabulary_size(self) -> int | None:
        """Columns of both blocks (each block's unknown column included); None before :meth:`adapt`."""
        if not self.adapted:
            return None
        return self.words.vocabulary_size + self.characters.vocabulary_size

    @property
    def weighting(self) -> str:
        return self.words.weighting

    @property
    def ngrams(self) -> int:
        """The words' longest n-gram (what the model's serving info reports)."""
        return self.words.ngrams

    def adapt(self, texts: Sequence[str] | np.ndarray, labels: Sequence[int] | np.ndarray | None = None,
              batch_size: int = 512) -> None:
        """Learns both blocks from ``texts`` (training rows only; ``labels`` for ``weighting="nb"``)."""
        self.words.adapt(texts, labels=labels, batch_size=batch_size)
        self.characters.adapt(texts, labels=labels, batch_size=batch_size)
        self.built = True

    def build(self, input_shape=None):
        self.built = True

    def call(self, texts):
        if not self.adapted:
            raise ValueError(f"{self.name} has no vocabulary yet: call adapt(train_texts) first")
        characters = self.characters(texts)
        scaled = tf.SparseTensor(characters.indices, characters.values * self.character_weight,
                                 characters.dense_shape)
        return tf.sparse.concat(axis=1, sp_inputs=[self.words(texts), scaled])

    def compute_output_spec(self, texts):
        return keras.KerasTensor((texts.shape[0], self.vocabulary_size), dtype="float32", sparse=True)

    def get_config(self):
        config = super().get_config()
        config.update({"words": keras.saving.serialize_keras_object(self.words),
                       "characters": keras.saving.serialize_keras_object(self.characters),
                       "character_weight": self.character_weight})
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for name in ("words", "characters"):
            config[name] = keras.saving.deserialize_keras_object(config[name])
        return cls(**config)
