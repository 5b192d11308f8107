"""How well a language model labels real comments: `label llm` on the real evaluation set.

    COMMENTARY_LLM_BASE_URL=http://127.0.0.1:8080/v1 COMMENTARY_LLM_MODEL=my-model \
        python bench/llm_agreement.py [--source reddit] [--per-source 30] [--out docs/llm_agreement.json]

Labels the real set's comments (data/real/eval, read in place from ../shared/corpora)
through the configured OpenAI-compatible endpoint, exactly as `commentary label llm`
does (same prompt, cache and parser), then reports against the gold labels: stance
macro-F1 and Cohen's kappa, themes macro-F1 and kappa per theme, per source; tokens
and seconds per comment; how many comments failed. Without an endpoint, or without
the corpora, it says so and exits 0 (nothing to measure).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from commentary.codebook import load_codebook
from commentary.label.llm import Endpoint, label_with_llm, llm_items
from commentary.paths import cache_root
from commentary.realset import combined_real, corpora_dir


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--source", action="append", help="only this real source (repeatable)")
    ap.add_argument("--per-source", type=int, default=None,
                    help="at most this many comments from each source, the first in the set's order (a first look)")
    ap.add_argument("--concurrency", type=int, default=4)
    ap.add_argument("--out", default=None, help="write the figures here as JSON")
    args = ap.parse_args()
    if not os.environ.get("COMMENTARY_LLM_BASE_URL") or not os.environ.get("COMMENTARY_LLM_MODEL"):
        print("no endpoint: set COMMENTARY_LLM_BASE_URL and COMMENTARY_LLM_MODEL (and _API_KEY) to measure one")
        return 0
    if corpora_dir() is None:
        print("the public corpora are not here (../shared/corpora): nothing to measure")
        return 0
    from sklearn.metrics import cohen_kappa_score, f1_score

    book = load_codebook()
    ds, by = combined_real(sources=args.source)
    gold = {lab.comment_id: lab for lab in ds.labels}
    source_of = {ds.comments[i].id: name for name, rows in by.items() for i in rows}
    comments = [ds.comments[i] for rows in by.values() for i in rows[: args.per_source]]
    items = llm_items(ds.articles, comments)
    endpoint = Endpoint.from_env(timeout=120)
    start = time.monotonic()
    run = label_with_llm(items, book, endpoint, cache_dir=cache_root() / "llm", concurrency=args.concurrency)
    seconds = time.monotonic() - start
    got = {lab.comment_id: lab for lab in run.labels}

    def figures(ids: list[str]) -> dict:
        ids = [i for i in ids if i in got]
        st = [i for i in ids if gold[i].stance is not None]
        out = {"n": len(ids)}
        if st:
            y, p = [gold[i].stance for i in st], [got[i].stance for i in st]
            out["stance_macro_f1"] = round(f1_score(y, p, average="macro", labels=book.stance_ids, zero_division=0), 3)
            out["stance_kappa"] = round(cohen_kappa_score(y, p), 3)
        per_theme, f1s = {}, []
        for t in book.theme_ids:
            y = [int(t in gold[i].themes) for i in ids]
            p = [int(t in got[i].themes) for i in ids]
            if sum(y):
                f1s.append(f1_score(y, p, zero_division=0))
                per_theme[t] = {"f1": round(f1s[-1], 3), "support": sum(y),
                                "kappa": round(cohen_kappa_score(y, p), 3) if len(set(y) | set(p)) > 1 else None}
        out["themes_macro_f1"] = round(sum(f1s) / len(f1s), 3) if f1s else None
        out["themes"] = per_theme
        return out

    report = {"model": endpoint.model, "endpoint": endpoint.base_url, "comments": len(items),
              "failed": len(run.failed), "from_cache": run.cached, "tokens": run.tokens,
              "seconds_per_comment": round(seconds / max(1, len(items) - run.cached), 2),
              "all": figures([c.id for c in comments]),
              "sources": {name: figures([i for i in (c.id for c in comments) if source_of[i] == name])
                          for name in by}}
    print(json.dumps(report, indent=2))
    if args.out:
        Path(args.out).write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
