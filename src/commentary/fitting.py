"""Fitting a model: settings, data checks, cross-validation by article, decisions, then the final fit
(a whole training run with the registry is ``training``)."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import tomllib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .backends import BACKENDS, default_backend, get_backend
from .backends.base import Inputs, fork_jobs
from .codebook import Codebook
from .dataset import Dataset, read_dataset
from .errors import CommentaryError, InputError, UsageError
from .label.io import join_labels
from .model import TrainedModel, expected_calibration_error, fit_decisions
from .records import Labels

__all__ = ["TrainConfig", "TrainingData", "load_training_data", "load_training_sets", "check_counts", "cross_val_proba",
           "fit", "FitResult", "score"]


@dataclass
class TrainConfig:
    """Every training setting; the resolved copy is saved with the model version."""

    backend: str = "auto"  # hybrid where a sentence encoder is installed, else tfidf
    base_model: str | None = None
    name: str = "commentary"
    seed: int = 13
    cv_folds: int = 5
    abstain_rate: float = 0.1
    # Stance from the comment alone by default: the article features (its overlap with the comment, the
    # product of their embeddings) did not help on real comments, and a model trained with them reads
    # worse when the user gives no article (docs/quality.md, "The article as a stance feature").
    use_article: bool = False
    min_examples: int = 5
    adapt_method: str = "self-training"
    c_stance: float = 4.0
    c_themes: float = 4.0
    epochs: int = 4
    batch_size: int = 16
    learning_rate: float = 5e-5
    max_length: int = 256
    embedding_weight: float = 1.0
    theme_rules: str = "default"  # tfidf and hybrid: "default", "none", or a rules file whose theme rules become features
    stance_rules: str = "default"  # "default", "none", or a rules file whose `decides: true` stance rules the model obeys
    rules_weight: float = 1.0

    def __post_init__(self) -> None:
        if self.backend == "auto":
            self.backend = default_backend()

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, where: str = "settings") -> TrainConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise CommentaryError(f"{where}: unknown setting{'s' if len(unknown) > 1 else ''} "
                                  f"{', '.join(unknown)}", fix=f"use only {', '.join(sorted(known))}")
        for key, value in data.items():
            _check_setting(key, value, where)
        return cls(**data)

    @classmethod
    def resolve(cls, toml_path: Path | None, overrides: dict[str, Any]) -> TrainConfig:
        """Defaults, then the TOML file, then command-line options that were given."""
        values: dict[str, Any] = {}
        if toml_path:
            if not Path(toml_path).is_file():
                raise InputError(f"{toml_path} does not exist" if not Path(toml_path).exists()
                                 else f"{toml_path} is not a file", fix="check the path of the --config file")
            try:
                values.update(tomllib.loads(Path(toml_path).read_text(encoding="utf-8")))
            except (OSError, tomllib.TOMLDecodeError) as exc:
                raise InputError(f"{toml_path}: {exc}", fix="fix the TOML file") from exc
        values.update({k: v for k, v in overrides.items() if v is not None})
        config = cls.from_dict(values, where=str(toml_path or "options"))
        if config.backend not in BACKENDS:
            raise UsageError(f"unknown backend {config.backend!r}", fix=f"use one of {', '.join(BACKENDS)}")
        if config.adapt_method not in ("vocabulary", "self-training"):
            raise UsageError(f"unknown adapt_method {config.adapt_method!r}",
                                  fix="use vocabulary or self-training")
        return config


# The kind and range of each setting: checked when settings are read (from a TOML file, the
# command line, or a saved version), so a wrong type is one line before any training, not a
# library's traceback three minutes in.
_SETTING_KINDS: dict[str, tuple[tuple[type, ...], Callable[[Any], bool] | None, str]] = {
    "backend": ((str,), None, "a backend name"),
    "base_model": ((str, type(None)), None, "a model folder or hub id"),
    "name": ((str,), lambda v: bool(v.strip()), "a model name"),
    "seed": ((int,), lambda v: 0 <= v < 2**32, "a whole number from 0 to 4294967295"),
    "cv_folds": ((int,), lambda v: 2 <= v <= 100, "a whole number from 2 to 100 (--cv-folds)"),
    "abstain_rate": ((int, float), lambda v: 0 <= v < 1, "a share from 0 up to 1"),
    "use_article": ((bool,), None, "true or false"),
    "min_examples": ((int,), lambda v: v >= 0, "a whole number, 0 or more"),
    "adapt_method": ((str,), None, "vocabulary or self-training"),
    "c_stance": ((int, float), lambda v: v > 0, "a number above 0"),
    "c_themes": ((int, float), lambda v: v > 0, "a number above 0"),
    "epochs": ((int,), lambda v: 1 <= v <= 1000, "a whole number from 1 to 1000"),
    "batch_size": ((int,), lambda v: 1 <= v <= 100_000, "a whole number from 1 to 100000"),
    "learning_rate": ((int, float), lambda v: 0 < v < 1, "a number between 0 and 1"),
    "max_length": ((int,), lambda v: 8 <= v <= 8192, "a whole number from 8 to 8192"),
    "embedding_weight": ((int, float), lambda v: v >= 0, "a number, 0 or more"),
    "theme_rules": ((str, list, type(None)), None, "default, none, or a rules file"),
    "stance_rules": ((str,), None, "default, none, or a rules file"),
    "rules_weight": ((int, float), lambda v: v >= 0, "a number, 0 or more"),
}


def _check_setting(key: str, value: Any, where: str) -> None:
    kinds, ok, wanted = _SETTING_KINDS.get(key, ((object,), None, ""))
    wrong_type = not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds)
    if wrong_type or (ok is not None and not ok(value)):
        raise CommentaryError(f"{where}: {key} is {value!r}", fix=f"use {wanted}")


@dataclass
class TrainingData:
    """Comments with their labels, as arrays a backend can fit."""

    ids: list[str]
    inputs: Inputs
    groups: list[str]
    stance: Any
    themes: Any
    stance_labels: list[str]
    theme_labels: list[str]
    sha256: str
    source: str
    weak: int = 0
    parts: list[dict[str, Any]] = field(default_factory=list)  # each dataset's source, size and sha256
    annotators: dict[str, int] = field(default_factory=dict)  # labels by who or what made them


def _article_text(art) -> str | None:
    if art is None:
        return None
    return "\n\n".join(x for x in (art.title, art.text) if x) or None


def _coded_in_meta(meta: str | None) -> bool:
    """Whether a comment's extra source columns (``meta``, a JSON object) hold a stance or themes column."""
    if not meta or ("stance" not in meta and "themes" not in meta):
        return False
    try:
        return bool({"stance", "themes"} & set(json.loads(meta)))
    except (ValueError, TypeError):
        return False


