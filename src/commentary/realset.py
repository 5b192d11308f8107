"""The real evaluation set: gold labels on real comments from several public sources.

The project keeps only comment ids and gold labels (``data/real/eval/gold.jsonl``);
the comments themselves are read in place from the public corpora folder
(``../shared/corpora`` beside the repository, or ``COMMENTARY_CORPORA``), since most
of those releases do not allow redistribution. Each source has one small reader
that turns its rows into the ordinary records, so ``evaluate`` scores the real set
exactly as it scores any labelled dataset, source by source. The Room for Debate
comments (Apache-2.0) are the exception: their articles and the training part live
in ``data/real/``.

Sources (see ``data/real/DATASHEET.md`` for licences and how each was labelled):

- ``nyt_rfd``: New York Times Room for Debate comments; the article is the debate
  page, given as its title, question and the thesis its title asserts;
- ``reddit``: Reddit replies; the "article" is the comment each one answers;
- ``sfu_globe``: Globe and Mail opinion comments, with the opinion piece's headline;
- ``nhs_feedback``: NHS patient feedback (no article: themes only).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .dataset import Dataset
from .errors import InputError
from .records import Article, Comment, Labels, stable_id

__all__ = ["SOURCES", "corpora_dir", "real_dir", "read_gold", "load_real", "combined_real", "rfd_articles",
           "rfd_article"]

_REPO = Path(__file__).resolve().parents[2]
SOURCES = ("nyt_rfd", "reddit", "sfu_globe", "nhs_feedback")
RFD_FILE = "nyt_rfd_stance_arct/exported-3365-stance-taking-arguments.tsv"


def real_dir() -> Path:
    """``data/real`` of the installed project (gold ids and labels, RfD articles and training part)."""
    from .paths import bundled

    return bundled("real", "eval/gold.jsonl")


def corpora_dir() -> Path | None:
    """The public corpora folder: ``COMMENTARY_CORPORA``, else ``../shared/corpora`` beside the
    repository or the current folder; None when there is none."""
    env = os.environ.get("COMMENTARY_CORPORA")
    candidates = [Path(env)] if env else [_REPO.parent / "shared" / "corpora", Path.cwd().parent / "shared" / "corpora"]
    for c in candidates:
        if c.is_dir():
            return c
    return None


def read_gold(path: Path | None = None) -> list[dict[str, Any]]:
    """The gold rows: ``comment_id``, ``source``, ``stance`` (None where the source has no article), ``themes``."""
    path = path or real_dir() / "eval" / "gold.jsonl"
    if not path.is_file():
        raise InputError(f"{path} does not exist", fix="the real evaluation set ships in data/real/eval/")
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def rfd_articles(path: Path | None = None) -> dict[str, dict[str, Any]]:
    """Room for Debate pages by title: question, the two sides and the thesis the title asserts."""
    path = path or real_dir() / "rfd_articles.jsonl"
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return {r["title"]: r for r in rows}


def rfd_article(title: str, page: dict[str, Any]) -> Article:
    """A debate page as an article: its title, and as text its question and its thesis."""
    thesis = page["side_1"] if page["thesis_side"] == 1 else page["side_2"]
    text = f"{page['question'].strip()} The article argues: {thesis.strip().rstrip('.')}."
    return Article(id=stable_id("rfd", title), title=title, text=text, source="nyt_rfd")


def _read_csv(path: Path, **kw):
    import pandas as pd

    if not path.is_file():
        raise InputError(f"{path} does not exist", fix="check the corpora folder (COMMENTARY_CORPORA)")
    return pd.read_csv(path, **kw)


def _rfd(corpora: Path, ids: set[str]):
    d = _read_csv(corpora / RFD_FILE, sep="\t", quoting=3)
    pages = rfd_articles()
    arts: dict[str, Article] = {}
    coms = []
    for r in d.itertuples():
        cid = f"rfd-{r.id}"
        if cid not in ids or r.title not in pages:
            continue
        art = arts.setdefault(r.title, rfd_article(r.title, pages[r.title]))
        coms.append(Comment(id=cid, article_id=art.id, text=str(r.text), author=str(r.author), source="nyt_rfd"))
    return list(arts.values()), coms


def _reddit(corpora: Path, ids: set[str]):
    arts: dict[str, Article] = {}
    coms = []
    for name, tag in (("SubReddit-CovidVaccine.csv", "covid"), ("SubReddit-MaskMandate.csv", "mask")):
        d = _read_csv(corpora / "subreddit_agreement" / name, encoding="cp1252")
        for i, r in enumerate(d.itertuples()):
            cid = f"reddit-{tag}-{i}"
            if cid not in ids:
                continue
            quote = str(r.quote_text)
            aid = stable_id("reddit", quote)
            arts.setdefault(aid, Article(id=aid, text=quote, source="reddit"))
            coms.append(Comment(id=cid, article_id=aid, text=str(r.response_text), source="reddit"))
    return list(arts.values()), coms


def _sfu(corpora: Path, ids: set[str]):
    d = _read_csv(corpora / "sfu_ctc" / "SFU_constructiveness_toxicity.csv", encoding_errors="replace")
    arts: dict[str, Article] = {}
    coms = []
    for _, r in d.iterrows():
        cid = f"sfu-{r['_unit_id']}"
        if cid not in ids:
            continue
        title = str(r["title"]).replace(" - The Globe and Mail", "").strip()
        aid = stable_id("sfu", title)
        arts.setdefault(aid, Article(id=aid, title=title, url=str(r["globe_url"]), source="sfu_globe"))
        coms.append(Comment(id=cid, article_id=aid, text=str(r["comment"]), source="sfu_globe"))
    return list(arts.values()), coms


def _nhs(corpora: Path, ids: set[str]):
    d = _read_csv(corpora / "pxtextmining_nhs" / "v6framework_230831.csv")
    coms = [Comment(id=f"nhs-{r['Comment ID']}", article_id=None, text=str(r["FFT answer"]), source="nhs_feedback")
            for _, r in d.iterrows() if f"nhs-{r['Comment ID']}" in ids]
    return [], coms


_READERS: dict[str, Callable[[Path, set[str]], tuple[list[Article], list[Comment]]]] = {
    "nyt_rfd": _rfd, "reddit": _reddit, "sfu_globe": _sfu, "nhs_feedback": _nhs}


def load_real(corpora: Path | None = None, *, gold: Path | None = None,
              sources: list[str] | None = None) -> dict[str, Dataset]:
    """One labelled in-memory dataset per source, the comments read in place from *corpora*."""
    corpora = corpora or corpora_dir()
    if corpora is None or not Path(corpora).is_dir():
        raise InputError("the public corpora folder is not here (../shared/corpora)",
                         fix="set COMMENTARY_CORPORA to the folder that holds the real corpora")
    rows = read_gold(gold)
    wanted = sources or [s for s in SOURCES if any(r["source"] == s for r in rows)]
    unknown = sorted(set(wanted) - set(SOURCES))
    if unknown:
        raise InputError(f"unknown real source {', '.join(unknown)}", fix=f"use {', '.join(SOURCES)}")
    out: dict[str, Dataset] = {}
    for source in wanted:
        mine = {r["comment_id"]: r for r in rows if r["source"] == source}
        arts, coms = _READERS[source](Path(corpora), set(mine))
        missing = set(mine) - {c.id for c in coms}
        if missing:
            raise InputError(f"{len(missing)} gold comments of {source} are not in {corpora} "
                             f"(first: {sorted(missing)[0]})", fix="use the corpora release the datasheet names")
        labels = [Labels(cid, mine[cid]["stance"], list(mine[cid]["themes"]), mine[cid].get("annotator"),
                         codebook_version=mine[cid].get("codebook_version")) for cid in (c.id for c in coms)]
        out[source] = Dataset(arts, coms, {"source": source, "corpora": str(corpora)}, labels,
                              Path(f"real:{source}"))
    return out


def combined_real(corpora: Path | None = None, *, gold: Path | None = None,
                  sources: list[str] | None = None) -> tuple[Dataset, dict[str, list[int]]]:
    """The real set as one dataset, with the rows of each source (scored once, reported per source)."""
    parts = load_real(corpora, gold=gold, sources=sources)
    arts: list[Article] = []
    coms: list[Comment] = []
    labs: list[Labels] = []
    rows: dict[str, list[int]] = {}
    for name, ds in parts.items():
        rows[name] = list(range(len(labs), len(labs) + len(ds.labels)))
        arts += ds.articles
        coms += ds.comments
        labs += ds.labels
    corp = next(iter(parts.values())).manifest["corpora"] if parts else str(corpora)
    return Dataset(arts, coms, {"corpora": corp}, labs, Path("real")), rows
