"""Labelling rules: phrases, regular expressions and simple conditions that give weak labels.

A rules file sits beside the codebook (``data/rules.yaml`` ships with commentary;
``commentary label rules --write`` copies it to edit). Applying the rules to a
dataset gives a vote matrix (which rule fired on which comment); a report per
rule (coverage, overlaps, conflicts, accuracy against gold labels where there
are any); and training labels combined from the votes, by majority vote or by a
label model, marked weak.

For stance, the label model is a one-coin Dawid-Skene model: each rule that
fires is right with its own accuracy, measured on whatever gold labels there are
(a few dozen labelled comments are enough to rank the rules), so a conflict is
settled in favour of the more accurate rules. Themes are
multi-label: each theme is its own yes/no question, marked when any of its rules
fires (theme rules only ever vote "present").
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..codebook import Codebook, _Doc
from ..errors import CodebookError, UsageError
from ..records import Comment, Labels

__all__ = ["Rule", "RuleSet", "load_rules", "default_rules_path", "apply_rules", "Votes", "rule_report",
           "rule_features_spec", "deciding_rules_spec", "RuleFeatures", "fired",
           "combine", "COMBINERS"]

COMBINERS = ("majority", "label-model")
_RULE_KEYS = {"name", "label", "phrases", "regex", "unless", "min_words", "max_words", "reply", "question", "decides"}
_TOP_KEYS = {"version", "codebook", "rules"}
# Before matching, curly quotes become straight and every other space Python's \s knows (no-break spaces
# come with text copied from web pages) a plain one: RE2's \s is only [\t\n\f\r ], so both engines
# below read a text alike. (Every Unicode space lies below U+3001.)
_NORMAL = str.maketrans({"\u2019": "'", "\u2018": "'", "\u201c": '"', "\u201d": '"',
                         **{chr(c): " " for c in range(0x3001) if chr(c).isspace() and chr(c) not in " \t\n\f\r"}})
_PHRASES_OPEN, _PHRASES_CLOSE = r"(?<!\w)(?:", r")(?!\w)"  # how _phrase_regex makes a phrase list whole-word


def _matcher(pattern: str):
    """A compiled case-insensitive search for *pattern*: RE2 where it takes the pattern, else Python's re.

    RE2 (google-re2) searches in linear time, about ten times faster than re on these rules; it
    has no lookarounds or backreferences, so a pattern that needs them runs on re. Phrase lists are
    written with lookarounds (whole words); for a yes/no search the same test is written for RE2
    with a non-word character or the text's edge on each side. RE2's \\b and \\d are ASCII-only,
    which no rule shipped here depends on (the same rules fire on the same comments of every corpus
    in tests/test_labelling.py).

    Returns the compiled pattern and whether it searches a text's UTF-8 bytes (RE2: given a str,
    its Python wrapper encodes the text and maps byte offsets to characters on every search, which
    a yes/no test does not need; ``fired`` encodes each text once for all the rules).
    """
    try:
        import re2
    except ImportError:  # a platform without google-re2's wheels
        return re.compile(pattern, re.IGNORECASE), False
    pattern_for_re2 = pattern
    end = pattern.find(_PHRASES_CLOSE) if pattern.startswith(_PHRASES_OPEN) else -1
    if end > 0:  # the phrase list, then perhaps "|(?:regex)..."
        body = pattern[len(_PHRASES_OPEN):end]
        pattern_for_re2 = r"(?:^|[^\pL\pN_])(?:" + body + r")(?:[^\pL\pN_]|$)" + pattern[end + len(_PHRASES_CLOSE):]
    options = re2.Options()
    options.case_sensitive = False
    options.log_errors = False
    try:
        return re2.compile(pattern_for_re2, options), True
    except re2.error:
        return re.compile(pattern, re.IGNORECASE), False


def default_rules_path() -> Path:
    return Path(__file__).resolve().parents[1] / "data" / "rules.yaml"


@dataclass(frozen=True)
class Rule:
    """One labelling function: when it fires, it votes for its label."""

    name: str
    label: str  # a theme id, or "stance:<id>"
    pattern: str | None = None  # a regular expression, searched case-insensitively
    unless: str | None = None
    min_words: int | None = None
    max_words: int | None = None
    reply: bool | None = None
    question: bool | None = None
    decides: bool = False  # a stance rule a trained model obeys (``deciding_rules_spec``)
    _search: Any = field(default=None, init=False, repr=False, compare=False)  # (compiled, reads bytes)
    _veto: Any = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_search", _matcher(self.pattern) if self.pattern else None)
        object.__setattr__(self, "_veto", _matcher(self.unless) if self.unless else None)

    @property
    def kind(self) -> str:
        return "stance" if self.label.startswith("stance:") else "theme"

    @property
    def target(self) -> str:
        return self.label.split(":", 1)[1] if self.kind == "stance" else self.label

    def to_spec(self) -> dict[str, Any]:
        """The rule as plain JSON (a model keeps its theme rules and deciding stance rules this way)."""
        spec = {"name": self.name, "label": self.label, "pattern": self.pattern, "unless": self.unless,
                "min_words": self.min_words, "max_words": self.max_words, "reply": self.reply,
                "question": self.question}
        return {**spec, "decides": True} if self.decides else spec

    @classmethod
    def from_spec(cls, spec: dict[str, Any]) -> Rule:
        return cls(name=spec["name"], label=spec["label"], pattern=spec["pattern"] or None,
                   unless=spec["unless"] or None, min_words=spec["min_words"], max_words=spec["max_words"],
                   reply=spec.get("reply"), question=spec["question"], decides=bool(spec.get("decides", False)))

    def fires(self, text: str, data: bytes, words: int, is_reply: bool) -> bool:
        """Whether the rule fires on *text*, normalised as ``fired`` does (*data*: its UTF-8 bytes,
        which RE2 searches)."""
        if self.min_words is not None and words < self.min_words:
            return False
        if self.max_words is not None and words > self.max_words:
            return False
        if self.reply is not None and self.reply != is_reply:
            return False
        if self.question is not None and self.question != ("?" in text):
            return False
        if self._search is not None and not _found(self._search, text, data):
            return False
        return not (self._veto is not None and _found(self._veto, text, data))


@dataclass
class RuleSet:
    version: str
    codebook_version: str | None
    rules: list[Rule]
    path: str


def _phrase_regex(phrases: Sequence[str]) -> str:
    """Whole words, case aside; between a phrase's words any spacing or hyphens ("one size fits all"
    matches "one-size fits all" and "one-size-fits-all")."""
    parts = [r"[\s-]+".join(re.escape(w) for w in re.split(r"[\s-]+", p.translate(_NORMAL).lower()) if w)
             for p in phrases]
    return r"(?<!\w)(?:" + "|".join(parts) + r")(?!\w)"


def load_rules(path: str | Path | None, codebook: Codebook | None) -> RuleSet:
    """Read and check a rules file; every mistake names its line.

    With no *codebook*, labels are not checked against one (a model's theme-rule features
    take the rules as they are; its heads decide what each rule means).
    """
    path = Path(path) if path else default_rules_path()
    if not path.is_file():
        raise CodebookError(f"rules file {path} does not exist",
                            fix="write one with `commentary label rules --write FILE`")
    doc = _Doc(path.read_text(encoding="utf-8"), str(path))
    top = doc.mapping(doc.root, _TOP_KEYS, "the rules file")
    if "rules" not in top:
        raise doc.fail(doc.root, "the rules file has no 'rules'", "add `rules:` with a list of rules")
    import yaml

    if not isinstance(top["rules"], yaml.SequenceNode) or not top["rules"].value:
        raise doc.fail(top["rules"], "rules must be a non-empty list", "write each rule as `- name: ...`")
    known = (set(codebook.theme_ids) | {f"stance:{s}" for s in codebook.stance_ids}) if codebook else set()
    rules: list[Rule] = []
    names: set[str] = set()
    for node in top["rules"].value:
        f = doc.mapping(node, _RULE_KEYS, "a rule")
        for key in ("name", "label"):
            if key not in f:
                raise doc.fail(node, f"a rule has no {key!r}", f"add `{key}: ...`")
        name = doc.text(f["name"], "name")
        if name in names:
            raise doc.fail(f["name"], f"rule {name!r} is defined twice", "give each rule its own name")
        names.add(name)
        label = doc.text(f["label"], f"{name}.label")
        if codebook is not None and label not in known:
            raise doc.fail(f["label"], f"rule {name!r}: label {label!r} is not in codebook {codebook.version}",
                           f"use a theme ({', '.join(codebook.theme_ids)}) or stance:<{'|'.join(codebook.stance_ids)}>")
        alternatives = []
        if "phrases" in f:
            alternatives.append(_phrase_regex(doc.texts(f["phrases"], f"{name}.phrases")))
        for key in ("regex", "unless"):
            for item in f[key].value if key in f and isinstance(f[key], yaml.SequenceNode) else []:
                try:
                    re.compile(item.value)
                except re.error as exc:
                    raise doc.fail(item, f"rule {name!r}: bad regular expression ({exc})",
                                   "fix the pattern (remember to escape . ( ) [ ] ?)") from exc
        if "regex" in f:
            alternatives += [f"(?:{r})" for r in doc.texts(f["regex"], f"{name}.regex")]
        unless = doc.texts(f["unless"], f"{name}.unless") if "unless" in f else ()
        numbers: dict[str, Any] = {}
        for key in ("min_words", "max_words"):
            if key in f:
                value = doc.text(f[key], f"{name}.{key}")
                if not value.isdigit():
                    raise doc.fail(f[key], f"rule {name!r}: {key} must be a whole number", "write e.g. 5")
                numbers[key] = int(value)
        for key in ("reply", "question", "decides"):
            if key in f:
                value = doc.text(f[key], f"{name}.{key}").lower()
                if value not in ("true", "false"):
                    raise doc.fail(f[key], f"rule {name!r}: {key} must be true or false", "write true or false")
                numbers[key] = value == "true"
        if numbers.get("decides") and not label.startswith("stance:"):
            raise doc.fail(f["decides"], f"rule {name!r}: only a stance rule can decide",
                           "remove `decides`, or give the rule a stance:<id> label")
        if not alternatives and not {k: v for k, v in numbers.items() if k != "decides"}:
            raise doc.fail(node, f"rule {name!r} has nothing to test",
                           "add phrases, regex, or a condition such as max_words")
        rules.append(Rule(
            name=name, label=label,
            pattern="|".join(alternatives) if alternatives else None,
            unless="|".join(f"(?:{u})" for u in unless) if unless else None,
            **numbers))
    version = doc.text(top["version"], "version") if "version" in top else "0"
    written_for = doc.text(top["codebook"], "codebook") if "codebook" in top else None
    return RuleSet(version, written_for, rules, str(path))


def rule_features_spec(path: str | Path | None) -> list[dict[str, Any]]:
    """The theme rules of a rules file as plain JSON (for a model to keep and score with)."""
    return [r.to_spec() for r in load_rules(path, None).rules if r.kind == "theme"]


def deciding_rules_spec(path: str | Path | None) -> list[dict[str, Any]]:
    """The stance rules of a rules file marked ``decides: true``, as plain JSON: a trained model keeps
    them and gives a comment the stance of the one that fires (``model.Decisions``)."""
    return [r.to_spec() for r in load_rules(path, None).rules if r.kind == "stance" and r.decides]


def fired(rules: Sequence[Rule], texts: Sequence[str], replies: Sequence[bool] | None = None):
    """An n x R bool array: which rule fired on which text."""
    import numpy as np

    out = np.zeros((len(texts), len(rules)), dtype=bool)
    for i, text in enumerate(texts):
        text = text.translate(_NORMAL)
        data = _utf8(text)
        words = len(text.split())
        is_reply = bool(replies[i]) if replies is not None else False
        for j, rule in enumerate(rules):
            out[i, j] = rule.fires(text, data, words, is_reply)
    return out


def _utf8(text: str) -> bytes:
    # a lone surrogate (possible from the Python API, not from the readers) becomes bytes that no
    # letter class matches, instead of an encoding error
    return text.encode("utf-8", "surrogatepass")


def _found(matcher: tuple[Any, bool], text: str, data: bytes) -> bool:
    """Whether a ``_matcher`` finds its pattern: RE2 in the bytes, Python's re in the str."""
    compiled, on_bytes = matcher
    return compiled.search(data if on_bytes else text) is not None