def load_training_data(dataset: Dataset | Path, codebook: Codebook, *, labels: list[Labels] | None = None,
                       min_examples: int = 5, themes_only: bool = False) -> TrainingData:
    """Join comments and labels, check them against the codebook, and count each label.

    Labels without a stance (comments labelled for themes only) are dropped unless
    *themes_only* rows are wanted; their stance is then -1: training fits the theme heads
    on them and the stance head without them, and scoring counts them for themes alone.
    """
    import numpy as np

    ds = read_dataset(dataset) if not isinstance(dataset, Dataset) else dataset
    labs = labels if labels is not None else ds.labels
    source = str(ds.path or "dataset")
    if not labs:
        coded = next((c for c in ds.comments[:1000] if _coded_in_meta(c.meta)), None)
        raise InputError(f"{source} has no labels", fix=(
            "its comments carry stance or themes columns from the table it was read from: pass that table as the "
            f"labels (--labels {coded.source or 'TABLE.csv'}; its id column joins them)" if coded is not None
            else "pass --labels FILE, or label it with `commentary annotate`"))
    labs = join_labels(labs, ds.comments, source)  # labels keyed by the source's own ids are joined too
    comments = {c.id: c for c in ds.comments}
    if not themes_only:
        labs = [lab for lab in labs if lab.stance is not None]
    for lab in labs:
        codebook.check(lab.stance, lab.themes, where=f"labels of comment {lab.comment_id}")
    arts = {a.id: a for a in ds.articles}
    ids = [lab.comment_id for lab in labs]
    texts = [comments[i].text for i in ids]
    articles = [_article_text(arts.get(comments[i].article_id)) for i in ids]
    s_index = {s: k for k, s in enumerate(codebook.stance_ids)}
    stance = np.array([s_index[lab.stance] if lab.stance is not None else -1 for lab in labs], dtype=int)
    themes = np.array([[int(t in lab.themes) for t in codebook.theme_ids] for lab in labs],
                      dtype=int).reshape(len(labs), len(codebook.theme_ids))
    digest = hashlib.sha256()
    for i, lab in zip(ids, labs):
        digest.update(json.dumps([i, comments[i].text, lab.stance, sorted(lab.themes)]).encode())
    data = TrainingData(
        ids=ids, inputs=Inputs(texts, articles),
        groups=[comments[i].article_id or i for i in ids], stance=stance, themes=themes,
        stance_labels=list(codebook.stance_ids), theme_labels=list(codebook.theme_ids),
        sha256=digest.hexdigest(), source=source, weak=sum(1 for lab in labs if lab.weak),
        parts=[{"source": source, "n": len(ids), "sha256": digest.hexdigest()}],
        annotators=dict(Counter(lab.annotator or "unnamed" for lab in labs).most_common()),
    )
    check_counts(data, min_examples)
    return data


