"""Op types of an exported graph, and whether stock TF Serving has every TF Text op among them.

TF Serving links custom ops at build time, so a SavedModel that uses a
TensorFlow Text op the model server was not built with fails to load there.
:func:`graph_op_types` reads every op type of a SavedModel (the graph and all
functions of its library) from ``saved_model.pb``; :func:`op_report` sorts
them into core TensorFlow ops and TF Text ops and names any TF Text op that
stock TF Serving lacks. The exporter refuses to publish such a version and
writes the report next to it as ``assets.extra/ops.json``.

What our graphs hold (TextVectorizer): ``NormalizeUTF8`` (NFKC) and
``CaseFoldUTF8`` (``tensorflow_text.normalize_utf8`` / ``case_fold_utf8``,
whose core-TF stand-ins, if any, do something else: core TF has no Unicode
normalisation, and ``tf.strings.lower`` lower-cases where case folding also
maps e.g. "ß" to "ss"), and ``TFText>WhitespaceTokenizeWithOffsetsV2``
(``tensorflow_text.WhitespaceTokenizer``). Everything else is core
TensorFlow: regexes, UTF-8 repair, ragged ops, the vocabulary hash table,
``BlockLSTM`` or the Keras LSTM loop, matmuls.
"""

from __future__ import annotations

import json
import os
from typing import Any, Iterable

# Every op type that tensorflow-text 2.21.1 registers (the difference between
# TensorFlow's op registry before and after `import tensorflow_text`;
# tests/test_export_loaders.py recomputes it in a fresh process so that a TF Text
# upgrade that adds ops fails loudly). Ops whose name starts with "TFText>"
# are TF Text's too, whatever the version.
TF_TEXT_OPS = frozenset(
    {
        "CaseFoldUTF8", "ConstrainedSequence", "FastBertNormalize", "FastWordpieceTokenizeWithOffsets",
        "FindSourceOffsets", "MaxSpanningTree", "NormalizeUTF8", "NormalizeUTF8WithOffsetsMap",
        "PhraseTokenize", "RegexSplitWithOffsets", "RougeL", "SentenceFragments", "SentenceFragmentsV2",
        "SentencepieceDetokenizeOp", "SentencepieceIdToStringOp", "SentencepieceOp",
        "SentencepieceStringToIdOp", "SentencepieceTokenizeOp", "SentencepieceTokenizeWithOffsetsOp",
        "SentencepieceVocabSizeOp", "SplitMergeTokenizeWithOffsets", "TFText>BoiseTagsToOffsets",
        "TFText>ByteSplitByOffsets", "TFText>ByteSplitWithOffsets", "TFText>FastSentencepieceDetokenize",
        "TFText>FastSentencepieceTokenize", "TFText>FastWordpieceDetokenize", "TFText>NgramsStringJoin",
        "TFText>OffsetsToBoiseTags", "TFText>PhraseDetokenize", "TFText>RoundRobinGenerateMasks",
        "TFText>RoundRobinTrim", "TFText>Utf8Binarize", "TFText>WhitespaceTokenizeWithOffsetsV2",
        "TokenizerFromLogits", "UnicodeScriptTokenizeWithOffsets", "WhitespaceTokenizeWithOffsets",
        "WordpieceTokenizeWithOffsets",
    }
)

TF_SERVING_VERSION = "2.21.0"
"""The stock TF Serving release the exports are meant for: the TensorFlow 2.21 runtime that wrote them."""
TF_SERVING_TF_TEXT_VERSION = "2.20.0"
"""The TF Text release whose ops stock TF Serving links (its workspace.bzl pins text-2.20.0)."""

