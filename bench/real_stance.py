"""The same pipeline on real stance data: subreddit_agreement through `ingest` and `train`.

    python bench/real_stance.py [--backend tfidf]

Each (quote, reply) pair is ingested with the quote as the article, labelled from
the corpus' own relation column (0 disagree, 1 neutral, 2 agree), split by quote
70/30 with a fixed seed, trained with a stance-only copy of the codebook, and
scored on the held-out 30%. Also trains on growing slices to show a learning curve.
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
from pathlib import Path

from quality import CORPORA

from commentary.codebook import default_codebook_path, load_codebook
from commentary.dataset import read_dataset, write_dataset
from commentary.fitting import TrainConfig
from commentary.records import Labels
from commentary.training import evaluate_on, load_model, train_version

RELATION = {"0": "disagree", "1": "neutral", "2": "agree"}


def stance_only_codebook(folder: Path) -> Path:
    """A user's edited codebook: agree / disagree / neutral, no themes."""
    text = default_codebook_path().read_text()
    head, _, rest = text.partition("    - id: mixed")
    _, _, after_mixed = rest.partition("    - id: neutral")
    stance_part = head + "    - id: neutral" + after_mixed.split("\nthemes:")[0]
    book = stance_part.replace('version: "1.0"', 'version: "1.0-stance-only"')
    book += "\nthemes:\n  description: none in this codebook\n  labels: []\n"
    path = folder / "stance-only.yaml"
    path.write_text(book)
    return path


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--backend", default="tfidf")
    args = ap.parse_args()
    src = CORPORA / "subreddit_agreement"
    if not src.is_dir():
        print("skipped: ../shared/corpora/subreddit_agreement is absent")
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        subprocess.run([sys.executable, "-m", "commentary", "-q", "ingest",
                        str(src / "SubReddit-CovidVaccine.csv"), str(src / "SubReddit-MaskMandate.csv"),
                        "--encoding", "cp1252", "--text-column", "response_text",
                        "--article-column", "quote_text", "--article-text-column", "quote_text",
                        "-o", str(tmp / "all")], check=True)
        book = load_codebook(stance_only_codebook(tmp))
        ds = read_dataset(tmp / "all")
        labels = [Labels(c.id, RELATION[str(json.loads(c.meta)["relation"])], [], "corpus")
                  for c in ds.comments]
        arts = sorted(a.id for a in ds.articles)
        random.Random(0).shuffle(arts)
        test_arts = set(arts[: int(len(arts) * 0.3)])
        by_id = {lab.comment_id: lab for lab in labels}
        for name, keep in (("train", lambda c: c.article_id not in test_arts),
                           ("test", lambda c: c.article_id in test_arts)):
            coms = [c for c in ds.comments if keep(c)]
            aids = {c.article_id for c in coms}
            write_dataset(tmp / name, [a for a in ds.articles if a.id in aids], coms,
                          labels=[by_id[c.id] for c in coms])
        train_ds = read_dataset(tmp / "train")
        results = []
        ids = [lab.comment_id for lab in train_ds.labels]
        random.Random(1).shuffle(ids)
        for n in (100, 250, 500, 1000, len(ids)):
            subset = set(ids[:n])
            labs = [lab for lab in train_ds.labels if lab.comment_id in subset]
            cfg = TrainConfig(backend=args.backend, name=f"real{n}", cv_folds=5)
            v = train_version(tmp / "train", book, cfg, tmp / "models", labels=labs).version
            model, _ = load_model(tmp / "models", v.ref)
            test = evaluate_on(model, tmp / "test", book)
            row = {"backend": args.backend, "train_n": n, "test_n": test["n"],
                   "test_stance_macro_f1": round(test["stance"]["macro_f1"], 3),
                   "test_accuracy": round(test["stance"]["accuracy"], 3)}
            results.append(row)
            print(json.dumps(row), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
