"""Training time on the starter corpus, end to end through the CLI (cross-validation included).

    python bench/bench_train.py

Runs `commentary train` for tfidf, then embeddings and hybrid (the default where an
encoder is installed), each with an empty embedding cache (cold) and again with the
cache it filled (warm). Copy the figures into docs/performance.md.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time


def timed(args: list[str], env: dict) -> float:
    start = time.perf_counter()
    subprocess.run(args, check=True, capture_output=True, env=env)
    return time.perf_counter() - start


def main() -> None:
    exe = [sys.executable, "-m", "commentary", "-q", "train", "--no-promote"]
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "COMMENTARY_HOME": tmp, "COMMENTARY_CACHE": os.path.join(tmp, "cache")}
        print(f"tfidf:            {timed(exe + ['--backend', 'tfidf'], env):6.1f} s", flush=True)
        for backend in ("embeddings", "hybrid"):
            cache = os.path.join(tmp, f"cache-{backend}")
            env["COMMENTARY_CACHE"] = cache  # each backend starts cold
            print(f"{backend + ' cold:':18s}{timed(exe + ['--backend', backend], env):6.1f} s", flush=True)
            print(f"{backend + ' warm:':18s}{timed(exe + ['--backend', backend], env):6.1f} s", flush=True)


if __name__ == "__main__":
    main()