def check_counts(data: TrainingData, min_examples: int) -> None:
    """Refuse to train when a stance or theme has fewer than *min_examples* examples."""
    few = [f"{s!r} has {int((data.stance == k).sum())}" for k, s in enumerate(data.stance_labels)
           if (data.stance == k).sum() < min_examples]
    few += [f"theme {t!r} has {int(data.themes[:, j].sum())}" for j, t in enumerate(data.theme_labels)
            if data.themes[:, j].sum() < min_examples]
    if few:
        raise CommentaryError(f"too few examples to train: {'; '.join(few)} (need at least {min_examples} each)",
                              fix="label more comments for those labels, or drop them from your codebook copy")


def _for_training(ds: Dataset, labels: list[Labels] | None) -> Dataset:
    """A dataset whose manifest says ``"stance_for_training": false`` trains the theme heads only
    (its own stance labels are kept for scoring); labels passed in are taken as they are."""
    if labels is None and ds.manifest.get("stance_for_training") is False:
        ds = dataclasses.replace(ds, labels=[dataclasses.replace(lab, stance=None) for lab in ds.labels])
    return ds


def load_training_sets(datasets: list[Path], codebook: Codebook, *, labels: list[Labels] | None = None,
                       min_examples: int = 5) -> TrainingData:
    """Several labelled datasets as one training set (each keeps its articles, so CV still groups
    by article); *labels*, when given, are joined to whichever dataset holds each comment."""
    import numpy as np

    read = [read_dataset(d) for d in datasets]
    if len(read) == 1:  # one dataset: its own labels check, sha256 and source, as always
        return load_training_data(_for_training(read[0], labels), codebook, labels=labels,
                                  min_examples=min_examples, themes_only=True)
    homes = [{c.id for c in ds.comments} for ds in read]
    if labels is not None:
        # each to the comment it names, by commentary's id or the source's own, in any of the datasets
        labels = join_labels(labels, [c for ds in read for c in ds.comments], "any of the datasets")
    parts = []
    for ds, home in zip(read, homes):
        mine = None if labels is None else [lab for lab in labels if lab.comment_id in home]
        if mine is not None and not mine:
            continue
        parts.append(load_training_data(_for_training(ds, mine), codebook, labels=mine, min_examples=0,
                                        themes_only=True))
    digest = hashlib.sha256("".join(p.sha256 for p in parts).encode())
    data = TrainingData(
        ids=[i for p in parts for i in p.ids],
        inputs=Inputs([t for p in parts for t in p.inputs.texts], [a for p in parts for a in p.inputs.articles]),
        groups=[g for p in parts for g in p.groups], stance=np.concatenate([p.stance for p in parts]),
        themes=np.vstack([p.themes for p in parts]), stance_labels=parts[0].stance_labels,
        theme_labels=parts[0].theme_labels, sha256=digest.hexdigest(),
        source=" + ".join(p.source for p in parts), weak=sum(p.weak for p in parts),
        parts=[q for p in parts for q in p.parts],
        annotators=dict(sum((Counter(p.annotators) for p in parts), Counter()).most_common()))
    check_counts(data, min_examples)
    return data


