"""Fine-tune timing and quality on this machine (CPU here; GPU where one is lent).

    python bench/finetune.py [--epochs 3] [--cv-folds 2] [--max-length 192]

Trains the finetune backend (all-MiniLM-L6-v2, article and comment as a pair) on
the starter train split, prints seconds per epoch, then the same measures as
bench/quality.py.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from quality import STARTER, measure

from commentary.codebook import load_codebook
from commentary.fitting import TrainConfig
from commentary.training import evaluate_on, load_model, train_version


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--cv-folds", type=int, default=2)
    ap.add_argument("--max-length", type=int, default=192)
    ap.add_argument("--no-article", action="store_true")
    args = ap.parse_args()
    book = load_codebook()
    cfg = TrainConfig(backend="finetune", epochs=args.epochs, cv_folds=args.cv_folds,
                      max_length=args.max_length, use_article=not args.no_article, learning_rate=5e-5)
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        v = train_version(STARTER / "train", book, cfg, Path(tmp)).version
        total = time.perf_counter() - start
        saved = json.loads((v.path / "backend.json").read_text())["settings"]
        model, _ = load_model(Path(tmp), v.ref)
        test = evaluate_on(model, STARTER / "test", book)
        row = {"backend": "finetune", "use_article": cfg.use_article, "epochs": args.epochs,
               "cv_folds": args.cv_folds, "max_length": args.max_length, "train_seconds": round(total, 1),
               "epoch_seconds_final_fit": saved["epoch_seconds"],
               "test_stance_macro_f1": test["stance"]["macro_f1"],
               "test_themes_macro_f1": test["themes"]["macro_f1"], **measure(model)}
    print(json.dumps(row))
    return 0


if __name__ == "__main__":
    sys.exit(main())
