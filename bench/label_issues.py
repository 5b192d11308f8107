"""How well `commentary label issues` finds planted label errors in the starter corpus.

    python bench/label_issues.py [--every 10]

Flips the stance (agree <-> disagree) of every tenth agree or disagree comment of
the train split, runs the same confident-learning step as `commentary label
issues`, and reports how many planted errors are flagged and how many sit among
the worst-ranked 60. Figures go into docs/labelling.md.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from commentary.codebook import load_codebook
from commentary.dataset import read_dataset
from commentary.fitting import TrainConfig, load_training_data
from commentary.label.issues import find_label_issues
from commentary.records import Labels

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--every", type=int, default=10)
    ap.add_argument("--worst", type=int, default=60)
    args = ap.parse_args()
    ds = read_dataset(REPO / "data" / "starter" / "train")
    flip = {"agree": "disagree", "disagree": "agree"}
    planted = {lab.comment_id for lab in [lab for lab in ds.labels if lab.stance in flip][::args.every]}
    labels = [Labels(lab.comment_id, flip[lab.stance], lab.themes) if lab.comment_id in planted else lab
              for lab in ds.labels]
    data = load_training_data(ds, load_codebook(), labels=labels)
    stance = [i.comment_id for i in find_label_issues(data, TrainConfig()) if i.kind == "stance"]
    flagged = planted & set(stance)
    worst = stance[:args.worst]
    hits = sum(c in planted for c in worst)
    print(f"{len(planted)} planted in {len(ds.labels)} ({len(planted) / len(ds.labels):.1%}); "
          f"{len(stance)} stance issues flagged, holding {len(flagged)} planted ({len(flagged) / len(planted):.0%}); "
          f"worst {len(worst)} hold {hits} ({hits / len(worst):.0%})")


if __name__ == "__main__":
    main()
