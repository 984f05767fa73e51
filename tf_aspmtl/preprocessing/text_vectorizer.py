"""In-graph text standardisation, tokenisation and vocabulary lookup.

Everything on the call path is a TensorFlow graph op (`tf.strings` and
`tensorflow_text`), so the layer runs inside `tf.data` pipelines and inside
SavedModels served by TF Serving; no `tf.py_function` anywhere.
"""

from __future__ import annotations

import collections
import os

import keras
import tensorflow as tf

from tf_aspmtl.preprocessing.tokenizer import tokenize
from tf_aspmtl.preprocessing.vocabulary_file import read_vocabulary_file

PADDING_TOKEN = ""
OOV_TOKEN = "[UNK]"
TRUNCATIONS = ("head", "tail", "head+tail")
"""Values of `TextVectorizer(truncation=...)`: which tokens a text longer than `max_length` keeps."""

# Traced once per process and shared by every `adapt` call.
_tokenize_batch = tf.function(
    tokenize, input_signature=[tf.TensorSpec([None], tf.string)]
)


def _as_string_dataset(data, batch_size: int) -> tf.data.Dataset:
    """Turns `adapt` input into a dataset of rank-1 tf.string batches."""
    if not isinstance(data, tf.data.Dataset):
        data = tf.data.Dataset.from_tensor_slices(
            tf.reshape(tf.convert_to_tensor(data, dtype=tf.string), [-1])
        )
    spec = data.element_spec
    if not isinstance(spec, tf.TensorSpec) or spec.dtype != tf.string:
        raise ValueError(
            "`adapt` expects strings (a list, array, tf.Tensor or a "
            f"tf.data.Dataset of tf.string); got element_spec={spec!r}"
        )
    if spec.shape.rank == 0:
        data = data.batch(batch_size)
    return data.map(lambda x: tf.reshape(x, [-1]))


class _VocabularyLookup(keras.layers.StringLookup):
    """`StringLookup` whose `.keras` asset is a fallback for the config.

    `TextVectorizer.get_config()` carries the vocabulary, so by the time
    Keras loads the assets of a `.keras` file the layer rebuilt from that
    config already holds it, and setting it again from the asset is skipped.
    The asset `vocabulary.txt` is still written, and still read for files
    whose config has `vocabulary=None` (saved before the config carried it).
    """

    def load_assets(self, dir_path):
        with tf.init_scope():
            has_vocabulary = int(self.lookup_table.size()) > 0
        if has_vocabulary or dir_path is None:  # None: saved never adapted (a model fed prepared token ids)
            return
        super().load_assets(dir_path)