class RuleFeatures:
    """One column per theme rule, *weight* where it fired on the comment. Built from ``rule_features_spec``."""

    def __init__(self, spec: list[dict[str, Any]], weight: float = 1.0) -> None:
        self.spec = spec
        self.weight = weight
        self.rules = [Rule.from_spec(r) for r in spec]

    def __call__(self, texts: Sequence[str]):
        return fired(self.rules, texts) * self.weight


@dataclass
class Votes:
    """Which rule fired on which comment."""

    comment_ids: list[str]
    rules: list[Rule]
    fired: Any  # n x R bool array


def apply_rules(rules: RuleSet, comments: Sequence[Comment]) -> Votes:
    return Votes([c.id for c in comments], list(rules.rules),
                 fired(rules.rules, [c.text for c in comments], [bool(c.parent_id) for c in comments]))


def rule_report(votes: Votes, gold: dict[str, Labels] | None = None) -> list[dict[str, Any]]:
    """Per rule: coverage, overlaps and conflicts with the other rules, and accuracy on gold labels."""
    import numpy as np

    f = votes.fired
    n = max(len(votes.comment_ids), 1)
    out = []
    for j, rule in enumerate(votes.rules):
        mine = f[:, j]
        same = [k for k, r in enumerate(votes.rules) if k != j and r.kind == rule.kind
                and (r.kind == "stance" or r.target == rule.target)]
        other_stances = [k for k, r in enumerate(votes.rules) if r.kind == "stance" and r.target != rule.target]
        row: dict[str, Any] = {
            "rule": rule.name, "label": rule.label, "fired": int(mine.sum()), "coverage": float(mine.sum() / n),
            "overlaps": float((mine & f[:, same].any(axis=1)).sum() / n) if same else 0.0,
            "conflicts": float((mine & f[:, other_stances].any(axis=1)).sum() / n)
            if rule.kind == "stance" and other_stances else 0.0,
            "accuracy": None, "gold_fired": 0,
        }
        if gold:
            hits = [i for i in np.flatnonzero(mine) if votes.comment_ids[i] in gold]
            row["gold_fired"] = len(hits)
            if hits:
                right = [(gold[votes.comment_ids[i]].stance == rule.target) if rule.kind == "stance"
                         else (rule.target in gold[votes.comment_ids[i]].themes) for i in hits]
                row["accuracy"] = float(np.mean(right))
        out.append(row)
    return out