def _backend(config: TrainConfig, data: TrainingData):
    cls = get_backend(config.backend)
    settings = {k: v for k, v in config.to_dict().items() if k not in ("backend", "name")}
    return cls(**settings, n_stance=len(data.stance_labels), n_themes=len(data.theme_labels))


def _folds(data: TrainingData, config: TrainConfig):
    from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold

    k = config.cv_folds
    if k > len(data.ids):
        raise CommentaryError(f"--cv-folds is {k} but there are only {len(data.ids)} labelled comments to fold",
                              fix=f"use --cv-folds {min(5, len(data.ids))} (at most {len(data.ids)})")
    if len(set(data.groups)) >= k:
        splitter = StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=config.seed)
        return list(splitter.split(data.stance, data.stance, data.groups))
    splitter = StratifiedKFold(n_splits=k, shuffle=True, random_state=config.seed)
    return list(splitter.split(data.stance, data.stance))


def score(stance_true, stance_pred, themes_true, themes_pred, stance_labels, theme_labels) -> dict[str, Any]:
    """Per-label precision, recall, F1 and support, with macro and micro F1.

    Comments whose gold stance is -1 (labelled for themes only) count for themes alone;
    with none labelled for stance, the stance figures are None.
    """
    import numpy as np
    from sklearn.metrics import f1_score, precision_recall_fscore_support

    stance_true, stance_pred = np.asarray(stance_true), np.asarray(stance_pred)
    has = stance_true >= 0
    stance_true, stance_pred = stance_true[has], stance_pred[has]

    if has.any():
        p, r, f, s = precision_recall_fscore_support(stance_true, stance_pred, labels=range(len(stance_labels)),
                                                     zero_division=0)
        macro = float(f1_score(stance_true, stance_pred, average="macro", zero_division=0,
                               labels=range(len(stance_labels))))
    else:
        p = r = f = s = [0] * len(stance_labels)
        macro = None
    out: dict[str, Any] = {"stance": {
        "per_label": {lab: {"precision": float(p[k]), "recall": float(r[k]), "f1": float(f[k]),
                            "support": int(s[k])} for k, lab in enumerate(stance_labels)},
        "macro_f1": macro,
        "accuracy": float((stance_true == stance_pred).mean()) if has.any() else None,
        "n": int(has.sum()),
    }}
    if len(theme_labels) == 0:
        out["themes"] = {"per_label": {}, "macro_f1": None, "micro_f1": None}
        return out
    p, r, f, s = precision_recall_fscore_support(themes_true, themes_pred, zero_division=0)
    # Macro-F1 over the themes the gold labels contain: a theme no comment has says nothing
    # of the model but would count as an F1 of 0 (or 1) however it did.
    present = [j for j in range(len(theme_labels)) if s[j] > 0]
    out["themes"] = {
        "per_label": {t: {"precision": float(p[j]), "recall": float(r[j]), "f1": float(f[j]),
                          "support": int(s[j])} for j, t in enumerate(theme_labels)},
        "macro_f1": float(np.mean([f[j] for j in present])) if present else None,
        "macro_over": [theme_labels[j] for j in present],
        "micro_f1": float(f1_score(themes_true, themes_pred, average="micro", zero_division=0)),
    }
    return out


@dataclass
class FitResult:
    model: TrainedModel
    config: TrainConfig
    metrics: dict[str, Any] = field(default_factory=dict)


_FOLDS_JOB: tuple | None = None  # (data, config, unlabelled, folds), inherited by forked fold workers


def _fitted(data: TrainingData, config: TrainConfig, unlabelled: Inputs | None, rows=None):
    """A backend fitted on *rows* of *data* (all of it when None); with ``--adapt`` by vocabulary,
    the features are also fitted on the unlabelled comments."""
    backend = _backend(config, data)
    inputs, stance, themes = ((data.inputs, data.stance, data.themes) if rows is None
                              else (data.inputs.subset(rows), data.stance[rows], data.themes[rows]))
    backend.fit(inputs, stance, themes, unlabelled=unlabelled if config.adapt_method == "vocabulary" else None)
    return backend


