"""Tests for the in-graph tokenizer and the TextVectorizer layer."""

import json
import zipfile

import keras
import numpy as np
import pytest
import tensorflow as tf
from hypothesis import given, settings
from hypothesis import strategies as st

from tf_aspmtl.data import resolve_fdu_mtl_dir
from tf_aspmtl.preprocessing import TextVectorizer
from tf_aspmtl.preprocessing import tokenize
from tf_aspmtl.preprocessing.text_vectorizer import TRUNCATIONS

CORPUS = [
    "The book is good.",
    "The book isn't good; it's bad!",
    "A good, good film.",
    "Café au lait 中文 مرحبا 😀",
]
TEXTS = tf.constant(
    [
        "The film is good.",
        "",
        "It's not a book... it's a café!",
        "   \t\n ",
        "unseenword good",
    ]
)
# The first line of FDU-MTL's books.task.train (label, tab, text): a review as the benchmark ships it, PTB-tokenised.
BOOKS_FIRST_LINE = (
    "1\t"
    "i am an avid reader of books of biblical prophecy , and i feel that clarence larkin 's `` "
    "the book of revelation '' is the best on the book of revelation . mr. larkin provides "
    "charts for the student , and does verse by verse analysis of the book . if you want to "
    "study the book of revelation . i would submit clarence larkin 's `` the book of revelation "
    "'' as your first tool of study"
)


def _tokens(text):
    return [t.decode("utf-8") for t in tokenize(tf.constant([text]))[0].numpy()]


@pytest.fixture(scope="module")
def vectorizer():
    layer = TextVectorizer(max_length=6)
    layer.adapt(CORPUS)
    return layer


# Tokenisation.


@pytest.mark.parametrize(
    "text, expected",
    [
        ("don't", ["do", "n't"]),
        ("It's", ["it", "'s"]),
        ("I can't, I WON'T.", ["i", "ca", "n't", ",", "i", "wo", "n't", "."]),
        ("we're i've you'll i'd i'm", ["we", "'re", "i", "'ve", "you", "'ll",
                                       "i", "'d", "i", "'m"]),
        ("good.", ["good", "."]),
        ("Hello, world!!", ["hello", ",", "world", "!!"]),
        ("“Hi” it’s (ok)", ["``", "hi", "''", "it", "'s", "(", "ok", ")"]),
        ("Mr. Smith's 1,000 u.s. e.g.", ["mr.", "smith", "'s", "1,000",
                                         "u.s.", "e.g."]),
        ("well-known -the it- w/", ["well-known", "-", "the", "it", "-",
                                    "w", "/"]),
        ("wait.. what...", ["wait", "...", "what", "..."]),
    ],
)
def test_tokenize_glove_style(text, expected):
    assert _tokens(text) == expected


def test_tokenize_keeps_ptb_input_unchanged():
    text = "larkin 's `` the book '' is n't bad , i 'm sure ... ca n't wait !"
    assert _tokens(text) == text.split()


def test_tokenize_keeps_real_tokenized_line_unchanged():
    text = BOOKS_FIRST_LINE.split("\t", 1)[1]
    assert "larkin 's `` the book of revelation ''" in text
    assert _tokens(text) == text.split()


def test_the_real_line_is_the_data_files_first_line():
    # Only this check needs the data; the folder comes from the library's resolution (path, $TF_ASPMTL_FDU_MTL,
    # then the checkout's default).
    try:
        folder = resolve_fdu_mtl_dir()
    except FileNotFoundError as error:
        pytest.skip(f"FDU-MTL data not available: {error}")
    first = (folder / "books.task.train").read_bytes().split(b"\n")[0].decode("utf-8")
    assert first == BOOKS_FIRST_LINE


def test_tokenize_replaces_control_chars_and_line_breaks():
    assert _tokens("a\u2028b\x85c\td\ne\x1cf\u200bg") == [
        "a", "b", "c", "d", "e", "fg",
    ]


def test_tokenize_scalar_and_empty():
    assert tokenize(tf.constant("Don't")).numpy().tolist() == [b"do", b"n't"]
    ragged = tokenize(tf.constant(["", "  \t ", "a"]))
    assert ragged.to_list() == [[], [], [b"a"]]


def test_tokenize_non_latin_and_invalid_utf8():
    assert _tokens("中文 مرحبا بالعالم 😀👍") == [
        "中", "文", "مرحبا", "بالعالم", "😀", "👍",
    ]
    tokens = tokenize(tf.constant([b"caf\xe9 ok", b"\xff"])).to_list()
    assert tokens == [["caf\ufffd".encode(), b"ok"], ["\ufffd".encode()]]


# Layer behaviour.


