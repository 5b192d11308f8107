"""Build data/real from the blind labelling passes: agreement, disputes, gold labels, RfD training part.

    python scripts/build_real.py disputes   # list the items the two passes disagree on (for adjudication)
    python scripts/build_real.py disputes --train   # the same for the training part's second draw
    python scripts/build_real.py build      # gold.jsonl, agreement.json and data/real/rfd_train

Inputs, all ids and labels only (no comment text, so nothing of a non-redistributable
corpus is copied): ``data/real/eval/passes/<chunk>.{A,B}.jsonl`` (two blind passes per
chunk), ``data/real/eval/adjudication.jsonl`` (the adjudicator's final labels for the
disputed fields), and for the training part ``data/real/train/passes/*.jsonl``
(themes, one pass) with ``data/real/train/sample.{A,B}.jsonl`` (a sample labelled twice), and
the second training draw's two blind passes in ``data/real/train/passes2/<chunk>.{A,B}.jsonl``
with their adjudication in ``data/real/train/adjudication.jsonl``
(``python scripts/build_real.py disputes --train`` lists what is left to settle).
The Room for Debate text (Apache-2.0) is read from ``../shared/corpora`` and written to
``data/real/rfd_train`` together with its articles; see ``data/real/DATASHEET.md``.
"""

from __future__ import annotations

import functools
import json
import shutil
import sys
import tempfile
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REAL = ROOT / "data" / "real"
EVAL = REAL / "eval"
THEMES = ["nothing_new", "listening", "teamwork", "hierarchy", "politics", "personal_experience", "evidence",
          "solution"]
STANCES = ["agree", "disagree", "mixed", "neutral"]


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def passes(folder: Path = EVAL / "passes", key_a: str = "id") -> dict[str, tuple[dict, dict]]:
    """chunk -> (pass A by id, pass B by id), from ``<chunk>.A.jsonl`` and ``<chunk>.B.jsonl`` in *folder*
    (pass A keyed by *key_a*: the written comments' first pass is the writers' own file)."""
    out = {}
    for a in sorted(folder.glob("*.A.jsonl")):
        chunk = a.name[: -len(".A.jsonl")]
        b = a.with_name(f"{chunk}.B.jsonl")
        out[chunk] = ({r[key_a]: r for r in read_jsonl(a)}, {r["id"]: r for r in read_jsonl(b)})
    return out


def disputed_fields(a: dict, b: dict) -> list[str]:
    """The fields two passes disagree on: stance, and each theme one gave and the other did not."""
    return (["stance"] if a["stance"] != b["stance"] else []) + [
        t for t in THEMES if (t in a["themes"]) != (t in b["themes"])]


def settle(a: dict, b: dict, adjudicated: dict | None) -> tuple[str | None, list[str]]:
    """Gold labels: agreed fields as both passes gave them, disputed ones as the adjudicator settled them."""
    stance = a["stance"] if a["stance"] == b["stance"] else adjudicated["stance"]
    themes = [t for t in THEMES if (t in a["themes"] and t in b["themes"])
              or ((t in a["themes"]) != (t in b["themes"]) and t in adjudicated["themes"])]
    return stance, themes


def kappa(a: list, b: list) -> float | None:
    from sklearn.metrics import cohen_kappa_score

    if len(set(a) | set(b)) < 2:
        return None
    return round(float(cohen_kappa_score(a, b)), 3)


def agreement(pairs: list[tuple[dict, dict]]) -> dict:
    """Cohen's kappa and raw agreement for stance and for each theme (present / absent)."""
    st = [(a["stance"], b["stance"]) for a, b in pairs if a["stance"] is not None and b["stance"] is not None]
    out: dict = {"n": len(pairs)}
    if st:
        out["stance"] = {"n": len(st), "kappa": kappa(*zip(*st)),
                         "agreement": round(sum(x == y for x, y in st) / len(st), 3)}
    for t in THEMES:
        a = [int(t in x["themes"]) for x, _ in pairs]
        b = [int(t in y["themes"]) for _, y in pairs]
        out[t] = {"kappa": kappa(a, b), "agreement": round(sum(x == y for x, y in zip(a, b)) / len(a), 3),
                  "present_a": sum(a), "present_b": sum(b)}
    ks = [out[t]["kappa"] for t in THEMES if out[t]["kappa"] is not None]
    out["themes_mean_kappa"] = round(sum(ks) / len(ks), 3) if ks else None
    return out