def _label_model(fired, rule_class, n_classes: int, correct=None, prior_accuracy: float = 0.7,
                 strength: float = 4.0):
    """A one-coin label model: posteriors (n x C) and each rule's accuracy.

    Each rule that fires votes for its class and is right with its own accuracy
    ``a_j``, spreading its errors evenly over the other classes (Dawid and Skene's
    one-coin model); the posterior weighs every vote by its rule's log-odds. The
    accuracies come from gold labels where there are some (*correct*: n x R, True
    where the rule fired and was right, None without gold), shrunk towards
    *prior_accuracy* with the weight of *strength* votes; without gold every rule
    gets the prior, and the model reduces to a majority vote that abstains on ties.
    (Votes alone cannot estimate the accuracies here: a lone vote fits any accuracy
    equally well, and rules of different labels only ever conflict.) The class
    prior is uniform, since rules fire on a biased sample of comments.
    """
    import numpy as np

    n, r = fired.shape
    cls = np.asarray(rule_class)
    onehot = np.zeros((r, n_classes))
    onehot[np.arange(r), cls] = 1.0
    x = fired.astype(float)
    if correct is None:
        acc = np.full(r, prior_accuracy)
    else:
        judged = correct.judged  # n x R: fired on a comment with a gold label
        acc = (correct.right.sum(axis=0) + prior_accuracy * strength) / (judged.sum(axis=0) + strength)
    acc = np.clip(acc, 1e-3, 1 - 1e-3)
    right = np.log(acc)[:, None] * onehot
    wrong = np.log((1 - acc) / max(n_classes - 1, 1))[:, None] * (1 - onehot)
    log = x @ (right + wrong)
    log -= log.max(axis=1, keepdims=True)
    post = np.exp(log)
    post /= post.sum(axis=1, keepdims=True)
    ties = (np.isclose(post, post.max(axis=1, keepdims=True))).sum(axis=1) > 1
    post[ties] = 1.0 / n_classes  # a split vote says nothing
    return post, acc