def test_vocabulary_special_ids_and_order(vectorizer):
    vocab = vectorizer.get_vocabulary()
    assert vocab[:2] == ["", "[UNK]"]
    assert (vectorizer.padding_id, vectorizer.oov_id) == (0, 1)
    # By count ("good" 4, then 2 each), ties in code point order.
    assert vocab[2:] == [
        "good", ".", "book", "is", "the",
        "!", "'s", ",", ";", "a", "au", "bad", "café", "film", "it", "lait",
        "n't", "مرحبا", "中", "文", "😀",
    ]
    assert vectorizer.vocabulary_size == len(vocab) == 23


def test_call_ids_padding_oov(vectorizer):
    ids = vectorizer(TEXTS)
    assert ids.dtype == tf.int32
    assert ids.shape == (5, 6)  # Longest row is 11 tokens, cut to 6.
    vocab = vectorizer.get_vocabulary()
    ids = ids.numpy()
    assert ids[0].tolist() == [6, 15, 5, 2, 3, 0]  # the film is good .
    assert [vocab[i] for i in ids[0, :5]] == ["the", "film", "is", "good", "."]
    assert ids[1].tolist() == [0] * 6  # Empty string.
    assert ids[3].tolist() == [0] * 6  # Whitespace only.
    assert ids[4].tolist() == [1, vocab.index("good"), 0, 0, 0, 0]


def test_all_empty_batch_has_zero_length():
    layer = TextVectorizer(vocabulary=["a"])
    ids = layer(tf.constant(["", " "]))
    assert ids.shape == (2, 0) and ids.dtype == tf.int32
    assert layer(tf.constant("")).shape == (0,)


def test_truncation_keeps_first_max_length():
    layer = TextVectorizer(max_length=3, vocabulary=list("abcde"))
    ids = layer(tf.constant(["a b c d e", "e"])).numpy()
    assert ids.tolist() == [[2, 3, 4], [6, 0, 0]]


def _kept_positions(n: int, max_length: int, truncation: str) -> list[int]:
    """Positions of an n-token text that `truncation` keeps, written out by cases."""
    if n <= max_length:
        return list(range(n))
    if truncation == "head":
        return list(range(max_length))
    if truncation == "tail":
        return list(range(n - max_length, n))
    head = max_length // 4
    return list(range(head)) + list(range(n - (max_length - head), n))


@settings(max_examples=60, deadline=None)
@given(
    lengths=st.lists(st.integers(0, 30), min_size=1, max_size=5),
    max_length=st.integers(1, 12),
    truncation=st.sampled_from(TRUNCATIONS),
)
def test_truncation_keeps_the_named_tokens(lengths, max_length, truncation):
    # Every text is distinct words w0 w1 ..., so the ids name the positions kept.
    words = [f"w{i}" for i in range(30)]
    layer = TextVectorizer(max_length=max_length, vocabulary=words, truncation=truncation)
    ids = layer(tf.constant([" ".join(words[:n]) for n in lengths])).numpy()
    assert ids.shape == (len(lengths), min(max(lengths), max_length))
    for row, n in zip(ids, lengths):
        kept = [int(i) - 2 for i in row if i != 0]
        assert kept == _kept_positions(n, max_length, truncation)


def test_truncation_round_trips_and_is_checked():
    layer = TextVectorizer(max_length=4, vocabulary=list("abcdef"), truncation="tail")
    clone = TextVectorizer.from_config(layer.get_config())
    assert clone.truncation == "tail"
    np.testing.assert_array_equal(clone(tf.constant(["a b c d e f"])), [[4, 5, 6, 7]])
    with pytest.raises(ValueError, match="truncation"):
        TextVectorizer(truncation="middle")


def test_scalar_vs_batch_vs_column(vectorizer):
    scalar = vectorizer(tf.constant("It's a good film"))
    batch = vectorizer(tf.constant(["It's a good film"]))
    column = vectorizer(tf.constant([["It's a good film"]]))
    assert scalar.shape.rank == 1
    np.testing.assert_array_equal(scalar.numpy(), batch.numpy()[0])
    np.testing.assert_array_equal(column.numpy(), batch.numpy())
    with pytest.raises(ValueError, match="batch, 1"):
        vectorizer(tf.constant([["a", "b"]]))


def test_batched_equals_unbatched_row_by_row(vectorizer):
    batch = vectorizer(TEXTS).numpy()
    for row, text in zip(batch, TEXTS):
        single = vectorizer(text).numpy()
        np.testing.assert_array_equal(row[: len(single)], single)
        assert not row[len(single):].any()


