"""The evaluate stage: score a model on gold labels, write reports, and apply CI gates."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .codebook import Codebook
from .dataset import Dataset
from .errors import CommentaryError, UsageError
from .fitting import load_training_data
from .model import expected_calibration_error

__all__ = ["Gate", "measure", "check_gates", "write_reports", "is_report_folder"]


@dataclass
class Gate:
    """One CI condition and how the model fared against it."""

    name: str
    figure: float | None  # None: nothing to measure it on, which fails the gate
    limit: float
    passed: bool

    def describe(self) -> str:
        if self.figure is None:
            return f"{self.name} could not be measured: no gold labels for it (limit {self.limit:.3f})"
        return f"{self.name} is {self.figure:.3f} (limit {self.limit:.3f})"


def measure(model, model_ref: str, model_codebook: str, dataset: Path | Dataset, codebook: Codebook,
            *, by: dict[str, list[int]] | None = None, labels: list | None = None,
            seen: set[str] | None = None) -> dict[str, Any]:
    """Per-label precision, recall, F1 and support; macro and micro F1; confusion; calibration.

    *dataset* is a dataset folder or one already read (the real set is built in memory).
    *labels* (from a labels file) replace the dataset's own.
    With *by* (a name for each group of rows, e.g. the real set's sources), the same
    predictions are also scored group by group, under ``groups``. With *seen* (``registry.trained_on``),
    ``in_training`` counts the gold comments the model was trained on.
    """
    from .dataset import read_dataset

    gold = dataset if isinstance(dataset, Dataset) else read_dataset(dataset)
    if labels is not None:  # gold labels from a file (annotate, label import), joined to the dataset by id
        gold = Dataset(gold.articles, gold.comments, gold.manifest, list(labels), gold.path)
    versions = {lab.codebook_version for lab in gold.labels if lab.codebook_version}
    if versions and versions != {model_codebook}:
        raise CommentaryError(
            f"the gold labels in {gold.path} use codebook {', '.join(sorted(versions))} but {model_ref} "
            f"was trained with codebook {model_codebook}",
            fix="evaluate with gold labels made on the model's codebook, or retrain the model")
    data = load_training_data(gold, codebook, min_examples=0, themes_only=True)
    if data.stance_labels != model.decisions.stance_labels or data.theme_labels != model.decisions.theme_labels:
        raise CommentaryError(f"the codebook's labels differ from those of {model_ref}",
                              fix="pass --codebook with the codebook the model was trained on")
    cs, ct = model.probabilities(data.inputs)
    out = _scores(data, cs, ct, model.decisions)
    if by:
        out["groups"] = {name: _scores(data, cs, ct, model.decisions, rows) for name, rows in by.items()}
    out.update(model=model_ref, dataset=str(gold.path), n=len(data.ids), codebook=model_codebook)
    if seen is not None:
        from .registry import text_hash

        out["in_training"] = sum(text_hash(t) in seen for t in data.inputs.texts)
    return out


def _scores(data, cs, ct, decisions, rows=None) -> dict[str, Any]:
    import numpy as np
    from sklearn.metrics import confusion_matrix

    from .fitting import score

    rows = np.arange(len(data.ids)) if rows is None else np.asarray(rows, dtype=int)
    y, cs, ct = data.stance[rows], cs[rows], ct[rows]
    stances, themes = decisions.decide(cs, ct, [data.inputs.texts[i] for i in rows])
    out = score(y, stances, data.themes[rows], themes, data.stance_labels, data.theme_labels)
    out["n"] = len(rows)
    has = y >= 0
    pred = stances[has]
    conf = cs[has][np.arange(len(pred)), pred]
    correct = pred == y[has]
    edges = np.linspace(0, 1, 11)
    bins = []
    for lo, hi in zip(edges[:-1], edges[1:]):
        mask = (conf > lo) & (conf <= hi)
        if mask.any():
            bins.append({"from": float(lo), "to": float(hi), "n": int(mask.sum()),
                         "confidence": float(conf[mask].mean()), "accuracy": float(correct[mask].mean())})
    k = len(data.stance_labels)
    out["stance"]["confusion"] = {
        "labels": data.stance_labels,
        "matrix": (confusion_matrix(y[has], pred, labels=range(k)).tolist() if has.any()
                   else [[0] * k for _ in range(k)])}
    out["stance"]["ece"] = expected_calibration_error(conf, correct) if has.any() else None
    out["stance"]["reliability"] = bins
    return out


def _figure(metrics: dict[str, Any], name: str) -> float | None:
    """A metric by name: stance_macro_f1, themes_macro_f1, themes_micro_f1, or a label's F1."""
    if name in ("stance_macro_f1", "macro_f1"):
        return metrics["stance"]["macro_f1"]
    if name in ("themes_macro_f1", "themes_micro_f1"):
        return metrics["themes"][name.split("_", 1)[1]]
    for head in ("stance", "themes"):
        if name in metrics[head]["per_label"]:
            return metrics[head]["per_label"][name]["f1"]
    return None


def check_gates(metrics: dict[str, Any], *, min_macro_f1: float | None = None,
                min_f1: dict[str, float] | None = None, baseline: dict[str, Any] | None = None,
                max_drop: float | None = None) -> list[Gate]:
    """Every gate asked for, passed or not."""
    gates: list[Gate] = []
    if min_macro_f1 is not None:
        for name in ("stance_macro_f1", "themes_macro_f1"):
            fig = _figure(metrics, name)
            if fig is not None:  # a gold set for themes alone gates themes alone
                gates.append(Gate(name, fig, min_macro_f1, fig >= min_macro_f1))
        if not gates:  # a gate that nothing could be measured for must not pass
            gates.append(Gate("stance and themes macro-F1", None, min_macro_f1, False))
    for label, limit in (min_f1 or {}).items():
        fig = _figure(metrics, label)
        if fig is None:
            raise UsageError(f"--min-f1 names {label!r}, which is not a label of this model",
                                  fix="use a stance or theme id from the codebook")
        gates.append(Gate(f"{label} F1", fig, limit, fig >= limit))
    if baseline is not None:
        drop = 0.0 if max_drop is None else max_drop
        for name in ("stance_macro_f1", "themes_macro_f1"):
            now, before = _figure(metrics, name), _figure(baseline, name)
            if now is not None and before is not None:
                gates.append(Gate(f"{name} vs {baseline['model']}", now, before - drop, now >= before - drop))
    return gates


def _plots(metrics: dict[str, Any], folder: Path) -> list[str]:
    """The stance reliability diagram and confusion matrix, drawn by scikit-learn's displays."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np
    from sklearn.calibration import CalibrationDisplay
    from sklearn.metrics import ConfusionMatrixDisplay

    rel = metrics["stance"]["reliability"]
    if not rel:
        return []
    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    CalibrationDisplay(prob_true=np.array([b["accuracy"] for b in rel]),
                       prob_pred=np.array([b["confidence"] for b in rel]), y_prob=None,
                       estimator_name="model").plot(ax=ax)
    ax.set(xlabel="confidence", ylabel="accuracy", xlim=(0, 1), ylim=(0, 1),
           title=f"stance reliability (ECE {metrics['stance']['ece']:.3f})")
    fig.tight_layout()
    fig.savefig(folder / "reliability.png", dpi=100)
    plt.close(fig)
    conf = metrics["stance"]["confusion"]
    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    ConfusionMatrixDisplay(np.array(conf["matrix"]), display_labels=conf["labels"]).plot(
        ax=ax, cmap="Blues", colorbar=False)
    ax.set(xlabel="predicted", ylabel="gold", title="stance confusion")
    fig.tight_layout()
    fig.savefig(folder / "confusion.png", dpi=100)
    plt.close(fig)
    return list(REPORT_PLOTS)


def render_report(metrics: dict[str, Any], gates: list[Gate]) -> str:
    """The evaluation as Markdown."""
    lines = [f"# Evaluation of {metrics['model']}", "",
             f"{metrics['n']} gold-labelled comments from `{metrics['dataset']}`, codebook {metrics['codebook']}.", ""]
    if metrics.get("in_training"):
        lines[-2] += (f" **{metrics['in_training']} of them were in the model's training data**: the figures "
                      "overstate how it reads new comments.")
    if metrics["stance"]["macro_f1"] is not None:
        lines.append(f"Stance macro-F1 **{metrics['stance']['macro_f1']:.3f}** on {metrics['stance']['n']} comments, "
                     f"accuracy {metrics['stance']['accuracy']:.3f}, calibration error {metrics['stance']['ece']:.3f}.")
    else:
        lines.append("No comment here has a gold stance.")
    if metrics["themes"]["macro_f1"] is not None:
        lines[-1] += (f" Themes macro-F1 **{metrics['themes']['macro_f1']:.3f}**, "
                      f"micro-F1 {metrics['themes']['micro_f1']:.3f}.")
    groups = metrics.get("groups") or {}
    if groups:
        lines += ["", "| source | comments | stance macro-F1 (n) | themes macro-F1 |", "|---|---|---|---|"]
        for name, g in groups.items():
            st = "—" if g["stance"]["macro_f1"] is None else f"{g['stance']['macro_f1']:.3f} ({g['stance']['n']})"
            th = "—" if g["themes"]["macro_f1"] is None else f"{g['themes']['macro_f1']:.3f}"
            lines.append(f"| {name} | {g['n']} | {st} | {th} |")
    lines += ["", "| label | precision | recall | F1 | support |", "|---|---|---|---|---|"]
    for head in ("stance", "themes"):
        for lab, m in metrics[head]["per_label"].items():
            lines.append(f"| {head}: {lab} | {m['precision']:.3f} | {m['recall']:.3f} | {m['f1']:.3f} | {m['support']} |")
    conf = metrics["stance"]["confusion"]
    lines += ["", "Stance confusion (rows gold, columns predicted):", "",
              "| | " + " | ".join(conf["labels"]) + " |", "|---" * (len(conf["labels"]) + 1) + "|"]
    lines += [f"| {lab} | " + " | ".join(map(str, row)) + " |" for lab, row in zip(conf["labels"], conf["matrix"])]
    if gates:
        lines += ["", "## Gates", ""]
        lines += [f"- {'✅' if g.passed else '❌'} {g.describe()}" for g in gates]
    return "\n".join(lines) + "\n"


def _junit(metrics: dict[str, Any], gates: list[Gate], path: Path) -> None:
    """Each gate as a JUnit test case (junitparser), so CI systems show them like tests; with no
    gate, one passing case carries the figures, so CI shows a test rather than "0 tests"."""
    from junitparser import Failure, TestCase, TestSuite

    suite = TestSuite(f"evaluate {metrics['model']}")
    for g in gates:
        case = TestCase(g.name, classname="commentary.evaluate")
        if not g.passed:
            case.result = [Failure(g.describe())]
        suite.add_testcase(case)
    if not gates:
        case = TestCase(f"evaluated {metrics['n']} comments", classname="commentary.evaluate")
        case.system_out = ", ".join(f"{name} {_figure(metrics, name):.3f}" for name in
                                    ("stance_macro_f1", "themes_macro_f1") if _figure(metrics, name) is not None)
        suite.add_testcase(case)
    suite.update_statistics()
    suite.write(str(path))


REPORT_FILES = ("metrics.json", "report.md", "junit.xml")
REPORT_PLOTS = ("reliability.png", "confusion.png")


def is_report_folder(folder: Path) -> bool:
    """Whether *folder* holds an evaluation report that ``write_reports`` wrote, and nothing else
    (raises ``ForeignFilesError`` naming what else it holds: replacing it would delete them)."""
    from .dataset import holds_only

    if not all((Path(folder) / name).is_file() for name in REPORT_FILES):
        return False
    holds_only(folder, REPORT_FILES + REPORT_PLOTS, "an evaluation report")
    return True


def write_reports(metrics: dict[str, Any], gates: list[Gate], folder: Path, *, force: bool = False) -> list[str]:
    """metrics.json, report.md, PNG plots and junit.xml, written together or not at all.

    An existing *folder* is replaced only with *force* and only when it is an earlier report.
    """
    from .dataset import atomic_dir

    with atomic_dir(folder, force=force, ours=is_report_folder, what="an evaluation report") as tmp:
        payload = {**metrics, "gates": [g.__dict__ for g in gates]}
        (tmp / "metrics.json").write_text(json.dumps(payload, indent=2) + "\n")
        (tmp / "report.md").write_text(render_report(metrics, gates))
        _junit(metrics, gates, tmp / "junit.xml")
        files = ["metrics.json", "report.md", "junit.xml", *_plots(metrics, tmp)]
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary:
        with open(summary, "a", encoding="utf-8") as fh:
            fh.write(render_report(metrics, gates))
    return files
