"""Score with a trained tfidf model using NumPy and SciPy alone.

The fitted scikit-learn objects stay the model of record (``tfidf.skops``).
Beside them a version holds the same numbers in plain form, vocabularies and
settings in JSON and the arrays in safetensors, so ``classify`` can score
without importing scikit-learn or skops: start-up falls from seconds to a
fraction of one (figures in docs/performance.md). Nothing here is code or
pickled objects, so there is nothing to audit beyond the files' sha256.
The arithmetic is scikit-learn's own (TF-IDF with sublinear tf and l2 norm,
a softmax or logistic link); the tests check the two agree on real comments.
The feature rows stay column blocks (``Rows``): a linear head is a sum over its
columns, so each block adds its share on its own and the wide matrix is never
stacked. Small inputs are scored with NumPy alone, so a one-comment ``classify``
does not import SciPy; large batches use SciPy's sparse product, which is faster.
"""

from __future__ import annotations

import json
import re
import sys
import unicodedata
from itertools import repeat
from pathlib import Path
from typing import Any

from ..errors import CommentaryError
from ._charwb import CharWbTransform
from .base import Inputs

__all__ = ["TfidfScorer", "Rows", "features", "SCORER_JSON", "SCORER_ARRAYS"]

SCORER_JSON = "tfidf-scorer.json"
SCORER_ARRAYS = "tfidf-scorer.safetensors"
FORMAT = 2
READABLE = (1, 2)  # format 1 kept each vocabulary as a {term: column} map
_SCIPY_FROM = 100_000  # non-zeros in one block from which scoring uses SciPy's sparse product


def _strip_accents(text: str) -> str:
    """As scikit-learn's strip_accents_unicode."""
    if text.isascii():
        return text
    decomposed = unicodedata.normalize("NFKD", text)
    if decomposed == text:  # nothing to strip (curly quotes, dashes): as scikit-learn returns it
        return text
    return "".join(c for c in decomposed if not unicodedata.combining(c))


class _Idf:
    """The parts of a fitted TfidfTransformer that transform uses."""

    def __init__(self, idf, sublinear: bool) -> None:
        self.idf = idf
        self.sublinear = sublinear

    def rows(self, indices, indptr) -> _Sparse:
        """TF-IDF rows from each text's term ids (repeats counted; -1, a term not in the vocabulary,
        skipped), each row l2-normalised: scikit-learn's ``sum_duplicates``, sublinear tf, idf
        weighting and ``normalize``, in NumPy."""
        import numpy as np

        ptr = np.asarray(indptr, dtype=np.int64)
        n, width = len(ptr) - 1, len(self.idf)
        # (row, term) keys in 32 bits where they fit: sorting them is about twice as fast
        kind = np.int32 if n * width < 2**31 else np.int64
        idx = np.asarray(indices, dtype=kind)
        row = np.repeat(np.arange(n, dtype=kind), np.diff(ptr))
        known = idx >= 0
        if not known.all():
            idx, row = idx[known], row[known]
        keys, counts = np.unique(row * kind(width) + idx, return_counts=True)
        row, col = (part.astype(np.int64) for part in np.divmod(keys, kind(width)))
        return self.weigh(row, col, counts, n)

    def weigh(self, row, col, counts, n: int) -> _Sparse:
        """TF-IDF rows from term counts as ``(row, col, count)`` sorted by row, then column."""
        import numpy as np

        width = len(self.idf)
        val = counts.astype(np.float64)
        if self.sublinear:
            np.log(val, val)
            val += 1.0
        val *= self.idf[col]
        norms = np.sqrt(np.bincount(row, weights=val * val, minlength=n))
        norms[norms == 0] = 1.0
        val /= norms[row]
        return _Sparse(row, col, val, (n, width))


def _scipy_product(nonzeros: int) -> bool:
    """Whether a sparse block goes through SciPy's product: it makes one pass with no temporary
    arrays and outruns NumPy's gathers on large blocks, once its import (0.2-0.4 s) is paid."""
    return nonzeros >= _SCIPY_FROM or "scipy.sparse" in sys.modules