def _fold_proba(data: TrainingData, config: TrainConfig, unlabelled: Inputs | None, tr, te):
    backend = _fitted(data, config, unlabelled, tr)
    ps, pt = backend.predict_proba(data.inputs.subset(te))
    return _align(ps, backend, len(data.stance_labels)), pt


def _fold_in_worker(k: int):
    from threadpoolctl import threadpool_limits

    data, config, unlabelled, folds = _FOLDS_JOB
    with threadpool_limits(1):  # the processes share the cores; BLAS threads on top would fight
        return _fold_proba(data, config, unlabelled, *folds[k])


def cross_val_proba(data: TrainingData, config: TrainConfig, *, unlabelled: Inputs | None = None,
                    progress: Callable[[str], None] | None = None, jobs: int | None = None,
                    meanwhile: Callable[[], None] | None = None):
    """Out-of-fold stance and theme probabilities (folds grouped by article), and the folds.

    For backends cheap to fork (tfidf) the folds are fitted in forked processes, one
    per core unless *jobs* says otherwise, and *meanwhile* (the final fit) runs in this
    process while they work. Each process then runs BLAS on one thread, which changes
    the order of some sums: the stance probabilities equal those fold by fold to about
    1e-12, the theme probabilities (liblinear, which stops at its tolerance) to about
    1e-4 (tested), and both are identical from run to run on the same machine.
    """
    import multiprocessing

    import numpy as np

    global _FOLDS_JOB
    say = progress or (lambda _msg: None)
    n, n_s, n_t = len(data.ids), len(data.stance_labels), len(data.theme_labels)
    oof_s, oof_t = np.zeros((n, n_s)), np.zeros((n, n_t))
    folds = _folds(data, config)
    jobs = min(fork_jobs(get_backend(config.backend)) if jobs is None else jobs, len(folds))
    if jobs > 1 and "fork" in multiprocessing.get_all_start_methods():
        from concurrent.futures import ProcessPoolExecutor

        # Import scikit-learn's estimators here once, so the workers inherit them.
        import sklearn.feature_extraction.text  # noqa: F401
        import sklearn.linear_model  # noqa: F401

        say(f"cross-validation: {len(folds)} folds in {jobs} processes")
        _FOLDS_JOB = (data, config, unlabelled, folds)
        try:
            from ._procs import worker_initializer

            with ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("fork"),
                                     initializer=worker_initializer()) as pool:
                futures = [pool.submit(_fold_in_worker, k) for k in range(len(folds))]
                if meanwhile is not None:
                    from threadpoolctl import threadpool_limits

                    with threadpool_limits(1):
                        meanwhile()
                for k, ((_, te), future) in enumerate(zip(folds, futures), 1):
                    oof_s[te], oof_t[te] = future.result()
                    say(f"cross-validation fold {k}/{len(folds)} done")
        finally:
            _FOLDS_JOB = None
        return oof_s, oof_t, folds
    for k, (tr, te) in enumerate(folds, 1):
        say(f"cross-validation fold {k}/{len(folds)}")
        oof_s[te], oof_t[te] = _fold_proba(data, config, unlabelled, tr, te)
    if meanwhile is not None:
        meanwhile()
    return oof_s, oof_t, folds


