"""Agreement between annotators: Cohen's kappa for stance and for each theme."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from ..codebook import Codebook
from ..errors import CommentaryError
from ..records import Labels

__all__ = ["Agreement", "pairwise_agreement"]


@dataclass
class Agreement:
    """Kappa and raw agreement for stance and each theme, over the comments both labelled."""

    n: int
    stance_kappa: float
    stance_agreement: float
    themes: dict[str, dict[str, float]] = field(default_factory=dict)
    disagreements: list[dict] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"n": self.n, "stance": {"kappa": self.stance_kappa, "agreement": self.stance_agreement},
                "themes": self.themes, "disagreements": self.disagreements}


def _kappa(a: Sequence, b: Sequence) -> float:
    from sklearn.metrics import cohen_kappa_score

    if len(set(a) | set(b)) < 2:
        return 1.0  # both gave one and the same label to everything: perfect, not undefined
    return float(cohen_kappa_score(a, b))


def pairwise_agreement(first: Sequence[Labels], second: Sequence[Labels], codebook: Codebook) -> Agreement:
    """Compare two annotators on the comments both of them labelled."""
    by_id = {lab.comment_id: lab for lab in first}
    pairs = [(by_id[lab.comment_id], lab) for lab in second if lab.comment_id in by_id]
    if not pairs:
        raise CommentaryError("the two label sets share no comment ids",
                              fix="label the same comments in both, joined by comment id")
    for x, y in pairs:
        codebook.check(x.stance, x.themes, where=f"comment {x.comment_id}")
        codebook.check(y.stance, y.themes, where=f"comment {y.comment_id}")
    sa = [x.stance for x, _ in pairs]
    sb = [y.stance for _, y in pairs]
    result = Agreement(n=len(pairs), stance_kappa=_kappa(sa, sb),
                       stance_agreement=sum(p == q for p, q in zip(sa, sb)) / len(pairs))
    for theme in codebook.theme_ids:
        ta = [theme in x.themes for x, _ in pairs]
        tb = [theme in y.themes for _, y in pairs]
        result.themes[theme] = {
            "kappa": _kappa(ta, tb),
            "agreement": sum(p == q for p, q in zip(ta, tb)) / len(pairs),
            "positives_first": sum(ta), "positives_second": sum(tb),
        }
    for x, y in pairs:
        if x.stance != y.stance or set(x.themes) != set(y.themes):
            result.disagreements.append({
                "comment_id": x.comment_id, "first": {"stance": x.stance, "themes": sorted(x.themes)},
                "second": {"stance": y.stance, "themes": sorted(y.themes)},
            })
    return result
