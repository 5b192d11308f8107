"""Build the starter corpus datasets (train, dev, test) from the hand-written source files.

    python scripts/build_starter.py        # rewrites data/starter/{train,dev,test}/ and stats.json

Each source file under data/starter/source/ holds the articles and comments of one
topic area, written and labelled by hand. Splits are by article, about 70/15/15,
chosen with a fixed seed inside each topic area so every split covers every area.
"""

from __future__ import annotations

import hashlib
import json
import random
import sys
from collections import Counter
from pathlib import Path

from commentary.codebook import load_codebook
from commentary.dataset import write_dataset
from commentary.records import Article, Comment, Labels

ROOT = Path(__file__).resolve().parents[1] / "data" / "starter"
SPLITS = ("train", "dev", "test")
LABELLED_ON = "2026-11-28"


def load_part(path: Path):
    data = path.read_bytes()
    sha = hashlib.sha256(data).hexdigest()
    rel = f"data/starter/source/{path.name}"
    arts, coms, labs = [], [], []
    for n, line in enumerate(data.decode("utf-8").splitlines(), 1):
        if not line.strip():
            continue
        r = json.loads(line)
        if r["kind"] == "article":
            arts.append(Article(id=r["id"], title=r["title"], url=r.get("url"), author=r.get("author"),
                                published=r.get("published"), text=r["text"], source=rel,
                                source_sha256=sha))
        else:
            coms.append(Comment(id=r["id"], article_id=r["article_id"], text=r["text"],
                                parent_id=r.get("parent_id"), author=r.get("author"),
                                affiliation=r.get("affiliation"), date=r.get("date"),
                                date_text=r.get("date"), source=rel, source_sha256=sha,
                                place=f"line {n}"))
            labs.append(Labels(comment_id=r["id"], stance=r["stance"], themes=list(r["themes"]),
                               annotator="starter-pass-1", created=LABELLED_ON))
    return arts, coms, labs


def main() -> int:
    book = load_codebook()
    per_split = {s: ([], [], []) for s in SPLITS}
    for path in sorted((ROOT / "source").glob("part*.jsonl")):
        arts, coms, labs = load_part(path)
        for lab in labs:
            book.check(lab.stance, lab.themes, where=f"{path.name}: {lab.comment_id}")
            lab.codebook_version = book.version
        ids = sorted(a.id for a in arts)
        random.Random(f"starter-{path.stem}").shuffle(ids)
        n_eval = max(1, round(len(ids) * 0.15))
        assign = {a: "test" for a in ids[:n_eval]}
        assign.update({a: "dev" for a in ids[n_eval:2 * n_eval]})
        assign.update({a: "train" for a in ids[2 * n_eval:]})
        for a in arts:
            per_split[assign[a.id]][0].append(a)
        for c, lab in zip(coms, labs):
            per_split[assign[c.article_id]][1].append(c)
            per_split[assign[c.article_id]][2].append(lab)
    stats = {}
    for split, (arts, coms, labs) in per_split.items():
        write_dataset(ROOT / split, arts, coms, labels=labs, force=True, info={
            "name": f"starter-{split}", "split": split, "codebook_version": book.version,
            "summary": {"articles": len(arts), "comments": len(coms)},
        })
        stats[split] = {
            "articles": len(arts), "comments": len(coms),
            "replies": sum(1 for c in coms if c.parent_id),
            "stance": dict(sorted(Counter(lab.stance for lab in labs).items())),
            "themes": {t: sum(t in lab.themes for lab in labs) for t in book.theme_ids},
            "no_theme": sum(1 for lab in labs if not lab.themes),
        }
    (ROOT / "stats.json").write_text(json.dumps(stats, indent=2) + "\n")
    print(json.dumps(stats, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