def test_non_latin_and_invalid_utf8_give_ids(vectorizer):
    vocab = vectorizer.get_vocabulary()
    ids = vectorizer(
        tf.constant(["中文", "مرحبا", "😀 ok", b"caf\xe9", b"\xff\xfe"])
    ).numpy()
    assert ids[0, :2].tolist() == [vocab.index("中"), vocab.index("文")]
    assert ids[1, 0] == vocab.index("مرحبا")
    assert ids[2, :2].tolist() == [vocab.index("😀"), 1]
    assert ids[3].tolist()[:2] == [1, 0]  # "caf\ufffd" is one OOV token.
    assert ids[4, 0] == 1


# Adapt.


def test_adapt_is_deterministic_across_input_types():
    reference = TextVectorizer()
    reference.adapt(CORPUS)
    vocab = reference.get_vocabulary()
    for data in (
        list(reversed(CORPUS)),
        np.array(CORPUS),
        tf.constant(CORPUS),
        tf.data.Dataset.from_tensor_slices(CORPUS),
        tf.data.Dataset.from_tensor_slices(CORPUS).batch(3),
        tf.data.Dataset.from_tensor_slices([[t] for t in CORPUS]).batch(2),
    ):
        layer = TextVectorizer()
        layer.adapt(data)
        assert layer.get_vocabulary() == vocab


def test_adapt_min_count_and_max_tokens():
    corpus = ["b b b a a c", "d d a"]  # a:3 b:3 d:2 c:1
    layer = TextVectorizer(min_count=2)
    layer.adapt(corpus)
    assert layer.get_vocabulary() == ["", "[UNK]", "a", "b", "d"]
    layer = TextVectorizer(max_tokens=4)
    layer.adapt(corpus)
    assert layer.get_vocabulary() == ["", "[UNK]", "a", "b"]
    with pytest.raises(ValueError, match="no token"):
        TextVectorizer(min_count=5).adapt(corpus)


def test_vocabulary_argument_forms(tmp_path):
    path = tmp_path / "vocab.txt"
    path.write_text("good\ncafé\n", encoding="utf-8")
    from_file = TextVectorizer(vocabulary=str(path))
    from_list = TextVectorizer(vocabulary=["good", "café"])
    copied = TextVectorizer(vocabulary=from_list.get_vocabulary())
    expected = ["", "[UNK]", "good", "café"]
    for layer in (from_file, from_list, copied):
        assert layer.get_vocabulary() == expected
    with pytest.raises(ValueError, match="whitespace"):
        TextVectorizer(vocabulary=["two words"])
    with pytest.raises(ValueError, match="max_tokens"):
        TextVectorizer(max_tokens=3, vocabulary=["a", "b"])


def test_invalid_arguments():
    with pytest.raises(ValueError, match="max_length"):
        TextVectorizer(max_length=0)
    with pytest.raises(ValueError, match="max_tokens"):
        TextVectorizer(max_tokens=2)
    with pytest.raises(ValueError, match="min_count"):
        TextVectorizer(min_count=0)


def test_get_config_round_trip(vectorizer):
    config = vectorizer.get_config()
    assert config["max_length"] == 6 and config["max_tokens"] == 30000
    assert config["min_count"] == 1
    # Adapted: the config carries the vocabulary, JSON-safe, from id 2 on.
    assert config["vocabulary"] == vectorizer.get_vocabulary()[2:]
    config = json.loads(json.dumps(config))
    restored = TextVectorizer.from_config(config)
    assert restored.get_vocabulary() == vectorizer.get_vocabulary()
    np.testing.assert_array_equal(restored(TEXTS).numpy(), vectorizer(TEXTS).numpy())
    assert restored.get_config() == config
    listed = TextVectorizer(vocabulary=["a", "b"]).get_config()
    assert listed["vocabulary"] == ["a", "b"]
    restored = TextVectorizer.from_config(listed)
    assert restored.get_vocabulary() == ["", "[UNK]", "a", "b"]
    assert TextVectorizer().get_config()["vocabulary"] is None  # Nothing to carry yet.


def test_config_holds_the_tokens_of_a_vocabulary_file(tmp_path):
    path = tmp_path / "vocab.txt"
    path.write_text("good\ncafé\n", encoding="utf-8")
    config = TextVectorizer(vocabulary=str(path)).get_config()
    assert config["vocabulary"] == ["good", "café"]
    path.unlink()  # The config does not need the file any more.
    assert TextVectorizer.from_config(config).get_vocabulary() == ["", "[UNK]", "good", "café"]


def test_dtype_policy_is_the_output_dtype():
    assert TextVectorizer(vocabulary=["a"]).compute_dtype == "int32"
    keras.mixed_precision.set_dtype_policy("mixed_float16")
    try:
        layer = TextVectorizer(vocabulary=["a"])
        assert layer.compute_dtype == layer(tf.constant(["a b"])).dtype == "int32"
    finally:
        keras.mixed_precision.set_dtype_policy("float32")


