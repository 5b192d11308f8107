"""commentary serve over real HTTP on a loopback port: classify, health, model, bad input, concurrency."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest

from commentary.codebook import load_codebook
from commentary.fitting import TrainConfig
from commentary.training import train_version

from conftest import die_with_parent, free_port

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")


@pytest.fixture(scope="module")
def server(small, tmp_path_factory):
    root = tmp_path_factory.mktemp("serve") / "models"
    train_version(small, load_codebook(), TrainConfig(cv_folds=2), root)
    port = free_port()
    env = {**os.environ, "COMMENTARY_HOME": str(root.parent)}
    proc = subprocess.Popen([sys.executable, "-m", "commentary", "serve", "--models-dir", root, "--port", str(port),
                             "--max-comments", "50", "--max-comment-chars", "2000"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, preexec_fn=die_with_parent)
    base = f"http://127.0.0.1:{port}"
    try:
        end = time.time() + 60
        while time.time() < end:
            try:
                urllib.request.urlopen(base + "/health", timeout=2)
                break
            except OSError:
                if proc.poll() is not None:
                    raise AssertionError(proc.stderr.read().decode()) from None
                time.sleep(0.2)
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def call(base, path, body=None, method=None):
    data = None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
    req = urllib.request.Request(base + path, data=data, method=method or ("POST" if data is not None else "GET"),
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=30) as res:
            return res.status, json.loads(res.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_health_model_and_docs(server):
    assert call(server, "/health") == (200, {"status": "ok", "model": "commentary@v1"})
    status, info = call(server, "/model")
    assert status == 200 and info["backend"] == "tfidf" and "agree" in info["labels"]["stance"]
    assert set(info["quality"]["cv"]) == {"stance", "themes"}
    status, spec = call(server, "/openapi.json")
    assert status == 200 and "/classify" in spec["paths"]


def test_classify_one_and_many_with_articles(server):
    status, out = call(server, "/classify", {"text": "The managers never listen to the ward staff."})
    assert status == 200 and out["model"] == "commentary@v1" and len(out["predictions"]) == 1
    p = out["predictions"][0]
    assert p["stance"] in ("agree", "disagree", "mixed", "neutral") and isinstance(p["themes"], list)
    body = {"article": "Ward leaders should listen to their staff.",
            "comments": [{"id": "a", "text": "Spot on, nobody asks the nurses."},
                         {"id": "b", "text": "Nonsense.", "article": "Another article entirely."}]}
    status, out = call(server, "/classify", body)
    assert status == 200 and [p["id"] for p in out["predictions"]] == ["a", "b"]


@pytest.mark.parametrize("body, status, words", [
    (b"{not json", 422, "JSON"),
    ({}, 422, "either text"),
    ({"text": "x", "comments": [{"text": "y"}]}, 422, "either text"),
    ({"comments": []}, 422, "empty"),
    ({"comments": [{"text": ""}]}, 422, "at least 1"),
    ({"comments": [{"text": "a comment"}] * 51}, 413, "at most 50"),
    ({"text": "word " * 1000}, 413, "at most 2,000"),
    ({"text": "fine", "article": "word " * 5000}, 413, "an article is 25,000 characters; at most 20,000"),
    (b'{"text": "\\ud800 x"}', 422, "text: Input should be a valid string"),  # was a 500, a traceback
    (b'{"comments": [{"text": 5}]}', 422, "comments.0.text"),
])
def test_bad_input_is_a_clear_4xx(server, body, status, words):
    got, out = call(server, "/classify", body)
    assert got == status and words in json.dumps(out)


def test_concurrent_requests_each_get_their_own_answers(server):
    texts = [f"Comment {i}: the managers should listen to the staff on ward {i}." for i in range(40)]

    def one(i):
        return call(server, "/classify", {"comments": [{"id": str(i), "text": texts[i]}]})

    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(one, range(40)))
    assert all(status == 200 for status, _ in results)
    assert [out["predictions"][0]["id"] for _, out in results] == [str(i) for i in range(40)]
    assert [out["predictions"][0]["text"] for _, out in results] == texts