@dataclass
class _Correct:
    judged: Any
    right: Any


@dataclass
class Combined:
    labels: list[Labels]
    no_stance: int
    stance_covered: int
    themes_given: dict[str, int] = field(default_factory=dict)


def combine(votes: Votes, codebook: Codebook, method: str = "majority", *, min_confidence: float = 0.5,
            gold: dict[str, Labels] | None = None, created: str | None = None) -> Combined:
    """Weak training labels from the votes. Comments no stance rule fired on get no label.

    With ``label-model``, gold labels (where given) set how much each rule's vote weighs.
    """
    import numpy as np

    if method not in COMBINERS:
        raise UsageError(f"unknown way to combine votes {method!r}", fix=f"use one of {', '.join(COMBINERS)}")
    stances = codebook.stance_ids
    f = votes.fired
    n = len(votes.comment_ids)
    s_cols = [j for j, r in enumerate(votes.rules) if r.kind == "stance"]
    counts = np.zeros((n, len(stances)))
    for j in s_cols:
        counts[:, stances.index(votes.rules[j].target)] += f[:, j]
    covered = counts.sum(axis=1) > 0
    if method == "majority":
        top = counts.max(axis=1, keepdims=True)
        winners = (counts == top) & covered[:, None]
        stance_of = [stances[int(np.argmax(w))] if w.sum() == 1 else None for w in winners]
    elif s_cols:
        correct = None
        if gold:
            has = np.array([cid in gold for cid in votes.comment_ids])
            truth = np.array([gold[cid].stance if cid in gold else "" for cid in votes.comment_ids])
            judged = f[:, s_cols] & has[:, None]
            right = judged & (truth[:, None] == np.array([votes.rules[j].target for j in s_cols])[None, :])
            correct = _Correct(judged, right)
        post, _ = _label_model(f[:, s_cols], [stances.index(votes.rules[j].target) for j in s_cols], len(stances),
                               correct)
        stance_of = [stances[int(post[i].argmax())] if covered[i] and post[i].max() >= min_confidence else None
                     for i in range(n)]
    else:
        stance_of = [None] * n
    themes_of: list[list[str]] = [[] for _ in range(n)]
    for theme in codebook.theme_ids:
        cols = [j for j, r in enumerate(votes.rules) if r.kind == "theme" and r.target == theme]
        if not cols:
            continue
        # Theme rules only ever vote "present", so each theme is its own yes/no question and
        # both methods mark it when any of its rules fires.
        present = f[:, cols].any(axis=1)
        for i in np.flatnonzero(present):
            themes_of[i].append(theme)
    labels = [Labels(comment_id=cid, stance=stance_of[i], themes=themes_of[i], annotator=f"rules:{method}",
                     created=created, codebook_version=codebook.version, weak=True)
              for i, cid in enumerate(votes.comment_ids) if stance_of[i] is not None]
    given = {t: sum(t in lab.themes for lab in labels) for t in codebook.theme_ids}
    return Combined(labels, no_stance=n - len(labels), stance_covered=int(covered.sum()), themes_given=given)