class _Sparse:
    """A sparse block: ``(row, col, val)`` triplets sorted by row and then column, with the
    CSR row pointer made once (a block is shared by the stance and theme rows)."""

    def __init__(self, row, col, val, shape: tuple[int, int]) -> None:
        import numpy as np

        self.row, self.col, self.val, self.shape = row, col, val, shape
        self.indptr = np.concatenate([[0], np.cumsum(np.bincount(row, minlength=shape[0]))])

    def dot(self, w):
        """``block @ w`` for a dense (width x classes) *w*."""
        import numpy as np

        if _scipy_product(len(self.val)):
            from scipy.sparse import csr_matrix

            return csr_matrix((self.val, self.col, self.indptr), shape=self.shape) @ w
        out = np.zeros((self.shape[0], w.shape[1]))
        filled = np.flatnonzero(np.diff(self.indptr))
        if len(filled):  # each non-zero's weight for each class times its value, summed row by row
            out[filled] = np.add.reduceat(w[self.col] * self.val[:, None], self.indptr[filled], axis=0)
        return out


class Rows:
    """Feature rows as column blocks (``_Sparse`` or dense arrays).

    What a linear head needs of a feature matrix is ``X @ coef.T``; that is the sum of each
    block's product with its own columns of ``coef``, so the blocks are never stacked.
    """

    def __init__(self, n: int, blocks: list | None = None) -> None:
        self.n = n
        self.blocks = list(blocks or [])

    @property
    def shape(self) -> tuple[int, int]:
        return self.n, sum(block.shape[1] for block in self.blocks)

    def plus(self, *blocks) -> Rows:
        """These rows with more blocks on the right."""
        return Rows(self.n, self.blocks + list(blocks))

    def decision(self, weights, intercept):
        """``X @ weights + intercept``, *weights* being (features x classes), C-ordered so that a
        feature's weights for every class sit together."""
        import numpy as np

        out = np.zeros((self.n, weights.shape[1]))
        start = 0
        for block in self.blocks:
            w = weights[start:start + block.shape[1]]
            out += block.dot(w) if isinstance(block, _Sparse) else block @ w
            start += block.shape[1]
        if start != weights.shape[0]:
            raise CommentaryError(f"the model expects {weights.shape[0]} features and got {start}",
                                  fix="retrain the model with this version of commentary")
        return out + intercept


class _CharVectorizer:
    """Just enough of a fitted char_wb TfidfVectorizer for CharWbTransform."""

    analyzer, binary, input = "char_wb", False, "content"

    def __init__(self, vocabulary: dict[str, int], ngram_range, lowercase: bool, idf: _Idf) -> None:
        import numpy as np

        self.vocabulary_ = vocabulary
        self.ngram_range = tuple(ngram_range)
        self._lower = lowercase
        self._tfidf = idf
        self.dtype = np.float64

    def build_preprocessor(self):
        return str.lower if self._lower else (lambda s: s)


class _WordVectorizer:
    """A fitted word TfidfVectorizer's transform: token regex, n-grams, vocabulary, idf."""

    def __init__(self, vocabulary: dict[str, int], ngram_range, token_pattern: str, lowercase: bool,
                 strip_accents: bool, idf: _Idf) -> None:
        self.vocabulary = vocabulary
        self.min_n, self.max_n = ngram_range
        self.tokens = re.compile(token_pattern)
        self.lowercase = lowercase
        self.strip = strip_accents
        self.idf = idf

    def rows(self, texts) -> _Sparse:
        """TF-IDF rows of *texts* (see ``_Idf.rows``)."""
        term = self.vocabulary.get
        missing = repeat(-1)  # a term not in the vocabulary: dropped in NumPy, not in a Python test
        indptr, indices = [0], []
        for text in texts:
            if self.lowercase:
                text = text.lower()
            if self.strip:
                text = _strip_accents(text)
            toks = self.tokens.findall(text)
            for n in range(self.min_n, self.max_n + 1):
                grams = toks if n == 1 else map(" ".join, zip(*(toks[i:] for i in range(n))))
                indices.extend(map(term, grams, missing))
            indptr.append(len(indices))
        return self.idf.rows(indices, indptr)


