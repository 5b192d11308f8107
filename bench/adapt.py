"""Does `--adapt` help? Train on the starter corpus, adapting to each real corpus' unlabelled text.

    python bench/adapt.py [--backend tfidf] [--method vocabulary]

For subreddit_agreement the replies and quotes are the unlabelled text; for
pxtextmining_nhs the feedback comments. Each is scored with and without adapting.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from quality import CORPORA, STARTER, load_cached, measure, pxtextmining, subreddit

from commentary.codebook import load_codebook
from commentary.dataset import write_dataset
from commentary.fitting import TrainConfig
from commentary.records import Comment
from commentary.training import train_version


def unlabelled(folder: Path, name: str, texts: list[str]) -> Path:
    path = folder / name
    write_dataset(path, [], [Comment(id=f"u{i}", article_id=None, text=t) for i, t in enumerate(texts)])
    return path


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--backend", default="tfidf")
    ap.add_argument("--method", default="vocabulary")
    args = ap.parse_args()
    if not CORPORA.is_dir():
        print("skipped: ../shared/corpora is absent")
        return 0
    book = load_codebook()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        r_texts, r_quotes, _ = subreddit()
        p_texts, _ = pxtextmining()
        targets = {"subreddit": unlabelled(tmp, "reddit", r_texts + r_quotes),
                   "pxtextmining": unlabelled(tmp, "px", p_texts)}
        for target, path in [("none", None), *targets.items()]:
            cfg = TrainConfig(backend=args.backend, adapt_method=args.method, name=f"adapt-{target}")
            v = train_version(STARTER / "train", book, cfg, tmp / "models", adapt=path).version
            model = load_cached(tmp / "models", v.ref)
            row = {"backend": args.backend, "method": args.method, "adapt_to": target, **measure(model)}
            print(json.dumps(row), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
