"""Text preprocessing: in-graph tokenisation, vocabulary and word vectors."""

from tf_aspmtl.preprocessing.text_vectorizer import TextVectorizer
from tf_aspmtl.preprocessing.multitask_preprocessor import MultiTaskPreprocessor
from tf_aspmtl.preprocessing.ngram_feature_union import NgramFeatureUnion
from tf_aspmtl.preprocessing.ngram_features import NgramFeatures, char_ngrams, nb_log_count_ratios
from tf_aspmtl.preprocessing.ngram_preprocessor import NgramPreprocessor
from tf_aspmtl.preprocessing.task_preprocessor import TaskPreprocessor
from tf_aspmtl.preprocessing.wide_and_deep_preprocessor import WideAndDeepPreprocessor
from tf_aspmtl.preprocessing.tokenizer import TOKENIZATION_RULES, standardize
from tf_aspmtl.preprocessing.tokenizer import tokenize
from tf_aspmtl.preprocessing.word_vectors import EMBEDDING_KINDS
from tf_aspmtl.preprocessing.word_vectors import build_embedding_matrix
from tf_aspmtl.preprocessing.word_vectors import embedding_matrix
from tf_aspmtl.preprocessing.word_vectors import glove_embedding_matrix
from tf_aspmtl.preprocessing.word_vectors import load_glove_6b_50d
from tf_aspmtl.preprocessing.word2vec import tokenize_corpus
from tf_aspmtl.preprocessing.word2vec import train_word2vec
from tf_aspmtl.preprocessing.word2vec import word2vec_embedding_matrix

__all__ = [
    "EMBEDDING_KINDS",
    "MultiTaskPreprocessor",
    "NgramFeatureUnion",
    "NgramFeatures",
    "char_ngrams",
    "nb_log_count_ratios",
    "NgramPreprocessor",
    "TOKENIZATION_RULES",
    "TaskPreprocessor",
    "TextVectorizer",
    "WideAndDeepPreprocessor",
    "build_embedding_matrix",
    "embedding_matrix",
    "glove_embedding_matrix",
    "load_glove_6b_50d",
    "standardize",
    "tokenize",
    "tokenize_corpus",
    "train_word2vec",
    "word2vec_embedding_matrix",
]