def features(inputs: Inputs, words_of, chars_of, use_article: bool, rules=None):
    """(stance features, theme features) from word and char transforms; themes use the comment alone.

    With the article, stance also sees the comment's word vector multiplied by the
    article's (which of the article's own words the commenter takes up) and their sum.
    With *rules* (a ``RuleFeatures``), themes also see which theme rules fired: the
    rules carry a theme's wording across topics the training comments never covered,
    and the heads learn how far to trust each one.
    """
    import numpy as np
    from scipy import sparse

    words = words_of(inputs.texts)
    base = sparse.hstack([words, chars_of(inputs.texts)]).tocsr()
    themes = base if rules is None else sparse.hstack([base, sparse.csr_matrix(rules(inputs.texts))]).tocsr()
    if not use_article:
        return base, themes
    # Many comments share an article: vectorise each distinct article once.
    distinct = sorted({a or "" for a in inputs.articles})
    rows = {a: k for k, a in enumerate(distinct)}
    arts = words_of(distinct)[[rows[a or ""] for a in inputs.articles]]
    overlap = words.multiply(arts).tocsr()
    sim = np.asarray(overlap.sum(axis=1)).reshape(-1, 1)
    return sparse.hstack([base, overlap * 3.0, sparse.csr_matrix(sim)]).tocsr(), themes


def _vocabulary(vec_meta: dict[str, Any]) -> dict[str, int]:
    """A vectorizer's term -> column map: format 2 lists the terms in column order (a JSON list
    parses in half the time of the same map, a twentieth of a second of a one-comment run);
    format 1 saved the map itself."""
    if "terms" in vec_meta:
        return dict(zip(vec_meta["terms"], range(len(vec_meta["terms"]))))
    return vec_meta["vocabulary"]


