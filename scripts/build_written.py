"""Build data/written_real_style: comments written in the manner of real readers, for the labels
real data lacks (mixed, neutral, hierarchy, listening, nothing_new, teamwork), two labelling passes.

    python scripts/build_written.py disputes   # items where the writer's labels and the blind pass differ
    python scripts/build_written.py build      # the dataset, agreement.json

Inputs in data/written_real_style/passes/: ``<w>.A.jsonl`` (the writer's text, article and labels,
written as its author meant them), ``<w>.B.jsonl`` (a second annotator's blind labels of the same
comments) and ``adjudication.jsonl`` (a third annotator's decision on each disputed field).
The text is the project's own (written for it), so it lives in data/.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
sys.path.insert(0, str(ROOT / "src"))
from build_real import THEMES, agreement, read_jsonl  # noqa: E402

OUT = ROOT / "data" / "written_real_style"
PASSES = OUT / "passes"


def passes() -> dict[str, tuple[dict, dict]]:
    out = {}
    for a in sorted(PASSES.glob("*.A.jsonl")):
        w = a.name[: -len(".A.jsonl")]
        b = a.with_name(f"{w}.B.jsonl")
        out[w] = ({r["comment_id"]: r for r in read_jsonl(a)}, {r["id"]: r for r in read_jsonl(b)})
    return out


def disputes() -> list[dict]:
    rows = []
    for w, (pa, pb) in passes().items():
        for cid, a in pa.items():
            b = pb[cid]
            fields = (["stance"] if a["stance"] != b["stance"] else []) + [
                t for t in THEMES if (t in a["themes"]) != (t in b["themes"])]
            if fields:
                rows.append({"id": cid, "writer": w, "disputed": fields,
                             "A": {"stance": a["stance"], "themes": a["themes"]},
                             "B": {"stance": b["stance"], "themes": b["themes"]}})
    return rows


def build() -> None:
    from commentary.dataset import write_dataset
    from commentary.records import Article, Comment, Labels

    adj_path = PASSES / "adjudication.jsonl"
    adj = {r["id"]: r for r in read_jsonl(adj_path)} if adj_path.exists() else {}
    arts: dict[str, Article] = {}
    coms, labs, pairs = [], [], []
    for w, (pa, pb) in passes().items():
        for cid, a in pa.items():
            b = pb[cid]
            pairs.append((a, b))
            stance = a["stance"] if a["stance"] == b["stance"] else adj[cid]["stance"]
            themes = [t for t in THEMES if ((t in a["themes"]) and (t in b["themes"]))
                      or ((t in a["themes"]) != (t in b["themes"]) and t in adj[cid]["themes"])]
            art = arts.setdefault(a["article_id"], Article(id=a["article_id"], title=a["title"], text=a["lede"],
                                                           source="written_real_style"))
            coms.append(Comment(id=cid, article_id=art.id, text=a["text"], parent_id=a.get("reply_to"),
                                source="written_real_style", place=f"{w} {cid}"))
            labs.append(Labels(cid, stance, themes, "adjudicated" if cid in adj else "agreed",
                               codebook_version="1.0"))
    report = {"n": len(pairs), "agreement": agreement(pairs),
              "adjudicated": len(adj),
              "gold_counts": {"stance": dict(Counter(lab.stance for lab in labs)),
                              "themes": dict(Counter(t for lab in labs for t in lab.themes))}}
    write_dataset(OUT / "train", list(arts.values()), coms, labels=labs, force=True,
                  info={"source": "written for this project in the manner of real reader comments "
                                  "(data/written_real_style/DATASHEET.md)",
                        "labels": "the writer's labels and a blind second pass, disputes adjudicated"})
    (OUT / "agreement.json").write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps({k: v for k, v in report.items() if k != "agreement"}, indent=1))
    ag = report["agreement"]
    print("stance kappa", ag["stance"]["kappa"], "themes mean", ag["themes_mean_kappa"],
          {t: ag[t]["kappa"] for t in THEMES})


if __name__ == "__main__":
    if (sys.argv[1] if len(sys.argv) > 1 else "build") == "disputes":
        for row in disputes():
            print(json.dumps(row))
    else:
        build()