def test_symbolic_output_spec():
    layer = TextVectorizer(vocabulary=["a"])
    out = layer(keras.Input(shape=(), dtype="string"))
    assert out.dtype == "int32" and tuple(out.shape) == (None, None)
    assert layer.compute_output_shape(()) == (None,)
    assert layer.compute_output_shape((8, 1)) == (8, None)


# Same ids everywhere: eager, tf.function, tf.data, .keras, SavedModel.


def test_eager_function_dataset_and_keras_reload_agree(vectorizer, tmp_path):
    eager = vectorizer(TEXTS).numpy()

    graph = tf.function(vectorizer)(TEXTS).numpy()
    np.testing.assert_array_equal(graph, eager)

    ds = tf.data.Dataset.from_tensor_slices(TEXTS)
    for row, single in zip(eager, ds.map(vectorizer)):
        np.testing.assert_array_equal(row[: len(single)], single.numpy())
    batched = next(iter(ds.batch(len(eager)).map(vectorizer))).numpy()
    np.testing.assert_array_equal(batched, eager)

    inputs = keras.Input(shape=(), dtype="string")
    model = keras.Model(inputs, vectorizer(inputs))
    model.save(tmp_path / "model.keras")
    loaded = keras.models.load_model(tmp_path / "model.keras")
    np.testing.assert_array_equal(loaded(TEXTS).numpy(), eager)
    layer = loaded.layers[-1]
    assert isinstance(layer, TextVectorizer)
    assert layer.get_vocabulary() == vectorizer.get_vocabulary()
    assert layer.get_config()["vocabulary"] == vectorizer.get_vocabulary()[2:]


def _set_vocabulary_calls(monkeypatch):
    calls = []
    real = keras.layers.StringLookup.set_vocabulary

    def counting(self, *args, **kwargs):
        calls.append(self.name)
        return real(self, *args, **kwargs)

    monkeypatch.setattr(keras.layers.StringLookup, "set_vocabulary", counting)
    return calls


def test_keras_file_sets_the_vocabulary_once(vectorizer, tmp_path, monkeypatch):
    inputs = keras.Input(shape=(), dtype="string")
    keras.Model(inputs, vectorizer(inputs)).save(tmp_path / "model.keras")
    calls = _set_vocabulary_calls(monkeypatch)
    loaded = keras.models.load_model(tmp_path / "model.keras", safe_mode=True)
    assert calls == ["lookup"]  # From the config; the asset is not read again.
    np.testing.assert_array_equal(loaded(TEXTS).numpy(), vectorizer(TEXTS).numpy())


def test_keras_file_without_vocabulary_in_config_reads_the_asset(vectorizer, tmp_path, monkeypatch):
    # A file as earlier versions wrote it: vocabulary None in the config, the tokens in the asset only.
    inputs = keras.Input(shape=(), dtype="string")
    keras.Model(inputs, vectorizer(inputs)).save(tmp_path / "new.keras")
    with zipfile.ZipFile(tmp_path / "new.keras") as src, zipfile.ZipFile(tmp_path / "old.keras", "w") as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename == "config.json":
                config = json.loads(data)
                layer = next(item for item in config["config"]["layers"] if item["class_name"] == "TextVectorizer")
                assert layer["config"]["vocabulary"] == vectorizer.get_vocabulary()[2:]
                layer["config"]["vocabulary"] = None
                data = json.dumps(config).encode()
            dst.writestr(item, data)
    calls = _set_vocabulary_calls(monkeypatch)
    loaded = keras.models.load_model(tmp_path / "old.keras", safe_mode=True)
    assert calls == ["lookup"]  # From the asset.
    np.testing.assert_array_equal(loaded(TEXTS).numpy(), vectorizer(TEXTS).numpy())
    assert loaded.layers[-1].get_vocabulary() == vectorizer.get_vocabulary()


class _Serving(tf.Module):
    def __init__(self, layer):
        super().__init__()
        self.layer = layer

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
    def serve(self, texts):
        return self.layer(texts)


def test_saved_model_round_trip(vectorizer, tmp_path):
    expected = vectorizer(TEXTS).numpy()
    tf.saved_model.save(_Serving(vectorizer), str(tmp_path / "saved"))
    restored = tf.saved_model.load(str(tmp_path / "saved"))
    np.testing.assert_array_equal(restored.serve(TEXTS).numpy(), expected)
    empty = restored.serve(tf.constant(["", ""]))
    assert empty.shape == (2, 0)


def test_every_unicode_space_separates_tokens():
    from tf_aspmtl.preprocessing import tokenize

    # U+1680 (ogham space mark) and U+3000 (ideographic space); tensorflow-text's
    # WhitespaceTokenizer alone cuts U+1680 into invalid UTF-8.
    tokens = tokenize(tf.constant(["good\u1680book\u3000fine"])).to_list()
    assert tokens == [[b"good", b"book", b"fine"]]
