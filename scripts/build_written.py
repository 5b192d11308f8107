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
from build_real import THEMES, agreement, disputes, read_jsonl, settle  # noqa: E402
from build_real import passes as read_passes  # noqa: E402

OUT = ROOT / "data" / "written_real_style"
PASSES = OUT / "passes"


def passes() -> dict[str, tuple[dict, dict]]:
    """writer -> (the writer's own labels by comment id, the blind second pass by id)."""
    return read_passes(PASSES, key_a="comment_id")


def build() -> None:
    from commentary.dataset import write_dataset
    from commentary.records import Article, Comment, Labels

    adj_path = PASSES / "adjudication.jsonl"
    adj = {r["id"]: r for r in read_jsonl(adj_path)} if adj_path.exists() else {}
    arts: dict[str, Article] = {}
    coms, labs, pairs = [], [], []
    for w, (pa, pb) in passes().items():
        for cid, a in pa.items():
            pairs.append((a, pb[cid]))
            stance, themes = settle(a, pb[cid], adj.get(cid))
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
        for row in disputes(passes()):  # "chunk" names the writer
            print(json.dumps(row))
    else:
        build()