def disputes(chunks: dict[str, tuple[dict, dict]] | None = None) -> list[dict]:
    rows = []
    for chunk, (pa, pb) in (chunks or passes()).items():
        for cid, a in pa.items():
            b = pb[cid]
            fields = disputed_fields(a, b)
            if fields:
                rows.append({"id": cid, "chunk": chunk, "disputed": fields,
                             "A": {"stance": a["stance"], "themes": a["themes"]},
                             "B": {"stance": b["stance"], "themes": b["themes"]}})
    return rows


TRAIN = REAL / "train"
TRAIN_PASSES = TRAIN / "passes2"  # the second training draw (481 comments), labelled blind twice


def adjudicated(path: Path) -> dict[str, dict]:
    """The adjudicator's decisions by id (none yet when the file is absent)."""
    return {r["id"]: r for r in read_jsonl(path)} if path.exists() else {}


def derived_vs_annotators(pairs: list[tuple[dict, dict]], derived: dict[str, str]) -> dict:
    """How often the stance derived from the release matches each annotator's."""
    both = [(derived[a["id"]], a["stance"], b["stance"]) for a, b in pairs if a["id"] in derived]
    return {"n": len(both),
            "agrees_with_A": round(sum(d == x for d, x, _ in both) / len(both), 3),
            "agrees_with_B": round(sum(d == y for d, _, y in both) / len(both), 3),
            "annotators_A": dict(Counter(x for _, x, _ in both)), "annotators_B": dict(Counter(y for _, _, y in both))}


def train_second_draw() -> dict[str, list[str]]:
    """Themes of the training part's second draw: agreed as both passes gave them, disputes as adjudicated."""
    adj = adjudicated(TRAIN / "adjudication.jsonl")
    out = {}
    for pa, pb in passes(TRAIN_PASSES).values():
        for cid, a in pa.items():
            if disputed_fields(a, pb[cid]) and cid not in adj:
                raise SystemExit(f"{cid} is disputed and not adjudicated: run `disputes --train`")
            out[cid] = settle(a, pb[cid], adj.get(cid))[1]
    return out


def gold() -> list[dict]:
    """Agreed fields as both passes gave them; disputed fields as the adjudicator settled them."""
    adj = adjudicated(EVAL / "adjudication.jsonl")
    out = []
    for chunk, (pa, pb) in passes().items():
        for cid, a in pa.items():
            stance, themes = settle(a, pb[cid], adj.get(cid))
            out.append({"comment_id": cid, "source": SOURCE_OF[chunk], "stance": stance, "themes": themes,
                        "annotator": "adjudicated" if cid in adj else "agreed", "codebook_version": "1.0"})
    return out


SOURCE_OF = {"dev_rfd": "nyt_rfd", "dev_reddit": "reddit", "dev_reddit2": "reddit", "dev_sfu": "sfu_globe", "dev_nhs": "nhs_feedback"}


