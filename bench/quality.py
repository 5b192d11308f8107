"""Quality figures for docs/quality.md: starter test split and transfer to real comments.

    python bench/quality.py [--backends tfidf,hybrid,embeddings] [--out docs/quality.json]

Every model here is trained on the project's starter corpus only (train split),
then measured on:
- the starter test split (stance and themes macro-F1);
- ../shared/corpora/subreddit_agreement: does a reply agree with the comment it
  quotes (agree / neutral / disagree, the quote standing in for the article;
  predicted `mixed` counts as neutral, as in that corpus' guideline);
- ../shared/corpora/pxtextmining_nhs: the `listening` theme against the
  "Staff listening, understanding & involving patients" label on NHS feedback;
- and, for the record, what it says of each comment on the seed page.
The corpora are read in place and skipped when absent.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from sklearn.metrics import f1_score, roc_auc_score

from commentary.backends.base import Inputs
from commentary.codebook import load_codebook
from commentary.train import TrainConfig
from commentary.training import evaluate_on, load_model, train_version

REPO = Path(__file__).resolve().parents[1]
STARTER = REPO / "data" / "starter"
CORPORA = REPO.parent / "shared" / "corpora"


def subreddit():
    rows = []
    folder = CORPORA / "subreddit_agreement"
    for name in ("SubReddit-CovidVaccine.csv", "SubReddit-MaskMandate.csv"):
        with open(folder / name, encoding="cp1252", errors="replace", newline="") as fh:
            rows += list(csv.DictReader(fh))
    y = np.array([int(r["relation"]) for r in rows])  # 0 disagree, 1 neutral, 2 agree
    return [r["response_text"] for r in rows], [r["quote_text"] for r in rows], y


def pxtextmining():
    path = CORPORA / "pxtextmining_nhs" / "v6framework_230831.csv"
    with open(path, encoding="utf-8", errors="replace", newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if (r.get("FFT answer") or "").strip()]
    col = "Staff listening, understanding & involving patients"
    return [r["FFT answer"] for r in rows], np.array([int(float(r[col] or 0)) for r in rows])


def load_cached(models: Path, ref: str):
    """load_model, but encoding through the embedding cache.

    A loaded model encodes afresh (classify must not fill a cache with users' text);
    here the same corpora are scored run after run, so their embeddings are kept.
    """
    model, _ = load_model(models, ref)
    embeddings = getattr(model.backend, "embeddings", model.backend)
    if hasattr(embeddings, "cache_embeddings"):
        embeddings.cache_embeddings = True
    return model


SEED = REPO.parent / "shared" / "seeds" / "000_e688575bb1709492.txt"


def seed_page(model) -> dict:
    """What the model says of each comment on the seed page, as `commentary classify` reads it."""
    from commentary.classify import read_items

    if not SEED.exists():
        return {}
    items = list(read_items(str(SEED)))
    preds = model.predict(Inputs([i.text for i in items], [i.article for i in items]))
    return {"seed": {i.author: {"stance": p["stance"], "stance_probs": p["stance_probs"], "themes": p["themes"]}
                     for i, p in zip(items, preds)}}


def measure(model, use_article_at_test: bool = True) -> dict:
    out = {}
    if (CORPORA / "subreddit_agreement").is_dir():
        texts, quotes, y = subreddit()
        cs, _ = model.probabilities(Inputs(texts, quotes if use_article_at_test else None))
        to3 = {"agree": 2, "disagree": 0, "neutral": 1, "mixed": 1}
        pred = np.array([to3[model.decisions.stance_labels[k]] for k in cs.argmax(1)])
        out["subreddit_macro_f1"] = float(f1_score(y, pred, average="macro"))
        out["subreddit_n"] = len(y)
    if (CORPORA / "pxtextmining_nhs").is_dir():
        texts, y = pxtextmining()
        _, ct = model.probabilities(Inputs(texts))
        j = model.decisions.theme_labels.index("listening")
        pred = ct[:, j] >= model.decisions.thresholds["listening"]
        out["listening_f1"] = float(f1_score(y, pred))
        out["listening_auc"] = float(roc_auc_score(y, ct[:, j]))
        out["listening_n"], out["listening_positives"] = len(y), int(y.sum())
    return out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--backends", default="tfidf,hybrid,embeddings")
    ap.add_argument("--out", default=str(REPO / "docs" / "quality.json"))
    ap.add_argument("--base-model", default=None, help="encoder for the embeddings backend")
    ap.add_argument("--article", choices=("both", "yes", "no"), default="both")
    args = ap.parse_args()
    book = load_codebook()
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for backend in args.backends.split(","):
            for use_article in {"both": (True, False), "yes": (True,), "no": (False,)}[args.article]:
                cfg = TrainConfig(backend=backend, use_article=use_article, base_model=args.base_model)
                start = time.perf_counter()
                outcome = train_version(STARTER / "train", book, cfg, Path(tmp))
                secs = time.perf_counter() - start
                v, cv = outcome.version, outcome.metrics["cv"]
                model = load_cached(Path(tmp), v.ref)
                test = evaluate_on(model, STARTER / "test", book)
                dev = evaluate_on(model, STARTER / "dev", book)
                row = {"backend": backend, "base_model": v.manifest.get("base_model"),
                       "use_article": use_article, "train_seconds": round(secs, 1),
                       "n_train": v.manifest["training_data"]["n"],
                       "cv_stance_macro_f1": cv["stance"]["macro_f1"], "cv_themes_macro_f1": cv["themes"]["macro_f1"],
                       "cv_stance_ece": cv["stance"]["ece"], "cv_stance_ece_uncalibrated": cv["stance"]["ece_uncalibrated"],
                       "cv_abstain": cv["abstain"],
                       "test_stance_macro_f1": test["stance"]["macro_f1"],
                       "test_themes_macro_f1": test["themes"]["macro_f1"],
                       "dev_stance_macro_f1": dev["stance"]["macro_f1"],
                       "dev_themes_macro_f1": dev["themes"]["macro_f1"], **measure(model), **seed_page(model)}
                results.append(row)
                print(json.dumps(row), flush=True)
    Path(args.out).write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
