"""Quality figures for docs/quality.md: real comments first, source by source, then the starter split.

    python bench/quality.py [--backends tfidf,hybrid] [--data default,starter] [--out docs/quality.json]
                            [--transfer]

Each backend is trained through the product's own path (``train_version``) on each
training mix:
- ``default``: what ``commentary train`` uses, the starter corpus' train split plus
  the real Room for Debate comments of data/real/rfd_train (themes only; see the
  datasheet);
- ``starter``: the starter corpus alone (the model before real text was added);
- ``rfd-stance``: the default mix with the Room for Debate stance labels used too.
Then measured on:
- the real evaluation set (data/real/eval: 650 real comments from four public
  sources, read in place from ../shared/corpora), pooled and source by source; the
  ``nyt_rfd`` source's debates are never in the training part, and the other three
  sources are never trained on at all, so every figure measures transfer;
- the starter test split; the seed page's three comments;
- with ``--transfer``, the older whole-corpus checks (Reddit reply agreement on all
  2,934 pairs, ``listening`` on 7,400 NHS comments), which encode ten thousand
  comments and take long with a transformer backend.
The real set is skipped, with a note, when ../shared/corpora is absent.
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

from commentary.backends.base import Inputs
from commentary.codebook import load_codebook
from commentary.dataset import read_dataset
from commentary.evaluate import measure as measure_gold
from commentary.fitting import TrainConfig
from commentary.paths import default_training_sets
from commentary.training import evaluate_on, load_model, train_version

REPO = Path(__file__).resolve().parents[1]
STARTER = REPO / "data" / "starter"
CORPORA = REPO.parent / "shared" / "corpora"
SEED = REPO.parent / "shared" / "seeds" / "000_e688575bb1709492.txt"


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


def seed_page(model) -> dict:
    """What the model says of each comment on the seed page, as `commentary classify` reads it."""
    from commentary.classify import read_items

    if not SEED.exists():
        return {}
    items = list(read_items(str(SEED)))
    preds = model.predict(Inputs([i.text for i in items], [i.article for i in items]))
    return {"seed": {i.author: {"stance": p["stance"], "stance_probs": p["stance_probs"], "themes": p["themes"]}
                     for i, p in zip(items, preds)}}


def seed_checks(seed: dict) -> int | None:
    """The seven checks of the codebook's seed-page table: three agree, nothing_new twice, listening twice.

    *seed* is what ``seed_page`` gives under ``"seed"``: each commenter's stance and themes."""
    if not seed:
        return None
    want = {"Clare Charlton": ("listening",), "Taruna Chauhan": ("nothing_new",),
            "Steve Turner": ("nothing_new", "listening")}
    n = 0
    for who, themes in want.items():
        got = next((v for k, v in seed.items() if k and k.startswith(who)), None)
        if got:
            n += got["stance"] == "agree"
            n += sum(t in got["themes"] for t in themes)
    return n


def real(model, version, book) -> dict:
    from commentary.realset import combined_real, corpora_dir

    if corpora_dir() is None:
        return {"real": "skipped: ../shared/corpora is absent"}
    ds, by = combined_real()
    m = measure_gold(model, version.ref, version.manifest["codebook"]["version"], ds, book, by=by)

    def brief(g):
        return {"stance_macro_f1": g["stance"]["macro_f1"], "themes_macro_f1": g["themes"]["macro_f1"],
                "stance_f1": {k: round(v["f1"], 3) for k, v in g["stance"]["per_label"].items()},
                "themes_f1": {k: round(v["f1"], 3) for k, v in g["themes"]["per_label"].items()
                              if v["support"]},
                "n": g["n"], "n_stance": g["stance"]["n"]}

    return {"real": brief(m), "real_sources": {k: brief(g) for k, g in m["groups"].items()}}


def transfer(model) -> dict:
    from sklearn.metrics import f1_score, roc_auc_score

    out = {}
    if (CORPORA / "subreddit_agreement").is_dir():
        texts, quotes, y = subreddit()
        cs, _ = model.probabilities(Inputs(texts, quotes))
        to3 = {"agree": 2, "disagree": 0, "neutral": 1, "mixed": 1}
        pred = np.array([to3[model.decisions.stance_labels[k]] for k in cs.argmax(1)])
        out["subreddit_macro_f1"] = float(f1_score(y, pred, average="macro"))
    if (CORPORA / "pxtextmining_nhs").is_dir():
        texts, y = pxtextmining()
        _, ct = model.probabilities(Inputs(texts))
        j = model.decisions.theme_labels.index("listening")
        out["listening_f1"] = float(f1_score(y, ct[:, j] >= model.decisions.thresholds["listening"]))
        out["listening_auc"] = float(roc_auc_score(y, ct[:, j]))
    return out


measure = transfer  # the name bench/adapt.py and bench/finetune.py import


def training_sets(mix: str, tmp: Path) -> list[Path]:
    if mix == "default":
        return default_training_sets()
    if mix == "starter":
        return [STARTER / "train"]
    if mix == "rfd-stance":  # the Room for Debate stance labels used for the stance head too
        from commentary.dataset import write_dataset

        ds = read_dataset(REPO / "data" / "real" / "rfd_train")
        path = tmp / "rfd_with_stance"
        if not path.exists():
            write_dataset(path, ds.articles, ds.comments, labels=ds.labels,
                          info={**{k: v for k, v in ds.manifest.items() if k not in ("files", "content_sha256")},
                                "stance_for_training": True})
        return [STARTER / "train", path]
    if mix.startswith("+"):  # the default mix plus dataset folders: "+data/x/train,data/y/train" (":"-separated)
        return default_training_sets() + [Path(p) for p in mix[1:].split(":")]
    raise SystemExit(f"unknown --data {mix}")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--backends", default="tfidf,hybrid")
    ap.add_argument("--data", default="default,starter",
                    help="training mixes: default, starter, rfd-stance, or +FOLDER[:FOLDER...] (the default plus those)")
    ap.add_argument("--out", default=str(REPO / "docs" / "quality.json"))
    ap.add_argument("--transfer", action="store_true")
    ap.add_argument("--set", action="append", default=[], help="KEY=JSON training setting (repeatable)")
    args = ap.parse_args()
    book = load_codebook()
    extra = {k: json.loads(v) for k, v in (s.split("=", 1) for s in args.set)}
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for backend in args.backends.split(","):
            for mix in args.data.split(","):
                cfg = TrainConfig(backend=backend, **extra)
                start = time.perf_counter()
                outcome = train_version(training_sets(mix, tmp), book, cfg, tmp / "models")
                secs = time.perf_counter() - start
                version = outcome.version
                model = load_cached(tmp / "models", version.ref)
                cv = outcome.metrics["cv"]
                test = evaluate_on(model, STARTER / "test", book)
                row = {"backend": backend, "data": mix, "settings": extra, "train_seconds": round(secs, 1),
                       "n_train": version.manifest["training_data"]["n"],
                       **real(model, version, book),
                       "test_stance_macro_f1": test["stance"]["macro_f1"],
                       "test_themes_macro_f1": test["themes"]["macro_f1"],
                       "cv_stance_macro_f1": cv["stance"]["macro_f1"], "cv_themes_macro_f1": cv["themes"]["macro_f1"],
                       **(transfer(model) if args.transfer else {}), **seed_page(model)}
                row["seed_checks"] = seed_checks(row.get("seed", {}))
                results.append(row)
                print(json.dumps(row), flush=True)
    Path(args.out).write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
