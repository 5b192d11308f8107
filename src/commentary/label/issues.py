"""Likely mislabelled comments, found by confident learning on cross-validated probabilities.

A model is cross-validated on the labelled data (folds grouped by article, so no
comment is scored by a model that saw it or its siblings); cleanlab then flags
the labels that the out-of-fold probabilities contradict with confidence, stance
as one multi-class problem and themes as a multi-label one, ranked by how
unlikely the given label is under the model. The list is for a person to review,
never an automatic correction.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["LabelIssue", "find_label_issues", "is_issues_file"]


@dataclass
class LabelIssue:
    comment_id: str
    text: str
    kind: str  # "stance" or "themes"
    given: Any
    suggested: Any
    quality: float  # cleanlab's label quality score: low means likely wrong

    def to_dict(self) -> dict[str, Any]:
        return {"comment_id": self.comment_id, "kind": self.kind, "given": self.given,
                "suggested": self.suggested, "label_quality": round(self.quality, 4), "text": self.text}


def is_issues_file(path) -> bool:
    """Whether *path* holds likely label errors that ``label issues -o`` wrote (by its first record)."""
    from ..dataset import first_record

    record = first_record(path)
    return record is not None and {"comment_id", "kind", "suggested", "label_quality"} <= set(record)


def find_label_issues(data, config, *, progress: Callable[[str], None] | None = None) -> list[LabelIssue]:
    """The likely label errors in *data* (a TrainingData): stance ones, then theme ones, each worst first."""
    import numpy as np
    from cleanlab.filter import find_label_issues as cl_find
    from cleanlab.rank import get_label_quality_scores

    from ..fitting import cross_val_proba
    from ..model import fit_decisions

    oof_s, oof_t, _ = cross_val_proba(data, config, progress=progress)
    # calibrated, as the model's own decisions would see them
    dec = fit_decisions(oof_s, oof_t, data.stance, data.themes, data.stance_labels, data.theme_labels,
                        abstain_rate=config.abstain_rate)
    ps, pt = dec.calibrate(oof_s, oof_t)
    issues: list[LabelIssue] = []
    flagged = cl_find(labels=data.stance, pred_probs=ps, filter_by="both")
    # normalized margin ranked planted errors best on the starter corpus (docs/labelling.md)
    quality = get_label_quality_scores(data.stance, ps, method="normalized_margin")
    suggested_stance, suggested_themes = dec.decide(ps, pt)
    for i in np.flatnonzero(flagged):
        issues.append(LabelIssue(data.ids[i], data.inputs.texts[i], "stance",
                                 data.stance_labels[int(data.stance[i])],
                                 data.stance_labels[int(suggested_stance[i])], float(quality[i])))
    if data.theme_labels and data.themes.shape[1] > 0:
        given = [list(np.flatnonzero(row)) for row in data.themes]
        flagged = cl_find(labels=given, pred_probs=pt, multi_label=True, filter_by="both")
        from cleanlab.multilabel_classification.rank import get_label_quality_scores as ml_quality

        quality = ml_quality(given, pt)
        for i in np.flatnonzero(flagged):
            suggested = [data.theme_labels[j] for j in np.flatnonzero(suggested_themes[i])]
            issues.append(LabelIssue(data.ids[i], data.inputs.texts[i], "themes",
                                     [data.theme_labels[j] for j in given[i]], suggested, float(quality[i])))
    # stance issues first, then themes; each ranked worst first (their scores are on different scales)
    issues.sort(key=lambda x: (x.kind != "stance", x.quality))
    return issues