def build() -> None:
    rows = gold()
    (EVAL / "gold.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    report: dict = {"codebook": "1.0", "eval": {}}
    by_source: dict[str, list] = {}  # a source may come in several chunks (reddit: two draws)
    for chunk, (pa, pb) in passes().items():
        by_source.setdefault(SOURCE_OF[chunk], []).extend((pa[i], pb[i]) for i in pa)
    for source, pairs in by_source.items():
        report["eval"][source] = agreement(pairs)
    report["eval"]["all"] = agreement([p for pairs in by_source.values() for p in pairs])
    counts = {s: dict(Counter(r["stance"] for r in rows if r["source"] == s)) for s in by_source}
    tcounts = {s: dict(Counter(t for r in rows if r["source"] == s for t in r["themes"])) for s in by_source}
    report["gold_counts"] = {"stance": counts, "themes": tcounts,
                             "adjudicated": sum(r["annotator"] == "adjudicated" for r in rows), "n": len(rows)}
    if (TRAIN / "sample.A.jsonl").exists():
        a = {r["id"]: r for r in read_jsonl(TRAIN / "sample.A.jsonl")}
        b = {r["id"]: r for r in read_jsonl(TRAIN / "sample.B.jsonl")}
        sample = [(a[i], b[i]) for i in a]
        second = [(pa[i], pb[i]) for pa, pb in passes(TRAIN_PASSES).values() for i in pa]
        derived = derived_stance()
        report["train_sample"] = agreement(sample)
        report["train_sample"]["derived_vs_annotators"] = derived_vs_annotators(sample, derived)
        report["train_second_draw"] = agreement(second)
        report["train_second_draw"]["derived_vs_annotators"] = derived_vs_annotators(second, derived)
        build_rfd_train(a, b)
    (EVAL / "agreement.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(json.dumps({k: v for k, v in report.items() if k != "eval"}, indent=1)[:3000])
    for s, r in report["eval"].items():
        print(s, r["n"], "stance kappa", r.get("stance", {}).get("kappa"), "themes mean kappa", r["themes_mean_kappa"])


@functools.cache
def _rfd_frame():
    import pandas as pd

    sys.path.insert(0, str(ROOT / "src"))
    from commentary.realset import RFD_FILE, corpora_dir

    return pd.read_csv(corpora_dir() / RFD_FILE, sep="\t", quoting=3)


def derived_stance() -> dict[str, str]:
    """agree when the comment takes the side its debate page's title asserts, else disagree."""
    pages = {r["title"]: r for r in read_jsonl(REAL / "rfd_articles.jsonl")}
    out = {}
    for r in _rfd_frame().itertuples():
        page = pages[r.title]
        thesis = page["side_1"] if page["thesis_side"] == 1 else page["side_2"]
        out[f"rfd-{r.id}"] = "agree" if r.annotatedStance == thesis else "disagree"
    return out


def build_rfd_train(sample_a: dict, sample_b: dict) -> None:
    """The training part: RfD comments of the training debates, derived stance, annotated themes."""
    sys.path.insert(0, str(ROOT / "src"))
    from commentary.dataset import write_dataset
    from commentary.realset import rfd_article
    from commentary.records import Comment, Labels

    pages = {r["title"]: r for r in read_jsonl(REAL / "rfd_articles.jsonl")}
    themes: dict[str, list[str]] = {}
    for p in sorted((TRAIN / "passes").glob("*.jsonl")):
        for r in read_jsonl(p):
            themes[r["id"]] = r["themes"]
    # The doubly labelled sample: a theme counts when both annotators gave it, or when
    # the single pass did and one of the two did (two votes of three).
    for cid in sample_a:
        votes = Counter(sample_a[cid]["themes"]) + Counter(sample_b[cid]["themes"]) + Counter(themes.get(cid, []))
        themes[cid] = [t for t in THEMES if votes[t] >= 2]
    themes.update(train_second_draw())
    dev_ids = {r["comment_id"] for r in read_jsonl(EVAL / "gold.jsonl") if r["source"] == "nyt_rfd"}
    dev_titles = set()
    d = _rfd_frame()
    for r in d.itertuples():
        if f"rfd-{r.id}" in dev_ids:
            dev_titles.add(r.title)
    derived = derived_stance()
    arts, coms, labs = {}, [], []
    for r in d.itertuples():
        cid = f"rfd-{r.id}"
        if cid not in themes or r.title in dev_titles:
            continue
        art = arts.setdefault(r.title, rfd_article(r.title, pages[r.title]))
        art.url = "https://www.nytimes.com" + str(r.url)
        coms.append(Comment(id=cid, article_id=art.id, text=str(r.text), author=None, date=None,
                            source="nyt_rfd_stance_arct", place=f"id {r.id}"))
        labs.append(Labels(cid, derived[cid], themes[cid], "rfd-side+themes-pass", codebook_version="1.0"))
    # the folder is written anew: keep the encoder's embeddings that ship in it (scripts/ship_embeddings.py)
    shipped = REAL / "rfd_train" / "embeddings"
    kept = Path(tempfile.mkdtemp()) / "embeddings"
    if shipped.is_dir():
        shutil.copytree(shipped, kept)
    write_dataset(REAL / "rfd_train", list(arts.values()), coms, labels=labs, force=True,
                  info={"source": "UKPLab/argument-reasoning-comprehension-task@929f584 (Apache-2.0), "
                                  "mturk/annotation-task/data/exported-3365-stance-taking-arguments.tsv",
                        "labels": "stance from the comment's debate side and the side the page's title asserts; "
                                  "themes from one annotator pass for the first 2,000 (a sample of 200 labelled "
                                  "twice more), from two blind passes and adjudication for the other 481",
                        # Measured on the real evaluation set (docs/quality.md): these stance labels, a
                        # relation to a thesis that frozen sentence embeddings cannot read, lower real-comment
                        # stance F1 for tfidf and hybrid, so training takes the themes alone by default.
                        "stance_for_training": False})
    if kept.is_dir():
        shutil.copytree(kept, shipped)
        shutil.rmtree(kept.parent)
    print(f"rfd_train: {len(coms)} comments under {len(arts)} debates; stance {dict(Counter(lab.stance for lab in labs))}")


if __name__ == "__main__":
    cmd = sys.argv[1] if len(sys.argv) > 1 else "build"
    if cmd == "disputes":
        for row in disputes(passes(TRAIN_PASSES) if "--train" in sys.argv else None):
            print(json.dumps(row))
    else:
        build()
