"""The Python API: the same stages as the command line, for notebooks and applications.

    import commentary
    m = commentary.load()                       # the promoted model, or "name@vN"
    preds = m.predict(["Great piece.", "Nonsense, the data say otherwise."], articles="The article's text")
    df = m.predict_frame(texts, articles=articles)   # a pandas DataFrame, one row per comment

    from commentary.api import evaluate, ingest, train
    ingest(["page.txt"], output="data/page")                       # -> the dataset's manifest
    train(["data/mine"], labels="labels.jsonl", name="mine", promote=True)   # -> "mine@v1"
    evaluate("mine", "data/mine-test")                             # -> metrics (as evaluate's metrics.json)

Errors are ``CommentaryError`` with the message the command line prints.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .errors import CommentaryError, OutputExistsError
from .paths import models_dir as _models_dir

__all__ = ["Prediction", "Model", "load", "ingest", "train", "evaluate"]


@dataclass(frozen=True)
class Prediction:
    """One comment's labels: the stance with its probabilities, the themes over their thresholds,
    and whether the model abstains (its stance confidence is below the version's cut)."""

    text: str
    stance: str
    stance_probs: dict[str, float]
    themes: list[str]
    theme_probs: dict[str, float]
    abstain: bool
    model: str
    id: str | None = None
    article: str | None = field(default=None, repr=False)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _paths(value, name: str) -> list:
    """One path or several, as a list: a single ``"comments.csv"`` is one source, not eleven letters."""
    if isinstance(value, (str, Path)):
        return [value]
    if not isinstance(value, Iterable):
        raise CommentaryError(f"{name} must be a path or a list of paths, not {type(value).__name__}",
                              fix=f'pass e.g. {name}="comments.csv" or {name}=["a.csv", "b.csv"]')
    return list(value)


def _per_text(value, n: int, name: str) -> list:
    if value is None or isinstance(value, str):
        return [value] * n
    if not isinstance(value, Iterable):
        raise CommentaryError(f"{name} must be a string or one per text, not {type(value).__name__}",
                              fix="pass one string for all, or a list with one per text")
    value = list(value)
    if len(value) != n:
        raise CommentaryError(f"{name} has {len(value)} items for {n} texts", fix=f"give one {name[:-1]} per text, "
                              f"or one string for all")
    return value


class Model:
    """A trained model version, loaded once and verified (every file against its sha256)."""

    def __init__(self, trained, version) -> None:
        self._trained = trained
        self.version = version

    @property
    def ref(self) -> str:
        """``name@vN``."""
        return self.version.ref

    @property
    def labels(self) -> dict[str, list[str]]:
        d = self._trained.decisions
        return {"stance": list(d.stance_labels), "themes": list(d.theme_labels)}

    @property
    def manifest(self) -> dict[str, Any]:
        return self.version.manifest

    def quality(self) -> dict[str, Any]:
        """The version's cross-validated and held-out macro-F1 (from its metrics.json)."""
        from .registry import read_metrics

        metrics = read_metrics(self.version)
        out = {}
        for part in ("cv", "heldout"):
            if isinstance(metrics.get(part), dict):
                out[part] = {head: metrics[part][head]["macro_f1"] for head in ("stance", "themes")}
        return out

    def predict(self, texts: str | Sequence[str], *, articles: str | Sequence[str | None] | None = None,
                ids: Sequence[str] | None = None, batch_size: int = 1000) -> list[Prediction]:
        """Label each text; *articles* is the article each comment answers (one string for all, or
        one per text, None where unknown), which the stance reads when the model was trained with
        ``use_article`` (not the default: see docs/quality.md)."""
        from .backends.base import Inputs

        one = isinstance(texts, str)
        if not one and not isinstance(texts, Iterable):
            raise CommentaryError(f"texts must be a string or a list of strings, not {type(texts).__name__}",
                                  fix='pass e.g. model.predict("Great article") or model.predict([...])')
        texts = [texts] if one else list(texts)
        if any(not isinstance(t, str) for t in texts):
            raise CommentaryError("every text must be a string", fix="pass str comments")
        arts = _per_text(articles, len(texts), "articles")
        keys = _per_text(ids, len(texts), "ids") if ids is not None else [None] * len(texts)
        out: list[Prediction] = []
        for start in range(0, len(texts), max(1, batch_size)):
            part = slice(start, start + batch_size)
            preds = self._trained.predict(Inputs(texts[part], arts[part]))
            out += [Prediction(text=t, model=self.ref, id=k, article=a, **p)
                    for t, a, k, p in zip(texts[part], arts[part], keys[part], preds)]
        return out

    def predict_frame(self, texts: Sequence[str], *, articles=None, ids=None):
        """``predict`` as a pandas DataFrame: text, stance, themes, abstain, and a p_<label> column each."""
        import pandas as pd

        rows = []
        for p in self.predict(texts, articles=articles, ids=ids):
            row = {"id": p.id, "text": p.text, "stance": p.stance, "themes": p.themes, "abstain": p.abstain}
            row.update({f"p_{k}": v for k, v in p.stance_probs.items()})
            row.update({f"p_{k}": v for k, v in p.theme_probs.items()})
            rows.append(row)
        columns = (["id", "text", "stance", "themes", "abstain"]
                   + [f"p_{k}" for k in self.labels["stance"] + self.labels["themes"]])
        # a Series or a DataFrame column keeps its index, so the labels join back to the caller's rows
        index = texts.index if isinstance(texts, pd.Series) else None
        return pd.DataFrame(rows, columns=columns, index=index)

    def __repr__(self) -> str:
        return f"<commentary.Model {self.ref} ({self.manifest.get('backend', '?')})>"


def load(ref: str | None = None, *, models_dir: str | Path | None = None) -> Model:
    """A model version by ``name@vN`` or ``name`` (its promoted version); default: the promoted ``commentary``."""
    from .training import load_model

    if ref is not None and not isinstance(ref, str):
        raise CommentaryError(f"a model is named by a string such as 'commentary@v2', not {type(ref).__name__}",
                              fix="pass load('name@vN'), load('name') or load()")
    trained, version = load_model(_models_dir(models_dir), ref)
    return Model(trained, version)


def ingest(sources: Sequence[str | Path], *, output: str | Path | None = None, force: bool = False,
           **options) -> dict[str, Any]:
    """Read sources (any format ``commentary ingest`` reads) into a dataset folder; returns its manifest.

    *options* are the reader's (``text_column``, ``encoding``, ``max_comment_chars``, ...). Without
    *output*, the records come back instead: ``{"articles": [...], "comments": [...], "warnings": [...]}``.
    """
    from .dataset import write_dataset
    from .ingest import ReadOptions, summarise
    from .ingest import ingest as run_ingest
    from .paths import home

    result = run_ingest([str(s) for s in _paths(sources, "sources")], options=ReadOptions(**options), home=home())
    if output is None:
        return {"articles": result.articles, "comments": result.comments, "warnings": result.warnings}
    try:
        return write_dataset(Path(output), result.articles, result.comments, force=force,
                             info={"name": Path(output).name, "inputs": result.inputs, "summary": summarise(result)})
    except OutputExistsError as exc:  # the fix a Python caller can follow
        if exc.fix and "--force" in exc.fix:
            exc.fix = exc.fix.replace("pass --force", "pass force=True")
        raise


def train(datasets: Sequence[str | Path] | None = None, *, labels: str | Path | None = None,
          models_dir: str | Path | None = None, promote: bool | None = None, heldout: str | Path | None = None,
          **settings) -> str:
    """Train a version (settings as in a ``--config`` file: ``backend``, ``name``, ``seed``, ...); returns its ref."""
    from .codebook import load_codebook
    from .fitting import TrainConfig
    from .label.io import read_labels_file
    from .paths import default_training_sets
    from .training import train_version

    book = load_codebook()
    config = TrainConfig.resolve(None, settings)
    given = read_labels_file(Path(labels), book) if labels is not None else None
    sets = [Path(d) for d in _paths(datasets, "datasets")] if datasets else default_training_sets()
    outcome = train_version(sets, book, config, _models_dir(models_dir), labels=given,
                            heldout=Path(heldout) if heldout else None, make_production=promote)
    return outcome.version.ref


def evaluate(model: str | Model | None = None, dataset: str | Path | None = None, *,
             labels: str | Path | None = None, models_dir: str | Path | None = None) -> dict[str, Any]:
    """Score a model (a ``name@vN``, or one ``load`` gave) on gold labels (the dataset's own, or a labels
    file); returns the metrics."""
    from .codebook import load_codebook
    from .evaluate import measure
    from .label.io import read_labels_file
    from .paths import starter_dir

    book = load_codebook()
    loaded = model if isinstance(model, Model) else load(model, models_dir=models_dir)
    trained, version = loaded._trained, loaded.version
    gold = read_labels_file(Path(labels), book) if labels is not None else None
    return measure(trained, version.ref, version.manifest["codebook"]["version"],
                   Path(dataset) if dataset else starter_dir() / "test", book, labels=gold)
