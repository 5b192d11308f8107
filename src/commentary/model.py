"""A trained model: a backend plus its labels, calibration, theme thresholds and abstain rule.

Calibration, thresholds and the abstain rule are fitted on cross-validated
(out-of-fold) probabilities, so they are honest about unseen comments, and they
are plain numbers saved as JSON beside the backend's own files.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .backends import get_backend
from .backends.base import Inputs

__all__ = ["Decisions", "TrainedModel", "fit_decisions", "expected_calibration_error"]

DECISIONS_FILE = "decisions.json"
_EPS = 1e-6


@dataclass
class Decisions:
    """How raw probabilities become labels: temperature, Platt scaling, thresholds, abstain."""

    stance_labels: list[str]
    theme_labels: list[str]
    temperature: float = 1.0
    platt: dict[str, tuple[float, float]] = field(default_factory=dict)
    thresholds: dict[str, float] = field(default_factory=dict)
    abstain_below: float = 0.0
    # The codebook: "Agreeing while saying the point is old or obvious is still agree." When set, a
    # comment read as mixed without conviction (below one half), with nothing_new among its themes and
    # agree likelier than disagree, is agree: the reservation the model read may be only that the
    # point is old. A confident mixed stays mixed. Set by fit_decisions where the codebook has those
    # labels; absent from older models.
    nothing_new_is_agree: bool = False
    # Stance rules the model obeys (rules marked ``decides: true``, as plain JSON): a comment one of them
    # fires on takes its stance, unless rules for another stance fire too. Its probabilities stay the
    # model's, so a comment the model read otherwise is flagged unsure. Absent from older models.
    stance_rules: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        out = {"stance_labels": self.stance_labels, "theme_labels": self.theme_labels,
               "temperature": self.temperature, "platt": {k: list(v) for k, v in self.platt.items()},
               "thresholds": self.thresholds, "abstain_below": self.abstain_below}
        if self.nothing_new_is_agree:
            out["nothing_new_is_agree"] = True
        if self.stance_rules:
            out["stance_rules"] = self.stance_rules
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Decisions:
        return cls(stance_labels=list(data["stance_labels"]), theme_labels=list(data["theme_labels"]),
                   temperature=float(data["temperature"]),
                   platt={k: (float(v[0]), float(v[1])) for k, v in data["platt"].items()},
                   thresholds={k: float(v) for k, v in data["thresholds"].items()},
                   abstain_below=float(data["abstain_below"]),
                   nothing_new_is_agree=bool(data.get("nothing_new_is_agree", False)),
                   stance_rules=list(data.get("stance_rules", [])))

    def calibrate(self, ps, pt):
        """Return calibrated (stance, theme) probabilities."""
        import numpy as np

        logits = np.log(np.clip(ps, _EPS, 1.0)) / self.temperature
        logits -= logits.max(axis=1, keepdims=True)
        cs = np.exp(logits)
        cs /= cs.sum(axis=1, keepdims=True)
        ct = np.empty_like(pt, dtype=float)
        for j, theme in enumerate(self.theme_labels):
            a, b = self.platt.get(theme, (1.0, 0.0))
            z = np.log(np.clip(pt[:, j], _EPS, 1 - _EPS) / np.clip(1 - pt[:, j], _EPS, 1.0))
            ct[:, j] = 1.0 / (1.0 + np.exp(-(a * z + b)))
        return cs, ct

    def themes_on(self, ct):
        """0/1 theme decisions from calibrated theme probabilities and the per-theme thresholds."""
        import numpy as np

        out = np.zeros(ct.shape, dtype=int)
        for j, theme in enumerate(self.theme_labels):
            out[:, j] = ct[:, j] >= self.thresholds[theme]
        return out

    def decide(self, cs, ct, texts=None):
        """Labels from calibrated probabilities: each comment's stance index (the likeliest, save where
        the codebook rule above applies, or, given the comments' *texts*, a stance rule decides) and
        its 0/1 theme decisions."""
        import numpy as np

        pred, themes = cs.argmax(axis=1), self.themes_on(ct)
        if self.nothing_new_is_agree and len(pred):
            agree, disagree, mixed = (self.stance_labels.index(s) for s in ("agree", "disagree", "mixed"))
            old = themes[:, self.theme_labels.index("nothing_new")] == 1
            unsure = cs[:, mixed] < 0.5
            pred = np.where((pred == mixed) & unsure & old & (cs[:, agree] > cs[:, disagree]), agree, pred)
        if self.stance_rules and texts is not None and len(pred):
            said = self.said_stance(texts)
            pred = np.where(said >= 0, said, pred)
        return pred, themes

    def said_stance(self, texts):
        """Per comment, the stance index its deciding rules give, or -1 (none fired, or rules for two
        stances did)."""
        import numpy as np

        from .label.rules import fired

        rules = _compiled_rules(json.dumps(self.stance_rules, sort_keys=True))
        hits = fired(rules, list(texts))
        target = np.array([self.stance_labels.index(r.target) for r in rules])
        out = np.full(len(texts), -1)
        for i, row in enumerate(hits):
            stances = set(target[row].tolist())
            if len(stances) == 1:
                out[i] = stances.pop()
        return out


_INVISIBLE = re.compile(r"[\s\u00ad\u180e\u200b-\u200f\u2028-\u202f\u205f-\u206f\ufeff]+")


def _blank(text: str) -> bool:
    """Whether a comment holds nothing to read: only spaces, or characters that show nothing (zero-width
    spaces and joiners, direction marks, soft hyphens, a byte-order mark)."""
    return not _INVISIBLE.sub("", text)


@functools.lru_cache(maxsize=8)
def _compiled_rules(specs_json: str) -> tuple:
    """Rules from their specs, compiled once per process (keyed by the specs as JSON)."""
    from .label.rules import Rule

    return tuple(Rule.from_spec(spec) for spec in json.loads(specs_json))


def _fit_temperature(ps, y) -> float:
    import numpy as np
    from scipy.optimize import minimize_scalar

    logp = np.log(np.clip(ps, _EPS, 1.0))

    def nll(t: float) -> float:
        z = logp / t
        z = z - z.max(axis=1, keepdims=True)
        lse = np.log(np.exp(z).sum(axis=1))
        return float(-(z[np.arange(len(y)), y] - lse).mean())

    return float(minimize_scalar(nll, bounds=(0.05, 20.0), method="bounded").x)


def _fit_platt(p, y) -> tuple[float, float]:
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    if len(set(y.tolist())) < 2:
        return 1.0, 0.0
    z = np.log(np.clip(p, _EPS, 1 - _EPS) / np.clip(1 - p, _EPS, 1.0)).reshape(-1, 1)
    lr = LogisticRegression(C=100.0).fit(z, y)
    return float(lr.coef_[0, 0]), float(lr.intercept_[0])


def _best_threshold(p, y) -> float:
    import numpy as np
    from sklearn.metrics import f1_score

    grid = np.round(np.arange(0.05, 0.951, 0.025), 3)
    scores = [(f1_score(y, p >= t, zero_division=0), -abs(t - 0.5), t) for t in grid]
    return float(max(scores)[2])


def fit_decisions(oof_stance, oof_themes, y_stance, y_themes, stance_labels, theme_labels,
                  *, abstain_rate: float = 0.1, stance_rules: list[dict[str, Any]] | None = None) -> Decisions:
    """Fit calibration, thresholds and the abstain cut on out-of-fold probabilities; *stance_rules*
    (deciding rules' specs) are kept as they are."""
    import numpy as np

    dec = Decisions(list(stance_labels), list(theme_labels), stance_rules=list(stance_rules or []))
    has = np.asarray(y_stance) >= 0  # comments labelled for themes only calibrate the themes alone
    dec.temperature = _fit_temperature(oof_stance[has], np.asarray(y_stance)[has])
    dec.platt = {t: _fit_platt(oof_themes[:, j], y_themes[:, j]) for j, t in enumerate(theme_labels)}
    cs, ct = dec.calibrate(oof_stance, oof_themes)
    dec.thresholds = {t: _best_threshold(ct[:, j], y_themes[:, j]) for j, t in enumerate(theme_labels)}
    dec.nothing_new_is_agree = ({"agree", "disagree", "mixed"} <= set(stance_labels)
                                and "nothing_new" in theme_labels)
    # the cut is on the probability of the stance given, as predict's abstain flag reads it
    given = cs[np.arange(len(cs)), dec.decide(cs, ct)[0]]
    dec.abstain_below = float(np.quantile(given[has], abstain_rate)) if abstain_rate > 0 else 0.0
    return dec


def expected_calibration_error(confidence, correct, bins: int = 10) -> float:
    """Weighted gap between confidence and accuracy over equal-width confidence bins."""
    import numpy as np

    confidence = np.asarray(confidence, dtype=float)
    correct = np.asarray(correct, dtype=float)
    edges = np.linspace(0.0, 1.0, bins + 1)
    total = 0.0
    for lo, hi in zip(edges[:-1], edges[1:]):
        mask = (confidence > lo) & (confidence <= hi)
        if mask.any():
            total += mask.mean() * abs(confidence[mask].mean() - correct[mask].mean())
    return float(total)


class TrainedModel:
    """A backend with its decisions; ``predict`` gives labels, probabilities and abstain flags."""

    def __init__(self, backend, decisions: Decisions) -> None:
        self.backend = backend
        self.decisions = decisions

    def probabilities(self, inputs: Inputs):
        return self.decisions.calibrate(*self.backend.predict_proba(inputs))

    def predict(self, inputs: Inputs) -> list[dict[str, Any]]:
        cs, ct = self.probabilities(inputs)
        d = self.decisions
        stances, themes = d.decide(cs, ct, inputs.texts)
        out = []
        for i in range(len(inputs)):
            k = int(stances[i])
            out.append({
                "stance": d.stance_labels[k],
                "stance_probs": {lab: round(float(cs[i, j]), 4) for j, lab in enumerate(d.stance_labels)},
                "themes": [t for j, t in enumerate(d.theme_labels) if themes[i, j]],
                "theme_probs": {t: round(float(ct[i, j]), 4) for j, t in enumerate(d.theme_labels)},
                # a blank comment says nothing: whatever the model reads into it, it is flagged unsure
                "abstain": bool(cs[i, k] < d.abstain_below) or _blank(inputs.texts[i]),
            })
        return out

    def save(self, folder: Path, backend_name: str) -> dict[str, Any]:
        settings = self.backend.save(folder)
        (folder / DECISIONS_FILE).write_text(json.dumps(self.decisions.to_dict(), indent=2) + "\n")
        return {"backend": backend_name, "settings": settings}

    @classmethod
    def load(cls, folder: Path, backend_name: str, settings: dict[str, Any]) -> TrainedModel:
        backend = get_backend(backend_name).load(folder, settings)
        decisions = Decisions.from_dict(json.loads((folder / DECISIONS_FILE).read_text()))
        return cls(backend, decisions)