# The TF Text ops that stock TF Serving (tensorflow/serving:2.21.0, and 2.20)
# links, so the list every TF Text op of an export is checked against. Why:
# - tensorflow_serving/model_servers/BUILD links SUPPORTED_TENSORFLOW_OPS =
#   ["@org_tensorflow_text//tensorflow_text:ops_lib", <decision forests ops>]
#   into tensorflow_model_server, and tensorflow_serving/workspace.bzl fetches
#   org_tensorflow_text at text-2.20.0.
# - tensorflow_text/BUILD's `ops_lib` is the cc op libraries normalize_ops,
#   whitespace_tokenizer, whitespace_tokenizer_v2, regex_split_ops,
#   wordpiece_tokenizer, fast_wordpiece_tokenizer, fast_bert_normalizer,
#   unicode_script_tokenizer, sentencepiece_tokenizer,
#   fast_sentencepiece_tokenizer, sentence_breaking_ops,
#   state_based_sentence_breaker_op, split_merge(_from_logits)_tokenizer,
#   constrained_sequence_op, mst_ops, ngrams_op, phrase_tokenizer,
#   text_similarity_metric_ops, trimmer_ops, utf8_binarize_op,
#   byte_splitter, boise_offset_converter. The op names below are what those
#   libraries register (read from a TF Text 2.21.1 install; all of these
#   libraries predate 2.20). It is a literal, not TF_TEXT_OPS, on purpose: an
#   op that a later TF Text adds is not assumed to be in the model server.
# Stronger evidence for the three ops our graphs use: TF Serving's own TF Text
# regression SavedModel (tensorflow/text oss_scripts/model_server/
# save_models.py, regenerated on every TF Text bump) calls case_fold_utf8,
# normalize_utf8 and WhitespaceTokenizer().tokenize, so the model server is
# tested on CaseFoldUTF8, NormalizeUTF8 and the whitespace tokenizer op.
TF_SERVING_TF_TEXT_OPS = frozenset(
    {
        "CaseFoldUTF8", "NormalizeUTF8", "NormalizeUTF8WithOffsetsMap", "FindSourceOffsets",
        "WhitespaceTokenizeWithOffsets", "TFText>WhitespaceTokenizeWithOffsetsV2", "RegexSplitWithOffsets",
        "WordpieceTokenizeWithOffsets", "FastWordpieceTokenizeWithOffsets", "TFText>FastWordpieceDetokenize",
        "FastBertNormalize", "UnicodeScriptTokenizeWithOffsets", "SentencepieceOp", "SentencepieceTokenizeOp",
        "SentencepieceTokenizeWithOffsetsOp", "SentencepieceDetokenizeOp", "SentencepieceVocabSizeOp",
        "SentencepieceIdToStringOp", "SentencepieceStringToIdOp", "TFText>FastSentencepieceTokenize",
        "TFText>FastSentencepieceDetokenize", "SentenceFragments", "SentenceFragmentsV2",
        "SplitMergeTokenizeWithOffsets", "TokenizerFromLogits", "ConstrainedSequence", "MaxSpanningTree",
        "TFText>NgramsStringJoin", "PhraseTokenize", "TFText>PhraseDetokenize", "RougeL",
        "TFText>RoundRobinGenerateMasks", "TFText>RoundRobinTrim", "TFText>Utf8Binarize",
        "TFText>ByteSplitWithOffsets", "TFText>ByteSplitByOffsets", "TFText>BoiseTagsToOffsets",
        "TFText>OffsetsToBoiseTags",
    }
)
SERVING_REGRESSION_TESTED_OPS = frozenset(
    {
        "CaseFoldUTF8", "NormalizeUTF8", "TFText>WhitespaceTokenizeWithOffsetsV2", "WhitespaceTokenizeWithOffsets",
        "RegexSplitWithOffsets", "WordpieceTokenizeWithOffsets", "UnicodeScriptTokenizeWithOffsets",
        "SentenceFragments", "SplitMergeTokenizeWithOffsets", "ConstrainedSequence", "MaxSpanningTree", "RougeL",
        "SentencepieceOp", "SentencepieceTokenizeOp", "SentencepieceTokenizeWithOffsetsOp",
        "SentencepieceDetokenizeOp", "SentencepieceVocabSizeOp", "SentencepieceIdToStringOp",
    }
)
"""TF Text ops run by TF Serving's TF Text regression model (see the comment above)."""

