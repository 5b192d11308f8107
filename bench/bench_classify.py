"""Classify throughput, file in to file out, with the default tfidf model.

    python bench/bench_classify.py [--n 20000]

Trains the default model in a temporary home (not timed), then times
`commentary classify comments.jsonl -o predictions.jsonl`.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

WORDS = ("the staff ward council listen managers patients budget evidence waiting list team "
         "leaders top down reform funding nurses doctors housing bus school never again agree").split()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=20000)
    args = ap.parse_args()
    rng = random.Random(0)
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "COMMENTARY_HOME": tmp}
        exe = [sys.executable, "-m", "commentary", "-q"]
        subprocess.run(exe + ["train"], check=True, env=env, capture_output=True)
        src = Path(tmp) / "comments.jsonl"
        with open(src, "w") as fh:
            for i in range(args.n):
                text = " ".join(rng.choice(WORDS) for _ in range(rng.randint(5, 80)))
                fh.write(json.dumps({"id": str(i), "text": text}) + "\n")
        start = time.perf_counter()
        subprocess.run(exe + ["classify", str(src), "-o", str(Path(tmp) / "p.jsonl")], check=True, env=env)
        secs = time.perf_counter() - start
    print(f"classify {args.n:,} comments: {secs:.1f} s, {args.n / secs:,.0f} comments/s end to end")


if __name__ == "__main__":
    main()
