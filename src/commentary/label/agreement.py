"""Agreement between annotators: Cohen's kappa for two, Krippendorff's alpha for any number."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from ..codebook import Codebook
from ..errors import CommentaryError
from ..records import Labels

__all__ = ["Agreement", "pairwise_agreement", "MultiAgreement", "multi_agreement"]


@dataclass
class Agreement:
    """Kappa and raw agreement for stance and each theme, over the comments both labelled."""

    n: int
    stance_kappa: float | None
    stance_agreement: float
    themes: dict[str, dict[str, float]] = field(default_factory=dict)
    disagreements: list[dict] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"n": self.n, "stance": {"kappa": self.stance_kappa, "agreement": self.stance_agreement},
                "themes": self.themes, "disagreements": self.disagreements}


def _kappa(a: Sequence, b: Sequence) -> float | None:
    """Cohen's kappa; None when both gave one and the same label to everything (a theme nobody
    used): chance agreement is then total and kappa undefined, not a perfect 1.0."""
    from sklearn.metrics import cohen_kappa_score

    if len(set(a) | set(b)) < 2:
        return None
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


@dataclass
class MultiAgreement:
    """Krippendorff's alpha (nominal) across any number of annotators, over comments two or more labelled."""

    annotators: list[str]
    n: int
    stance_alpha: float | None
    stance_agreement: float
    themes: dict[str, dict[str, float]] = field(default_factory=dict)
    disagreements: list[dict] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"annotators": self.annotators, "n": self.n,
                "stance": {"alpha": self.stance_alpha, "agreement": self.stance_agreement},
                "themes": self.themes, "disagreements": self.disagreements}


def _alpha(matrix) -> float | None:
    """Nominal alpha of an annotators x comments matrix of codes (NaN where not labelled)."""
    import krippendorff
    import numpy as np

    values = matrix[~np.isnan(matrix)]
    if len(np.unique(values)) < 2:
        return None  # everyone gave the same single label (a theme nobody used): undefined, not perfect
    return float(krippendorff.alpha(reliability_data=matrix, level_of_measurement="nominal"))


def multi_agreement(label_sets: Sequence[Sequence[Labels]], names: Sequence[str],
                    codebook: Codebook) -> MultiAgreement:
    """Compare any number of annotators on the comments at least two of them labelled."""
    import numpy as np

    maps = [{lab.comment_id: lab for lab in labels} for labels in label_sets]
    for name, m in zip(names, maps):
        for lab in m.values():
            codebook.check(lab.stance, lab.themes, where=f"{name}: comment {lab.comment_id}")
    counts: dict[str, int] = {}
    for m in maps:
        for cid in m:
            counts[cid] = counts.get(cid, 0) + 1
    units = sorted(cid for cid, k in counts.items() if k >= 2)
    if not units:
        raise CommentaryError("no comment was labelled by two or more of the annotators",
                              fix="label the same comments in several files, joined by comment id")
    stances = codebook.stance_ids
    stance = np.full((len(maps), len(units)), np.nan)
    for a, m in enumerate(maps):
        for u, cid in enumerate(units):
            if cid in m and m[cid].stance is not None:
                stance[a, u] = stances.index(m[cid].stance)

    def observed(matrix) -> float:
        """Share of annotator pairs, over all comments, that gave the same label."""
        same = total = 0
        for col in matrix.T:
            vals = col[~np.isnan(col)]
            for i in range(len(vals)):
                for j in range(i + 1, len(vals)):
                    total += 1
                    same += vals[i] == vals[j]
        return same / total if total else 1.0

    result = MultiAgreement(list(names), len(units), _alpha(stance), observed(stance))
    for theme in codebook.theme_ids:
        mat = np.full((len(maps), len(units)), np.nan)
        for a, m in enumerate(maps):
            for u, cid in enumerate(units):
                if cid in m:
                    mat[a, u] = float(theme in m[cid].themes)
        result.themes[theme] = {"alpha": _alpha(mat), "agreement": observed(mat),
                                "positives": {n: int(np.nansum(mat[a])) for a, n in enumerate(names)}}
    for cid in units:
        given = {n: m[cid] for n, m in zip(names, maps) if cid in m}
        if len({lab.stance for lab in given.values()}) > 1 or len({frozenset(lab.themes) for lab in given.values()}) > 1:
            result.disagreements.append({"comment_id": cid, "labels": {
                n: {"stance": lab.stance, "themes": sorted(lab.themes)} for n, lab in given.items()}})
    return result