OPS_FILE = os.path.join("assets.extra", "ops.json")
"""Where the op report is written inside an exported version folder."""


def graph_op_types(saved_model_dir: str | os.PathLike) -> list[str]:
    """Every op type in a SavedModel: its graphs' nodes and all functions of their libraries.

    Args:
        saved_model_dir: str or path. Folder holding ``saved_model.pb``.

    Returns:
        Sorted list of op type names (function calls by name excluded).

    Raises:
        FileNotFoundError: no ``saved_model.pb`` there.
    """
    from tensorflow.core.protobuf import saved_model_pb2

    path = os.path.join(os.fspath(saved_model_dir), "saved_model.pb")
    if not os.path.isfile(path):
        raise FileNotFoundError(f"No saved_model.pb in {os.fspath(saved_model_dir)!r}")
    saved_model = saved_model_pb2.SavedModel()
    with open(path, "rb") as f:
        saved_model.ParseFromString(f.read())
    ops: set[str] = set()
    functions: set[str] = set()
    for meta_graph in saved_model.meta_graphs:
        graph = meta_graph.graph_def
        ops.update(node.op for node in graph.node)
        for function in graph.library.function:
            functions.add(function.signature.name)
            ops.update(node.op for node in function.node_def)
    return sorted(ops - functions)


def is_tf_text_op(op: str) -> bool:
    """True for an op type registered by TensorFlow Text."""
    return op in TF_TEXT_OPS or op.startswith("TFText>")


def op_report(op_types: Iterable[str]) -> dict[str, Any]:
    """Sorts op types into core and TF Text ones and checks the latter against stock TF Serving.

    Args:
        op_types: iterable of str. Op types, e.g. from :func:`graph_op_types`.

    Returns:
        A dict: ``ops`` (all, sorted), ``tf_text_ops``, ``core_ops``,
        ``tf_text_ops_missing_in_tf_serving`` (must be empty to serve),
        ``tf_text_ops_run_by_tf_serving_tests`` and the versions checked against.
    """
    ops = sorted(set(op_types))
    text_ops = [op for op in ops if is_tf_text_op(op)]
    return {
        "ops": ops,
        "core_ops": [op for op in ops if not is_tf_text_op(op)],
        "tf_text_ops": text_ops,
        "tf_text_ops_missing_in_tf_serving": [op for op in text_ops if op not in TF_SERVING_TF_TEXT_OPS],
        "tf_text_ops_run_by_tf_serving_tests": [op for op in text_ops if op in SERVING_REGRESSION_TESTED_OPS],
        "checked_against": {
            "tf_serving": TF_SERVING_VERSION,
            "tf_serving_tf_text_ops": f"tensorflow_text:ops_lib at TF Text {TF_SERVING_TF_TEXT_VERSION}",
        },
    }


def check_serving_ops(report: dict[str, Any], where: str) -> None:
    """Raises ValueError if ``report`` names a TF Text op that stock TF Serving lacks.

    Args:
        report: dict from :func:`op_report`.
        where: str. The export folder, for the message.
    """
    missing = report["tf_text_ops_missing_in_tf_serving"]
    if missing:
        raise ValueError(
            f"The graph exported to {where!r} uses TF Text ops {missing} that stock TF Serving "
            f"{TF_SERVING_VERSION} (TF Text {TF_SERVING_TF_TEXT_VERSION} ops) does not link; "
            "it would fail to load there. Use core TensorFlow ops or one of "
            f"{sorted(SERVING_REGRESSION_TESTED_OPS)} in the preprocessor."
        )


def write_op_report(saved_model_dir: str | os.PathLike) -> dict[str, Any]:
    """Lists the ops of ``saved_model_dir``, writes ``assets.extra/ops.json`` there and returns the report."""
    report = op_report(graph_op_types(saved_model_dir))
    path = os.path.join(os.fspath(saved_model_dir), OPS_FILE)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(report, f, indent=2)
        f.write("\n")
    return report