class TfidfScorer:
    """predict_proba for a tfidf backend, from plain arrays."""

    def __init__(self, meta: dict[str, Any], arrays: dict[str, Any]) -> None:
        import numpy as np

        self.meta = meta
        self.arrays = arrays
        w, c = meta["word"], meta["char"]
        self.words = _WordVectorizer(_vocabulary(w), w["ngram_range"], w["token_pattern"], w["lowercase"],
                                     w["strip_accents"], _Idf(arrays["word_idf"], w["sublinear_tf"]))
        self.chars = CharWbTransform(_CharVectorizer(_vocabulary(c), c["ngram_range"], c["lowercase"],
                                                     _Idf(arrays["char_idf"], c["sublinear_tf"])))
        self.use_article = meta["use_article"]
        self.stance_classes = meta["stance_classes"]
        # the heads' weights as (features x classes), the layout Rows.decision reads fastest
        self.weights = {head: np.ascontiguousarray(arrays[f"{head}_coef"].T)
                        for head in ("stance", "themes") if f"{head}_coef" in arrays}
        self.rules = None
        if meta.get("theme_rules"):
            from ..label.rules import RuleFeatures

            self.rules = RuleFeatures(meta["theme_rules"], meta.get("rules_weight", 1.0))

    # -- building from the fitted scikit-learn objects -------------------------------------------
    @classmethod
    def from_parts(cls, parts: dict[str, Any], use_article: bool, rules=None) -> TfidfScorer:
        import numpy as np

        def vec_meta(vec) -> dict[str, Any]:
            tf = vec._tfidf
            if vec.norm != "l2" or not vec.use_idf or vec.binary or vec.stop_words or vec.tokenizer \
                    or vec.preprocessor or vec.strip_accents not in (None, "unicode"):
                raise ValueError("the plain scorer covers l2-normalised idf vectorizers with default analysis")
            terms = sorted(vec.vocabulary_, key=vec.vocabulary_.__getitem__)
            if [vec.vocabulary_[t] for t in terms] != list(range(len(terms))):
                raise ValueError("a fitted vectorizer's vocabulary numbers its columns 0 to n - 1")
            return {"terms": terms,
                    "ngram_range": list(vec.ngram_range), "lowercase": bool(vec.lowercase),
                    "token_pattern": vec.token_pattern, "strip_accents": vec.strip_accents == "unicode",
                    "sublinear_tf": bool(tf.sublinear_tf)}

        stance = parts["stance"]
        heads = parts["themes"]
        meta = {"format": FORMAT, "use_article": use_article, "word": vec_meta(parts["word"]),
                "char": vec_meta(parts["char"]), "stance_classes": [int(c) for c in stance.classes_],
                "themes": len(heads)}
        if rules is not None:
            meta["theme_rules"], meta["rules_weight"] = rules.spec, rules.weight
        arrays = {
            "word_idf": np.ascontiguousarray(parts["word"].idf_, dtype=np.float64),
            "char_idf": np.ascontiguousarray(parts["char"].idf_, dtype=np.float64),
            "stance_coef": np.ascontiguousarray(stance.coef_, dtype=np.float64),
            "stance_intercept": np.ascontiguousarray(stance.intercept_, dtype=np.float64),
        }
        if heads:
            arrays["themes_coef"] = np.ascontiguousarray(np.vstack([h.coef_ for h in heads]), dtype=np.float64)
            arrays["themes_intercept"] = np.ascontiguousarray(
                np.concatenate([h.intercept_ for h in heads]), dtype=np.float64)
        return cls(meta, arrays)

    def save(self, folder: Path) -> None:
        from safetensors.numpy import save_file

        save_file(self.arrays, str(folder / SCORER_ARRAYS))
        (folder / SCORER_JSON).write_text(json.dumps(self.meta, ensure_ascii=False, separators=(",", ":")) + "\n",
                                          encoding="utf-8")

    @classmethod
    def load(cls, folder: Path) -> TfidfScorer:
        from safetensors.numpy import load_file

        try:
            meta = json.loads((folder / SCORER_JSON).read_text(encoding="utf-8"))
            arrays = load_file(str(folder / SCORER_ARRAYS))
        except (OSError, ValueError) as exc:
            raise CommentaryError(f"{folder}: cannot read the tfidf scorer ({exc})",
                                  fix="retrain the model or restore its files") from exc
        if meta.get("format") not in READABLE:
            raise CommentaryError(f"{folder / SCORER_JSON}: scorer format {meta.get('format')!r} is not one "
                                  f"this version reads ({', '.join(map(str, READABLE))})",
                                  fix="retrain the model with this version of commentary")
        return cls(meta, arrays)

    # -- scoring ------------------------------------------------------------------------------------
    def _features(self, inputs: Inputs) -> tuple[Rows, Rows]:
        """(stance rows, theme rows) as ``features`` builds them from the fitted vectorizers, in NumPy."""
        import numpy as np

        n = len(inputs.texts)
        words = self.words.rows(inputs.texts)
        idf = self.chars.transformer
        # a text has about as many character n-gram non-zeros as characters: a large batch is
        # counted word by word through SciPy, a small one in NumPy alone (the same triplets)
        if _scipy_product(sum(map(len, inputs.texts))):
            chars = idf.weigh(*self.chars.counts(inputs.texts), n)
        else:
            chars = idf.rows(*self.chars.ids(inputs.texts))
        base = Rows(n, [words, chars])
        themes = base if self.rules is None else base.plus(np.asarray(self.rules(inputs.texts), dtype=np.float64))
        if not self.use_article:
            return base, themes
        # the comment's word vector times its article's (each distinct article vectorised once)
        distinct = sorted({a or "" for a in inputs.articles})
        index = {a: k for k, a in enumerate(distinct)}
        arts = self.words.rows(distinct)
        width = words.shape[1]
        a_keys = arts.row * width + arts.col  # sorted, as the triplets are
        of = np.asarray([index[a or ""] for a in inputs.articles], dtype=np.int64)
        wanted = of[words.row] * width + words.col
        at = np.minimum(np.searchsorted(a_keys, wanted), max(len(a_keys) - 1, 0))
        hit = (a_keys[at] == wanted) if len(a_keys) else np.zeros(len(wanted), dtype=bool)
        o_row, o_val = words.row[hit], words.val[hit] * arts.val[at[hit]]
        sim = np.bincount(o_row, weights=o_val, minlength=n).reshape(-1, 1)
        return base.plus(_Sparse(o_row, words.col[hit], o_val * 3.0, words.shape), sim), themes

    def predict_proba(self, inputs: Inputs):
        return self.scores(*self._features(inputs))

    def scores(self, xs, xt):
        """Stance and theme probabilities from feature rows (the tfidf ones, or a hybrid's wider rows)."""
        import numpy as np

        a = self.arrays
        d = xs.decision(self.weights["stance"], a["stance_intercept"])
        if d.shape[1] == 1:  # two stance classes: scikit-learn's logistic link
            p1 = 1.0 / (1.0 + np.exp(-d[:, 0]))
            ps = np.column_stack([1.0 - p1, p1])
        else:
            d -= d.max(axis=1, keepdims=True)
            np.exp(d, d)
            ps = d / d.sum(axis=1, keepdims=True)
        if self.meta["themes"]:
            z = xt.decision(self.weights["themes"], a["themes_intercept"])
            pt = 1.0 / (1.0 + np.exp(-z))
        else:
            pt = np.zeros((xt.shape[0], 0))
        return ps, pt
