"""Classify benchmarks: throughput, memory, embeddings against the bare encoder, start-up.

    python bench/bench_classify.py throughput [--sizes 20000 100000] [--jobs 0]
    python bench/bench_classify.py memory [--sizes 10000 1000000]
    python bench/bench_classify.py embeddings [--n 2000] [--backend embeddings|hybrid]
    python bench/bench_classify.py startup [--backend auto|tfidf]
    python bench/bench_classify.py tiers [--n 5000] [--with-mpnet]
    python bench/bench_classify.py runtimes [--out docs/runtimes.json]
    python bench/bench_classify.py ray [--n 5000] [--workers 1 2] [--base-model static]

Every run trains its model in a temporary home first (not timed). The comments are
made from sentences of the starter corpus, recombined at random (1 to 6 sentences
each), so their words and lengths are those of real comments without repeating any
comment whole. Each figure is a whole `commentary classify FILE -o OUT` process,
file in to file out, start-up included. Figures go into docs/performance.md.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
EXE = [sys.executable, "-m", "commentary", "-q"]


def sentences() -> list[str]:
    out = []
    for part in sorted((REPO / "data" / "starter" / "source").glob("part*.jsonl")):
        for line in part.read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            if row["kind"] == "comment":
                out += [s for s in re.split(r"(?<=[.!?])\s+", row["text"]) if s.strip()]
    return out


def write_comments(path: Path, n: int, seed: int = 0) -> None:
    pool = sentences()
    rng = random.Random(seed)
    with open(path, "w", encoding="utf-8") as fh:
        for i in range(n):
            text = " ".join(rng.choice(pool) for _ in range(rng.randint(1, 6)))
            fh.write(json.dumps({"id": f"b{i}", "text": text}) + "\n")


def train(home: str, *extra: str) -> dict[str, str]:
    env = {**os.environ, "COMMENTARY_HOME": home}
    subprocess.run(EXE + ["train", *extra], check=True, env=env, capture_output=True)
    return env


def run_classify(env, src: Path, out: Path, *extra: str) -> tuple[float, int]:
    """Wall seconds and peak RSS (KiB) of one classify process."""
    probe = ("import resource, subprocess, sys, time; t = time.perf_counter(); "
             "subprocess.run(sys.argv[1:], check=True); "
             "print(time.perf_counter() - t, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")
    res = subprocess.run([sys.executable, "-c", probe, *EXE, "classify", str(src), "-o", str(out), "--force",
                          *extra], check=True, env=env, capture_output=True, text=True)
    secs, rss = res.stdout.split()
    return float(secs), int(rss)


def throughput(args) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        env = train(tmp, "--backend", "tfidf")
        for n in args.sizes:
            src = Path(tmp) / f"c{n}.jsonl"
            write_comments(src, n)
            best = min(run_classify(env, src, Path(tmp) / "p.jsonl", "--jobs", str(args.jobs))[0]
                       for _ in range(args.repeat))
            print(f"tfidf classify {n:,} comments (--jobs {args.jobs}): {best:.1f} s, "
                  f"{n / best:,.0f} comments/s end to end")


def memory(args) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        env = train(tmp, "--backend", "tfidf")
        peaks = {}
        for n in args.sizes:
            src = Path(tmp) / f"c{n}.jsonl"
            write_comments(src, n)
            secs, rss = run_classify(env, src, Path(tmp) / "p.jsonl")
            src.unlink()
            peaks[n] = rss
            print(f"tfidf classify {n:,} comments: {secs:.1f} s, peak RSS {rss / 1024:,.0f} MiB")
        lo, hi = min(args.sizes), max(args.sizes)
        print(f"peak RSS ratio {hi:,} / {lo:,}: {peaks[hi] / peaks[lo]:.2f} (target <= 1.2)")


def embeddings(args) -> None:
    """An encoder-based model through classify against the bare encoder on the same texts."""
    with tempfile.TemporaryDirectory() as tmp:
        env = train(tmp, "--backend", args.backend, "--cv-folds", "2")
        src = Path(tmp) / "c.jsonl"
        write_comments(src, args.n, seed=1)
        texts = [json.loads(line)["text"] for line in src.read_text(encoding="utf-8").splitlines()]
        secs, _ = run_classify(env, src, Path(tmp) / "p.jsonl")
        saved = json.loads((Path(tmp) / "models" / "commentary" / "v1" / "backend.json").read_text())["settings"]
        size, length = saved.get("batch_size", 32), saved.get("max_length", 256)  # as the model encodes
        bare_code = (
            "import json, sys, time\n"
            "from commentary.backends.encoder import Encoder, resolve_base_model\n"
            "texts = json.load(sys.stdin)\n"
            f"enc = Encoder(resolve_base_model(None)[1], max_length={length}, batch_size={size})\n"
            "enc.encode(texts[:32])\n"  # warm-up, as classify's own first batch pays it too
            "t = time.perf_counter(); enc.encode(texts); print(time.perf_counter() - t)\n")
        bare = subprocess.run([sys.executable, "-c", bare_code], input=json.dumps(texts), check=True, env=env,
                              capture_output=True, text=True)
        bare_secs = float(bare.stdout.split()[-1])
        print(f"bare encoder: {args.n / bare_secs:,.1f} texts/s ({bare_secs:.1f} s, model loaded and warm)")
        print(f"{args.backend} classify end to end: {args.n / secs:,.1f} comments/s ({secs:.1f} s, start-up included)")
        print(f"ratio: {bare_secs / secs:.2f} (target >= 0.8)")


def startup(args) -> None:
    """Wall time of classifying one short comment, and where the time goes."""
    with tempfile.TemporaryDirectory() as tmp:
        env = train(tmp, "--backend", args.backend)
        src = Path(tmp) / "one.txt"
        src.write_text("Leaders should listen to the nurses on the ward.\n", encoding="utf-8")
        best = min(run_classify(env, src, Path(tmp) / "p.jsonl")[0] for _ in range(args.repeat))
        print(f"classify one comment with a {args.backend} model: {best:.2f} s wall")
        res = subprocess.run([sys.executable, "-X", "importtime", *EXE[1:], "classify", str(src), "-o",
                              str(Path(tmp) / "p2.jsonl")], env=env, capture_output=True, text=True, check=True)
        top: dict[str, int] = {}
        for line in res.stderr.splitlines():
            m = re.match(r"import time:\s+\d+ \|\s+(\d+) \|( *)(\S+)", line)
            if m and len(m.group(2)) <= 1:  # top-level imports only
                top[m.group(3)] = int(m.group(1))
        total = sum(top.values()) / 1e6
        print(f"imports: {total:.2f} s in all; largest: "
              + ", ".join(f"{k} {v / 1e6:.2f} s" for k, v in sorted(top.items(), key=lambda kv: -kv[1])[:6]))
        code = ("import time; t = time.perf_counter(); from pathlib import Path; "
                "from commentary.training import load_model; "
                f"m, v = load_model(Path({tmp!r}) / 'models'); t1 = time.perf_counter(); "
                "from commentary.backends.base import Inputs; m.predict(Inputs(['Leaders should listen.'])); "
                "t2 = time.perf_counter(); print(t1 - t, t2 - t1)")
        load_s, predict_s = map(float, subprocess.run([sys.executable, "-c", code], env=env, check=True,
                                                      capture_output=True, text=True).stdout.split())
        print(f"load and verify the model: {load_s:.2f} s (imports included); predict one comment: "
              f"{predict_s * 1000:.1f} ms")


def real_texts(n: int) -> tuple[list[str], str]:
    """*n* real reader comments (the Globe and Mail comments of ../shared/corpora/sfu_ctc, read in
    place and repeated as needed), else recombined starter sentences when the corpora are absent."""
    import csv

    path = REPO.parent / "shared" / "corpora" / "sfu_ctc" / "SFU_constructiveness_toxicity.csv"
    if path.is_file():
        with open(path, encoding="utf-8", errors="replace", newline="") as fh:
            pool = [r["comment"] for r in csv.DictReader(fh) if r.get("comment", "").strip()]
        return [pool[i % len(pool)] for i in range(n)], f"real Globe and Mail comments ({len(pool):,}, repeated)"
    rng = random.Random(3)
    pool = sentences()
    return [" ".join(rng.choice(pool) for _ in range(rng.randint(1, 6))) for _ in range(n)], "recombined starter sentences"


def tiers(args) -> None:
    """Each tier side by side on the same real comments: tfidf, hybrid on the static encoder (the
    default), and (with --with-mpnet, slow) hybrid on all-mpnet-base-v2: end-to-end throughput and
    one-comment start-up."""
    from commentary.paths import cache_root

    texts, what = real_texts(args.n)
    print(f"{args.n:,} comments: {what}")
    settings = [("tfidf", ["--backend", "tfidf"]),
                ("hybrid, static encoder (default)", ["--backend", "hybrid", "--base-model", "static"])]
    if args.with_mpnet:
        settings.append(("hybrid, mpnet", ["--backend", "hybrid", "--base-model", "sentence-transformers/all-mpnet-base-v2"]))
    for name, extra in settings:
        with tempfile.TemporaryDirectory() as tmp:
            os.environ["COMMENTARY_CACHE"] = str(cache_root())  # encoders and embeddings are made once
            env = train(tmp, *extra)
            src = Path(tmp) / "c.jsonl"
            src.write_text("".join(json.dumps({"id": f"r{i}", "text": t}) + "\n" for i, t in enumerate(texts)),
                           encoding="utf-8")
            secs, rss = run_classify(env, src, Path(tmp) / "p.jsonl")
            one = Path(tmp) / "one.txt"
            one.write_text(texts[0] + "\n", encoding="utf-8")
            start = min(run_classify(env, one, Path(tmp) / "p1.jsonl")[0] for _ in range(2))
            print(f"{name}: {args.n / secs:,.0f} comments/s end to end ({secs:.1f} s, peak RSS {rss / 1024:,.0f} MiB); "
                  f"one comment {start:.2f} s")


def runtimes(args) -> None:
    """The hybrid on mpnet under each encoder runtime (torch, onnx, onnx-int8) on the real evaluation set:
    the encoder's rate, agreement of the predictions with torch's, macro-F1 against the gold labels,
    and a one-comment `classify` process (start-up included)."""
    import numpy as np
    from sklearn.metrics import f1_score

    import commentary
    from commentary.paths import cache_root
    from commentary.realset import combined_real, corpora_dir

    if corpora_dir() is None:
        print("the public corpora are not here (../shared/corpora): nothing to measure")
        return
    ds, by = combined_real()
    arts = {a.id: a.text for a in ds.articles}
    texts = [c.text for c in ds.comments]
    articles = [arts.get(c.article_id) for c in ds.comments]
    gold = {lab.comment_id: lab for lab in ds.labels}
    report: dict = {"comments": len(texts), "runtimes": {}}
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["COMMENTARY_CACHE"] = str(cache_root())
        env = train(tmp, "--base-model", "sentence-transformers/all-mpnet-base-v2")  # runtimes are the transformer's
        models = Path(tmp) / "models"
        one = Path(tmp) / "one.txt"
        one.write_text(texts[0] + "\n", encoding="utf-8")
        ref = None
        for runtime in ("torch", "onnx", "onnx-int8"):
            os.environ["COMMENTARY_RUNTIME"] = runtime
            model = commentary.load(models_dir=models)
            model.predict(texts[:8], articles=articles[:8])  # load the encoder (and export it, the first time)
            start = time.perf_counter()
            preds = model.predict(texts, articles=articles)
            secs = time.perf_counter() - start
            stance = [p.stance for p in preds]
            themes = [set(p.themes) for p in preds]
            row = {"comments_per_s": round(len(texts) / secs, 1)}
            st = [i for i, c in enumerate(ds.comments) if gold[c.id].stance is not None]
            row["stance_macro_f1"] = round(f1_score([gold[ds.comments[i].id].stance for i in st],
                                                    [stance[i] for i in st], average="macro", zero_division=0), 3)
            ids = model.labels["themes"]
            y = np.array([[t in gold[c.id].themes for t in ids] for c in ds.comments])
            yp = np.array([[t in th for t in ids] for th in themes])
            keep = y.sum(0) > 0
            row["themes_macro_f1"] = round(float(f1_score(y[:, keep], yp[:, keep], average="macro", zero_division=0)), 3)
            if ref is None:
                ref = (stance, themes)
            row["same_stance_as_torch"] = round(float(np.mean([a == b for a, b in zip(stance, ref[0])])), 4)
            row["same_themes_as_torch"] = round(float(np.mean([a == b for a, b in zip(themes, ref[1])])), 4)
            row["one_comment_process_s"] = round(min(run_classify({**env, "COMMENTARY_RUNTIME": runtime}, one,
                                                                  Path(tmp) / "p1.jsonl")[0] for _ in range(2)), 2)
            report["runtimes"][runtime] = row
            print(runtime, json.dumps(row))
    torch_rate = report["runtimes"]["torch"]["comments_per_s"]
    for row in report["runtimes"].values():
        row["speed_vs_torch"] = round(row["comments_per_s"] / torch_rate, 2)
    print(json.dumps(report, indent=2))
    if args.out:
        Path(args.out).write_text(json.dumps(report, indent=2) + "\n")


def ray(args) -> None:
    """`classify --engine ray` with 1, 2, ... workers on a local Ray cluster against the local path, on
    the same real comments: wall seconds per whole process (cluster start-up included), and whether
    every comment got the same stance, themes and probabilities as locally."""
    import pandas as pd

    from commentary.paths import cache_root

    texts, what = real_texts(args.n)
    print(f"{args.n:,} comments: {what}; model: hybrid on {args.base_model}")
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["COMMENTARY_CACHE"] = str(cache_root())
        env = train(tmp, "--backend", "hybrid", "--base-model", args.base_model)
        src = Path(tmp) / "c.jsonl"
        src.write_text("".join(json.dumps({"id": f"r{i}", "text": t}) + "\n" for i, t in enumerate(texts)),
                       encoding="utf-8")
        secs, _ = run_classify(env, src, Path(tmp) / "local.jsonl")
        local = {r["id"]: r for r in map(json.loads, (Path(tmp) / "local.jsonl").read_text().splitlines())}
        print(f"local path: {secs:.1f} s ({args.n / secs:,.0f} comments/s)")
        first = None
        for workers in args.workers:
            out = Path(tmp) / f"ray{workers}"
            secs, _ = run_classify(env, src, out, "--engine", "ray", "--workers", str(workers))
            rows = pd.read_parquet(out / "shards")  # the manifest beside it lists them
            same = sum(1 for r in rows.itertuples()
                       if r.stance == local[r.id]["stance"] and list(r.themes) == local[r.id]["themes"]
                       and json.loads(r.stance_probs) == local[r.id]["stance_probs"])
            first = first or secs
            print(f"--engine ray --workers {workers}: {secs:.1f} s ({args.n / secs:,.0f} comments/s, "
                  f"{first / secs:.2f} x 1 worker); {len(rows):,} rows, {same:,} as the local path")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="what", required=True)
    p = sub.add_parser("throughput")
    p.add_argument("--sizes", type=int, nargs="+", default=[20000, 100000])
    p.add_argument("--repeat", type=int, default=2)
    p.add_argument("--jobs", type=int, default=0, help="0: the default (one process per core)")
    p = sub.add_parser("memory")
    p.add_argument("--sizes", type=int, nargs="+", default=[10000, 1000000])
    p = sub.add_parser("embeddings")
    p.add_argument("--n", type=int, default=2000)
    p.add_argument("--backend", default="embeddings", choices=("embeddings", "hybrid"))
    p = sub.add_parser("startup")
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--backend", default="auto", help="auto is the default: hybrid where an encoder is installed")
    p = sub.add_parser("tiers")
    p.add_argument("--n", type=int, default=5000)
    p.add_argument("--with-mpnet", action="store_true", help="also the hybrid on mpnet (minutes on a CPU)")
    p = sub.add_parser("runtimes")
    p.add_argument("--out", default=None, help="write the figures here as JSON")
    p = sub.add_parser("ray")
    p.add_argument("--n", type=int, default=5000)
    p.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    p.add_argument("--base-model", default="static", help="the hybrid's encoder (static: the default model)")
    args = ap.parse_args()
    start = time.perf_counter()
    {"throughput": throughput, "memory": memory, "embeddings": embeddings, "startup": startup,
     "tiers": tiers, "runtimes": runtimes, "ray": ray}[args.what](args)
    print(f"(benchmark took {time.perf_counter() - start:.0f} s)", file=sys.stderr)


if __name__ == "__main__":
    main()