@keras.saving.register_keras_serializable(package="tf_aspmtl")
class TextVectorizer(keras.layers.Layer):
    """Maps raw strings to padded int32 token ids, entirely in the graph.

    Text is standardised and split by `tokenize` (GloVe 6B-style tokens such
    as "do n't", "it 's", "good ."), looked up in a vocabulary held by a
    `keras.layers.StringLookup` sub-layer, truncated to `max_length` tokens
    (which ones: `truncation`) and right-padded with 0. Id 0 is padding, id 1 is out-of-vocabulary and
    real words start at 2, most frequent first.

    `get_config()` carries the vocabulary (adapted or given) as a list of
    str, the tokens from id 2 on, like `keras.layers.StringLookup` does, so
    `TextVectorizer.from_config(layer.get_config())` maps text to the same
    ids. `.keras` files hold it in that config and also as the
    StringLookup's asset `vocabulary.txt`, which is read only for files
    whose config has no vocabulary (written by earlier versions).
    `tf.saved_model.save` / `model.export` serialise the lookup table (keys
    and values become constants of the SavedModel graph, restored with the
    table).

    The layer's dtype policy is "int32", the dtype of its output (as
    `keras.layers.TextVectorization` has "int64"), so no float policy, mixed
    or not, applies to it.

    Shape contract: a rank-0 tf.string gives int32 ids of shape [L]; a rank-1
    [batch] (or [batch, 1]) tf.string gives int32 ids of shape [batch, L]
    with L = min(longest text in the batch, max_length). An empty string
    gives an all-padding row; a batch of only empty strings gives
    [batch, 0].

    Args:
        max_length: int. Maximum number of tokens kept per text.
        truncation: str. Which tokens a longer text keeps: "head" (the first
            `max_length`, the default), "tail" (the last `max_length`, where
            reviews tend to give their verdict) or "head+tail" (the first
            quarter of `max_length` and the last three quarters, the split
            Sun et al. 2019 found best for long reviews). Texts of at most
            `max_length` tokens are kept whole in every mode.
        max_tokens: int or None. Maximum vocabulary size, including the
            padding and OOV entries. None means no limit.
        min_count: int. Tokens seen fewer times during `adapt` are dropped.
        vocabulary: list of str, path of a text file with one token per
            line (see `set_vocabulary`), or None (then call `adapt`). A
            leading `["", "[UNK]"]` (as returned by `get_vocabulary()`) is
            accepted and skipped. The config holds the list of tokens, even
            if a path was given.
        **kwargs: standard `keras.layers.Layer` arguments (name, ...).
            `dtype` defaults to "int32".

    Example:

    >>> vectorizer = TextVectorizer(max_length=4)
    >>> vectorizer.adapt(["a good book .", "a bad book"])
    >>> vectorizer.get_vocabulary()
    ['', '[UNK]', 'a', 'book', '.', 'bad', 'good']
    >>> vectorizer(tf.constant(["A good film.", ""])).numpy()
    array([[2, 6, 1, 4],
           [0, 0, 0, 0]], dtype=int32)
    """

    def __init__(
        self,
        max_length: int = 200,
        max_tokens: int | None = 30000,
        min_count: int = 1,
        vocabulary: list[str] | str | None = None,
        truncation: str = "head",
        **kwargs,
    ):
        if kwargs.get("dtype") is None:
            kwargs["dtype"] = "int32"
        super().__init__(**kwargs)
        if int(max_length) < 1:
            raise ValueError(
                f"`max_length` must be >= 1; got max_length={max_length!r}"
            )
        if max_tokens is not None and int(max_tokens) < 3:
            raise ValueError(
                "`max_tokens` counts padding and OOV, so it must be >= 3 or "
                f"None; got max_tokens={max_tokens!r}"
            )
        if int(min_count) < 1:
            raise ValueError(
                f"`min_count` must be >= 1; got min_count={min_count!r}"
            )
        if truncation not in TRUNCATIONS:
            raise ValueError(
                f"`truncation` must be one of {list(TRUNCATIONS)}; got truncation={truncation!r}"
            )
        self.max_length = int(max_length)
        self.truncation = truncation
        self.max_tokens = None if max_tokens is None else int(max_tokens)
        self.min_count = int(min_count)
        self.vocabulary = vocabulary
        # Built without a vocabulary, so Keras writes it to the `.keras`
        # assets too (a StringLookup built *with* one writes no asset); see
        # `_VocabularyLookup` for reading it back.
        self._lookup = _VocabularyLookup(
            mask_token=PADDING_TOKEN,
            oov_token=OOV_TOKEN,
            num_oov_indices=1,
            name="lookup",
        )
        if vocabulary is not None:
            self.set_vocabulary(vocabulary)

    @property
    def padding_id(self) -> int:
        """int. Id of the padding (empty mask) token: 0."""
        return 0

    @property
    def oov_id(self) -> int:
        """int. Id given to out-of-vocabulary tokens: 1."""
        return 1

    @property
    def vocabulary_size(self) -> int:
        """int. Size of the vocabulary, padding and OOV included."""
        return int(self._lookup.vocabulary_size())

    def get_vocabulary(self) -> list[str]:
        """Returns the vocabulary as a list of str, index = token id."""
        with tf.init_scope():  # Reads the table eagerly, even from a tf.function.
            vocabulary = self._lookup.get_vocabulary()
        return [
            w.decode("utf-8") if isinstance(w, bytes) else str(w)
            for w in vocabulary
        ]

    def set_vocabulary(self, vocabulary: list[str] | str | os.PathLike) -> None:
        """Sets the vocabulary from a list of tokens or a file path.

        Args:
            vocabulary: list of str, or path of a UTF-8 text file with one
                token per line ("\\n" or "\\r\\n" line ends, a leading BOM
                dropped), each a token the tokenizer gives (the file's
                errors name its line: `read_vocabulary_file`). Tokens are
                used in order, from id 2.
        """
        if isinstance(vocabulary, (str, os.PathLike)):
            vocabulary = read_vocabulary_file(vocabulary, specials=(PADDING_TOKEN, OOV_TOKEN))
        vocabulary = [
            w.decode("utf-8") if isinstance(w, bytes) else str(w)
            for w in vocabulary
        ]
        if vocabulary[:2] == [PADDING_TOKEN, OOV_TOKEN]:
            vocabulary = vocabulary[2:]
        if not vocabulary:
            raise ValueError("Cannot set an empty vocabulary.")
        for position, token in enumerate(vocabulary):
            # Tokens never hold whitespace, and the `.keras` asset is read
            # back with str.splitlines(), which splits on Unicode breaks.
            if token.split() != [token] or token.splitlines() != [token]:
                raise ValueError(
                    "Vocabulary tokens must be non-empty and hold no "
                    f"whitespace or line break; got {token!r} (token {position})"
                )
        size = len(vocabulary) + 2
        if self.max_tokens is not None and size > self.max_tokens:
            raise ValueError(
                f"Vocabulary of {len(vocabulary)} tokens (+2 special) exceeds "
                f"max_tokens={self.max_tokens}"
            )
        self._lookup.set_vocabulary(vocabulary)

    def tokenize(self, texts: tf.Tensor) -> tf.RaggedTensor:
        """Splits strings into tokens, as `call` does before the lookup.

        Args:
            texts: tf.string tensor of shape [], [batch] or [batch, 1].

        Returns:
            A 1-D tf.string tensor for a scalar, else a `tf.RaggedTensor`
            [batch, (tokens)]. Not truncated to `max_length`.
        """
        texts = tf.convert_to_tensor(texts, dtype=tf.string)
        if texts.shape.rank != 0:
            texts = tf.reshape(texts, [-1])
        return tokenize(texts)

    def adapt(self, data, batch_size: int = 256) -> None:
        """Builds the vocabulary from a corpus in one pass.

        Tokens seen at least `min_count` times are kept, the
        `max_tokens - 2` most frequent of them, ties broken alphabetically so
        the result is deterministic.

        Args:
            data: list or np.ndarray of str, a tf.string tensor, or a
                tf.data.Dataset of tf.string (batched or not).
            batch_size: int. Batch size used to tokenise unbatched data.
        """
        counts = collections.Counter()
        for batch in _as_string_dataset(data, batch_size):
            counts.update(_tokenize_batch(batch).flat_values.numpy().tolist())
        tokens = sorted(
            (item for item in counts.items() if item[1] >= self.min_count),
            key=lambda item: (-item[1], item[0]),
        )
        if self.max_tokens is not None:
            tokens = tokens[: self.max_tokens - 2]
        if not tokens:
            raise ValueError(
                "`adapt` found no token with count >= "
                f"min_count={self.min_count}; is the data empty?"
            )
        self.set_vocabulary([token.decode("utf-8") for token, _ in tokens])
        # The adapted vocabulary supersedes a constructor vocabulary.
        self.vocabulary = None

    def build(self, input_shape=None):
        # The lookup maps a flat vector of tokens; it has no weights.
        if not self._lookup.built:
            self._lookup.build((None,))
        self.built = True

    def call(self, inputs):
        inputs = tf.convert_to_tensor(inputs, dtype=tf.string)
        rank = inputs.shape.rank
        if rank is not None and (
            rank > 2 or (rank == 2 and inputs.shape[-1] not in (1, None))
        ):
            raise ValueError(
                "TextVectorizer expects strings of shape [], [batch] or "
                f"[batch, 1]; got shape {inputs.shape}"
            )
        scalar = rank == 0
        texts = tf.reshape(inputs, [-1])
        tokens = self._truncate(tokenize(texts))
        ids = tokens.with_flat_values(
            tf.cast(self._lookup(tokens.flat_values), tf.int32)
        )
        ids = ids.to_tensor(default_value=self.padding_id)
        if scalar:
            return ids[0]
        return ids

    def _truncate(self, tokens: tf.RaggedTensor) -> tf.RaggedTensor:
        """Keeps at most `max_length` tokens of each row, as `truncation` says."""
        if self.truncation == "head":
            return tokens[:, : self.max_length]
        if self.truncation == "tail":
            return tokens[:, -self.max_length :]
        # head+tail: position i of a row of n tokens stays if it is among the
        # first `head` or the last `max_length - head`; a row of at most
        # `max_length` tokens keeps every position.
        head = self.max_length // 4
        lengths = tokens.row_lengths()
        positions = tf.ragged.range(lengths)
        first_tail = tf.expand_dims(lengths - (self.max_length - head), 1)
        keep = (positions < head) | (positions >= first_tail)
        return tf.ragged.boolean_mask(tokens, keep)

    def compute_output_shape(self, input_shape):
        input_shape = tuple(input_shape)
        if len(input_shape) == 0:
            return (None,)
        return (input_shape[0], None)

    def compute_output_spec(self, inputs):
        return keras.KerasTensor(
            self.compute_output_shape(inputs.shape), dtype="int32"
        )

    def get_config(self):
        config = super().get_config()
        # The tokens from id 2 on, whether adapted, listed or read from a
        # file; None before the layer has a vocabulary.
        vocabulary = self.get_vocabulary()[2:] or None
        config.update(
            {
                "max_length": self.max_length,
                "truncation": self.truncation,
                "max_tokens": self.max_tokens,
                "min_count": self.min_count,
                "vocabulary": vocabulary,
            }
        )
        return config
