"""A faster ``transform`` for a fitted ``TfidfVectorizer(analyzer="char_wb")``.

scikit-learn builds every character n-gram of every document in Python, which is
most of the time classification takes. ``char_wb`` n-grams never cross a word
boundary, so a document's n-grams are the union of its words' n-grams, and
words repeat a great deal: this caches, per distinct word, the vocabulary ids of
its n-grams and builds the matrix from those. The result is the same matrix
scikit-learn gives (checked in the tests); the fitted vectorizer stays the model
of record and is what gets saved.
"""

from __future__ import annotations

from typing import Any

__all__ = ["CharWbTransform"]

_CACHE_LIMIT = 50_000  # distinct words kept (bounded memory); rarer words are analysed each time


class CharWbTransform:
    """Callable equivalent of ``vectorizer.transform`` for a fitted char_wb TfidfVectorizer."""

    def __init__(self, vectorizer: Any) -> None:
        if vectorizer.analyzer != "char_wb" or vectorizer.binary or vectorizer.input != "content":
            raise ValueError("CharWbTransform needs a char_wb TfidfVectorizer on text content")
        self.vocabulary = vectorizer.vocabulary_
        self.min_n, self.max_n = vectorizer.ngram_range
        self.preprocess = vectorizer.build_preprocessor()
        self.transformer = vectorizer._tfidf
        self.dtype = vectorizer.dtype
        self._cache: dict[str, list[int]] = {}

    def _word_ids(self, word: str) -> list[int]:
        ids = self._cache.get(word)
        if ids is not None:
            return ids
        padded = f" {word} "
        size = len(padded)
        vocab = self.vocabulary
        ids = []
        for n in range(self.min_n, self.max_n + 1):
            # the same n-grams, in the same order, as sklearn's _char_wb_ngrams
            if size <= n:
                gram = padded
                if gram in vocab:
                    ids.append(vocab[gram])
                break
            for start in range(size - n + 1):
                k = vocab.get(padded[start:start + n])
                if k is not None:
                    ids.append(k)
        if len(self._cache) < _CACHE_LIMIT:
            self._cache[word] = ids
        return ids

    def _words(self, text: str) -> list[str]:
        # scikit-learn's _char_wb_ngrams turns runs of whitespace into one space, then splits on
        # whitespace; str.split() alone gives the same words (its whitespace is re's \s)
        return self.preprocess(text).split()

    def ids(self, texts) -> tuple[list[int], list[int]]:
        """Each text's n-gram ids, repeats included, as CSR ``(indices, indptr)`` lists (for a small
        batch, counted without SciPy)."""
        indptr = [0]
        indices: list[int] = []
        word_ids = self._word_ids
        for text in texts:
            for word in self._words(text):
                indices.extend(word_ids(word))
            indptr.append(len(indices))
        return indices, indptr

    def _count_matrix(self, texts):
        """The (text x n-gram) count matrix, columns sorted within each row. Since a text's n-grams
        are its words', it is the (text x word) counts times the (word x n-gram) counts, SciPy's
        sparse product, with each distinct word analysed once: three times as fast on a large
        batch as a Python list of every n-gram of every text, counted and sorted in NumPy."""
        from itertools import chain

        import numpy as np
        from scipy import sparse

        words: list[str] = []
        ends = [0]
        for text in texts:
            words += self._words(text)
            ends.append(len(words))
        index = {w: k for k, w in enumerate(dict.fromkeys(words))}
        of_text = sparse.csr_matrix(
            (np.ones(len(words), dtype=self.dtype), np.fromiter(map(index.__getitem__, words), np.int64, len(words)),
             np.asarray(ends, dtype=np.int64)), shape=(len(ends) - 1, len(index)))
        grams = [self._word_ids(w) for w in index]
        starts = np.zeros(len(grams) + 1, dtype=np.int64)
        np.cumsum([len(g) for g in grams], out=starts[1:])
        of_word = sparse.csr_matrix(
            (np.ones(int(starts[-1]), dtype=self.dtype),
             np.fromiter(chain.from_iterable(grams), np.int64, int(starts[-1])), starts),
            shape=(len(grams), len(self.vocabulary)))
        # computed as (n-gram x text) and read back: SciPy's transposing conversion lays each text's
        # columns out in order (a product's rows come unsorted, and sorting them took twice as long)
        return (of_word.T.tocsr() @ of_text.T.tocsr()).T.tocsr()

    def counts(self, texts):
        """Each text's n-gram counts as ``(row, col, count)`` arrays sorted by row, then column: the
        same numbers as counting ``ids``."""
        import numpy as np

        counts = self._count_matrix(texts)
        row = np.repeat(np.arange(counts.shape[0], dtype=np.int64), np.diff(counts.indptr))
        return row, counts.indices.astype(np.int64), counts.data

    def __call__(self, texts) -> Any:
        return self.transformer.transform(self._count_matrix(texts), copy=False)
