"""TF-IDF word and character n-grams with linear heads (scikit-learn), saved with skops.

Scoring a loaded version uses the plain scorer beside the archive (``_tfidf_scorer``),
which needs neither scikit-learn nor skops.

Stance can use the article: the comment's word vector multiplied element-wise with
the article's, so the model sees which of the article's own words the commenter
takes up, beside the comment's words.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ._charwb import CharWbTransform
from ._tfidf_scorer import SCORER_ARRAYS, SCORER_JSON, TfidfScorer, features
from .base import Inputs

__all__ = ["TfidfBackend"]

MODEL_FILE = "tfidf.skops"



class TfidfBackend:
    """Word 1-2 grams and character 2-5 grams, logistic regression heads with class weights."""

    name = "tfidf"
    archive = MODEL_FILE  # the fitted scikit-learn objects, the model of record
    parallel_scoring = True  # small and pure NumPy/SciPy when loaded: cheap to fork for scoring

    def __init__(self, *, seed: int = 0, use_article: bool = True, c_stance: float = 4.0,
                 c_themes: float = 4.0, theme_rules: str | list | None = "default", rules_weight: float = 1.0,
                 **_: Any) -> None:
        self.seed = seed
        self.use_article = use_article
        self.c_stance = c_stance
        self.c_themes = c_themes
        self.rules_weight = rules_weight
        # theme_rules: "default" (the rules that ship with commentary), "none", a rules file, or
        # (in a saved model) the rules themselves as plain JSON
        self.theme_rules = theme_rules
        self._rules = None
        self.parts: dict[str, Any] = {}
        self._chars: CharWbTransform | None = None  # fast char n-grams, built from the fitted vectorizer
        self.scorer: TfidfScorer | None = None  # set when loaded: scores without scikit-learn

    def _features(self, inputs: Inputs):
        """Return (stance features, theme features); themes use the comment alone."""
        if self.scorer is not None:
            return self.scorer._features(inputs)
        if self._chars is None or self._chars.vocabulary is not self.parts["char"].vocabulary_:
            self._chars = CharWbTransform(self.parts["char"])
        return features(inputs, self.parts["word"].transform, self._chars, self.use_article, self.rule_features)

    @property
    def rule_features(self):
        """The theme rules as feature columns, or None when they are off."""
        if self._rules is None and self.theme_rules not in (None, "none", "", []):
            from ..label.rules import RuleFeatures, rule_features_spec

            spec = (self.theme_rules if isinstance(self.theme_rules, list)
                    else rule_features_spec(None if self.theme_rules == "default" else self.theme_rules))
            self._rules = RuleFeatures(spec, self.rules_weight)
        return self._rules

    def fit(self, inputs: Inputs, stance, themes, unlabelled: Inputs | None = None) -> None:
        import numpy as np
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression

        corpus = list(inputs.texts) + (list(unlabelled.texts) if unlabelled else [])
        if self.use_article:
            corpus += sorted({a for a in inputs.articles if a})
        self.parts["word"] = TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True,
                                             max_features=60000, strip_accents="unicode").fit(corpus)
        self.parts["char"] = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), min_df=2,
                                             sublinear_tf=True, max_features=80000).fit(corpus)
        xs, xt = self._features(inputs)
        has = np.asarray(stance) >= 0  # comments labelled for themes only train the theme heads alone
        self.parts["stance"] = LogisticRegression(
            C=self.c_stance, class_weight="balanced", max_iter=3000, random_state=self.seed
        ).fit(xs[has], np.asarray(stance)[has])
        heads = []
        for j in range(themes.shape[1]):
            y = np.asarray(themes[:, j])
            # liblinear: same model, solved in the dual, several times faster than lbfgs on sparse text
            heads.append(LogisticRegression(C=self.c_themes, class_weight="balanced", solver="liblinear",
                                            intercept_scaling=10.0, random_state=self.seed).fit(xt, y))
        self.parts["themes"] = heads

    @property
    def stance_classes(self):
        if self.scorer is not None:
            return self.scorer.stance_classes
        return self.parts["stance"].classes_

    def predict_proba(self, inputs: Inputs):
        return self._scores(*self._features(inputs))

    def _scores(self, xs, xt):
        import numpy as np

        if self.scorer is not None:
            return self.scorer.scores(xs, xt)
        ps = self.parts["stance"].predict_proba(xs)
        heads = self.parts["themes"]
        pt = (np.column_stack([h.predict_proba(xt)[:, 1] for h in heads]) if heads
              else np.zeros((xt.shape[0], 0)))
        return ps, pt

    def save(self, folder: Path) -> dict[str, Any]:
        from .safety import dump_skops

        for key in ("word", "char"):
            # Plain ints keep the archive small and fast (numpy ints become one array each).
            vec = self.parts[key]
            vec.vocabulary_ = {term: int(k) for term, k in vec.vocabulary_.items()}
        dump_skops(self.parts, folder / self.archive)
        # The same numbers as plain arrays, for scoring without scikit-learn or skops.
        rules = self.rule_features
        TfidfScorer.from_parts(self.parts, self.use_article, rules).save(folder)
        # the rules themselves (not a path) travel with the version, so it scores the same anywhere
        return {"use_article": self.use_article, "c_stance": self.c_stance, "c_themes": self.c_themes,
                "seed": self.seed, "theme_rules": rules.spec if rules else "none", "rules_weight": self.rules_weight}

    @classmethod
    def load(cls, folder: Path, settings: dict[str, Any]) -> TfidfBackend:
        from .safety import load_skops

        # versions saved before theme-rule features have no such columns: never add them on load
        backend = cls(**{"theme_rules": "none", **settings})
        if (folder / SCORER_JSON).exists() and (folder / SCORER_ARRAYS).exists():
            backend.scorer = TfidfScorer.load(folder)  # fast: no scikit-learn or skops import
        else:  # versions saved before the plain scorer existed
            backend.parts = load_skops(folder / cls.archive)
        return backend

    def audit(self, folder: Path) -> None:
        """Load the scikit-learn archive through the skops type audit (``models verify``)."""
        from .safety import load_skops

        self.parts = load_skops(folder / self.archive)
