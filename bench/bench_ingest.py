"""Benchmark: ingest 100,000 comments from JSONL and from CSV, and time `commentary --help`.

Run with `make bench`; copy the figures into docs/performance.md.
"""

from __future__ import annotations

import csv
import json
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

N = 100_000
WORDS = ("the staff ward council listen managers patients budget evidence waiting list "
         "team leaders top down reform funding nurses doctors housing bus school").split()


def make_rows(n: int) -> list[dict]:
    rng = random.Random(0)
    rows = []
    for i in range(n):
        rows.append({
            "id": str(i), "article_id": f"art{i % 500}", "parent_id": str(i - 1) if i % 7 == 0 and i else "",
            "author": f"user{rng.randrange(20000)}", "date": f"2023-{1 + i % 12:02d}-{1 + i % 28:02d}",
            "text": " ".join(rng.choice(WORDS) for _ in range(rng.randint(5, 80))),
        })
    return rows


def timed(args: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(args, check=True, capture_output=True)
    return time.perf_counter() - start


def main() -> None:
    exe = [sys.executable, "-m", "commentary"]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        rows = make_rows(N)
        with open(tmp / "c.jsonl", "w") as fh:
            for r in rows:
                fh.write(json.dumps(r) + "\n")
        with open(tmp / "c.csv", "w", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=list(rows[0]))
            w.writeheader()
            w.writerows(rows)
        results = {}
        for name in ("c.jsonl", "c.csv"):
            results[name] = min(timed(exe + ["-q", "ingest", str(tmp / name), "-o",
                                             str(tmp / f"out-{name}-{k}")]) for k in range(2))
        results["--help"] = min(timed(exe + ["--help"]) for _ in range(5))
        results["python -c pass"] = min(timed([sys.executable, "-c", "pass"]) for _ in range(5))
    for key, secs in results.items():
        print(f"{key:>16}: {secs:6.2f} s")


if __name__ == "__main__":
    main()