def fit(data: TrainingData, config: TrainConfig, *, unlabelled: Inputs | None = None,
        progress: Callable[[str], None] | None = None) -> FitResult:
    """Cross-validate, fit the decisions on out-of-fold probabilities, then fit on all the data."""

    import numpy as np

    say = progress or (lambda _msg: None)
    n = len(data.ids)
    final: dict[str, Any] = {}

    def final_fit() -> None:  # independent of the folds: may run while they do
        say("final fit on all training data")
        final["backend"] = _fitted(data, config, unlabelled)

    oof_s, oof_t, folds = cross_val_proba(data, config, unlabelled=unlabelled, progress=say, meanwhile=final_fit)
    decisions = fit_decisions(oof_s, oof_t, data.stance, data.themes, data.stance_labels, data.theme_labels,
                              abstain_rate=config.abstain_rate,
                              stance_rules=_deciding_rules(config, data.stance_labels))
    cs, ct = decisions.calibrate(oof_s, oof_t)
    pred_s, pred_t = decisions.decide(cs, ct, data.inputs.texts)
    cv = score(data.stance, pred_s, data.themes, pred_t,
               data.stance_labels, data.theme_labels)
    has = data.stance >= 0  # comments labelled for themes only have no stance to check
    y, pred_s, cs_s, oof_s_s = data.stance[has], pred_s[has], cs[has], oof_s[has]
    conf = cs_s[np.arange(len(y)), pred_s]
    kept = conf >= decisions.abstain_below
    cv["stance"]["ece"] = expected_calibration_error(conf, pred_s == y)
    cv["stance"]["ece_uncalibrated"] = expected_calibration_error(oof_s_s.max(axis=1), oof_s_s.argmax(axis=1) == y)
    cv["abstain"] = {"rate": float(1 - kept.mean()),
                     "accuracy_kept": float((pred_s == y)[kept].mean()),
                     "accuracy_all": float((pred_s == y).mean())}
    cv["folds"] = len(folds)
    model = TrainedModel(final["backend"], decisions)
    extra: dict[str, Any] = {}
    if unlabelled is not None and config.adapt_method == "self-training":
        say(f"self-training on {len(unlabelled)} unlabelled comments")
        model, extra = _self_train(model, data, config, unlabelled)
    return FitResult(model, config, {"cv": cv, "n_train": n, **extra})


def _deciding_rules(config: TrainConfig, stance_labels: list[str]) -> list[dict[str, Any]]:
    """The deciding stance rules of ``config.stance_rules`` whose stance the codebook has."""
    from .label.rules import deciding_rules_spec

    if config.stance_rules in ("none", ""):
        return []
    specs = deciding_rules_spec(None if config.stance_rules == "default" else config.stance_rules)
    return [s for s in specs if s["label"].split(":", 1)[1] in stance_labels]


def _self_train(model: TrainedModel, data: TrainingData, config: TrainConfig, unlabelled: Inputs):
    """Refit with the unlabelled comments the model is surest of, labelled by the model.

    For each stance, the most confident predictions are added (at most as many as
    that stance has real examples), so the pseudo-labels keep the class balance.
    """
    import numpy as np

    cs, ct = model.probabilities(unlabelled)
    pred, on = model.decisions.decide(cs, ct, unlabelled.texts)
    conf = cs[np.arange(len(pred)), pred]
    chosen: list[int] = []
    for k in range(len(data.stance_labels)):
        idx = np.where((pred == k) & (conf >= model.decisions.abstain_below))[0]
        limit = int((data.stance == k).sum())
        chosen += idx[np.argsort(-conf[idx])][:limit].tolist()
    chosen = sorted(chosen)
    inputs = Inputs(data.inputs.texts + [unlabelled.texts[i] for i in chosen],
                    data.inputs.articles + [unlabelled.articles[i] for i in chosen])
    stance = np.concatenate([data.stance, pred[chosen]])
    themes = np.vstack([data.themes, on[chosen]])
    backend = _backend(config, data)
    backend.fit(inputs, stance, themes)
    return TrainedModel(backend, model.decisions), {"self_training": {"pseudo_labelled": len(chosen)}}


def predict_and_score(model: TrainedModel, data: TrainingData):
    """Score *model* on labelled *data*; return the scores and the calibrated stance probabilities."""
    cs, ct = model.probabilities(data.inputs)
    stances, themes = model.decisions.decide(cs, ct, data.inputs.texts)
    scores = score(data.stance, stances, data.themes, themes, data.stance_labels, data.theme_labels)
    return scores, cs


def _align(ps, backend, n_s: int):
    """Stance columns in codebook order even when a fold lacked a class."""
    import numpy as np

    classes = getattr(backend, "stance_classes", None)
    if classes is None or len(classes) == n_s:
        return ps
    full = np.zeros((ps.shape[0], n_s))
    full[:, list(classes)] = ps
    return full
