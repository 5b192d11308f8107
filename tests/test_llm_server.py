"""label llm against a real OpenAI-compatible server: llama.cpp's own, started here on a loopback port with
Gemma 3 270M (both from PyPI, made by scripts/test_tools.py, which `make test` runs).

The model's labels are poor, and that is fine: these tests check what a real server does that a scripted one
may not (its JSON-schema decoding, its errors for a prompt longer than its context, its timing), with faults
driven by a small proxy in front of it. The server dies with the test process (PR_SET_PDEATHSIG).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from commentary.codebook import load_codebook
from commentary.dataset import write_dataset
from commentary.label.io import read_labels_file
from commentary.records import Article, Comment

from conftest import die_with_parent, free_port

TOOLS = Path(__file__).resolve().parent.parent / ".cache" / "test-tools"


def _find(env: str, name: str) -> Path | None:
    for candidate in (os.environ.get(env), TOOLS / name, shutil.which(name) if "/" not in name else None):
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    return None


def start_llama_server() -> tuple[subprocess.Popen, str]:
    binary = _find("COMMENTARY_LLAMA_SERVER", "llama-server")
    model = _find("COMMENTARY_LLAMA_MODEL", "gemma-3-270m-q4_k_m.gguf")
    if binary is None or model is None:
        why = "llama-server or its model is not built (python scripts/test_tools.py)"
        if os.environ.get("COMMENTARY_REQUIRE_TEST_TOOLS"):
            pytest.fail(f"{why} but COMMENTARY_REQUIRE_TEST_TOOLS is set")
        pytest.skip(why)
    port = free_port()
    # Its log goes to a file, read only if it fails to start (a pipe nobody reads would fill and stall it;
    # --log-disable made this release crash with SIGSEGV at start on some machines).
    log = tempfile.TemporaryFile()
    proc = subprocess.Popen([str(binary), "-m", str(model), "--host", "127.0.0.1", "--port", str(port),
                             "-c", "8192", "-np", "2", "-t", "2", "--no-webui", "--offline"],
                            stdout=subprocess.DEVNULL, stderr=log, preexec_fn=die_with_parent)
    base = f"http://127.0.0.1:{port}"
    end = time.time() + 120
    while time.time() < end:
        try:
            with urllib.request.urlopen(base + "/health", timeout=2) as res:
                if res.status == 200:
                    return proc, base + "/v1"
        except (OSError, urllib.error.HTTPError):
            pass
        if proc.poll() is not None:
            log.seek(0)
            pytest.fail(f"llama-server exited with {proc.returncode}: {log.read().decode(errors='replace')[-500:]}")
        time.sleep(0.3)
    proc.kill()
    pytest.fail("llama-server did not become ready in 120 s")


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@pytest.fixture(scope="module")
def llama():
    proc, url = start_llama_server()
    yield url
    stop(proc)


class Proxy(BaseHTTPRequestHandler):
    """Forwards to the real server, with faults on cue: the n-th request answered 429 or 500, dropped, or the
    whole server taken away (the real one killed and this one closed)."""

    upstream = ""
    faults: dict[int, str] = {}
    count = 0
    lock = threading.Lock()
    on_die = None

    def log_message(self, *args):
        pass

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        with Proxy.lock:
            Proxy.count += 1
            fault = Proxy.faults.get(Proxy.count)
        if fault == "die":
            Proxy.on_die()
            self.server.shutdown()
            self.server.server_close()
            self.close_connection = True
            return
        if fault in ("429", "500"):
            return self._send(int(fault), json.dumps({"error": {"message": "injected"}}).encode())
        req = urllib.request.Request(Proxy.upstream + self.path.removeprefix("/v1"), data=body,
                                     headers={"Content-Type": "application/json"}, method="POST")
        try:
            with urllib.request.urlopen(req, timeout=120) as res:
                self._send(res.status, res.read())
        except urllib.error.HTTPError as exc:
            self._send(exc.code, exc.read())

    def _send(self, code, data):
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def proxy_for(upstream: str, faults: dict[int, str], on_die=None):
    Proxy.upstream, Proxy.faults, Proxy.count, Proxy.on_die = upstream, faults, 0, on_die
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Proxy)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd, f"http://127.0.0.1:{httpd.server_address[1]}/v1"


@pytest.fixture
def comments(tmp_path):
    art = Article(id="a1", title="Ward managers should listen to nurses",
                  text="Hospitals work better when ward managers listen to the nurses who do the work. " * 20)
    texts = ["Spot on. Nobody ever asked us nurses what we thought of the new rota.",
             "Nonsense. The evidence says managers already consult staff more than ever.",
             "We have heard all this before; nothing changes.",
             "My ward manager holds a meeting every week and acts on what we say."]
    coms = [Comment(id=f"c{i}", article_id="a1", text=t) for i, t in enumerate(texts)]
    write_dataset(tmp_path / "ds", [art], coms)
    return tmp_path / "ds"


def label(cli, dataset, out, url, *extra):
    return cli("label", "llm", dataset, "-o", out, "--base-url", url, "--model", "gemma-3-270m",
               "--concurrency", "2", *extra)


def test_labels_through_llama_cpp_with_the_codebook_schema_and_a_cache(cli, llama, comments, tmp_path, monkeypatch):
    monkeypatch.setenv("COMMENTARY_HOME", str(tmp_path / "home"))
    book = load_codebook()
    out = tmp_path / "llm.jsonl"
    res = label(cli, comments, out, llama)
    assert res.exit_code == 0, res.stderr
    assert "refused" not in res.stderr  # llama.cpp takes the JSON schema: decoding is held to the codebook
    labels = read_labels_file(out, book)
    assert [lab.comment_id for lab in labels] == ["c0", "c1", "c2", "c3"]
    assert all(lab.stance in book.stance_ids and set(lab.themes) <= set(book.theme_ids) for lab in labels)
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert all(r["annotator"] == "llm:gemma-3-270m:llm-1" and r["weak"] for r in rows)
    assert all(0 < r["confidence"] <= 1 for r in rows)  # from the server's token log-probabilities
    # every piece of evidence is the comment's own words, or nothing
    from commentary.dataset import read_dataset

    texts = {c.id: " ".join(c.text.split()).casefold() for c in read_dataset(comments).comments}
    assert all(ev.casefold() in texts[r["comment_id"]] for r in rows for ev in r["evidence"].values())
    # a rerun through a proxy that counts: nothing reaches the server, the output is the same
    httpd, url = proxy_for(llama.removesuffix("/v1"), {})
    try:
        res = label(cli, comments, tmp_path / "again.jsonl", url)
    finally:
        httpd.shutdown()
        httpd.server_close()
    assert res.exit_code == 0 and Proxy.count == 0 and "(4 from the cache" in res.stderr
    assert (tmp_path / "again.jsonl").read_text() == out.read_text()


def test_retries_a_real_server_behind_faults_and_fails_only_a_comment_too_long_for_it(cli, llama, comments,
                                                                                       tmp_path, monkeypatch):
    monkeypatch.setenv("COMMENTARY_HOME", str(tmp_path / "home"))
    from commentary.dataset import read_dataset

    ds = read_dataset(comments)
    long = Comment(id="c9", article_id="a1", text="Managers never listen to anyone at all. " * 1200)  # > context
    write_dataset(tmp_path / "ds2", ds.articles, [*ds.comments, long])
    httpd, url = proxy_for(llama.removesuffix("/v1"), {1: "429", 2: "500", 4: "429"})
    try:
        res = label(cli, tmp_path / "ds2", tmp_path / "llm.jsonl", url, "--concurrency", "1")
    finally:
        httpd.shutdown()
        httpd.server_close()
    assert res.exit_code == 0, res.stderr
    done = [json.loads(line)["comment_id"] for line in (tmp_path / "llm.jsonl").read_text().splitlines()]
    assert done == ["c0", "c1", "c2", "c3"]  # every comment the faults hit was retried and labelled
    assert "c9: not labelled (HTTP 400" in res.stderr and "exceeds the available context size" in res.stderr
    assert Proxy.count >= 5 + 3  # five comments, three injected faults


def test_a_real_server_killed_mid_run_stops_it_and_keeps_what_was_labelled(cli, comments, tmp_path, monkeypatch):
    monkeypatch.setenv("COMMENTARY_HOME", str(tmp_path / "home"))
    proc, real = start_llama_server()
    httpd, url = proxy_for(real.removesuffix("/v1"), {3: "die"}, on_die=lambda: (proc.kill(), proc.wait()))
    try:
        res = label(cli, comments, tmp_path / "llm.jsonl", url, "--concurrency", "1", "--max-retries", "1")
    finally:
        stop(proc)
    lines = res.stderr.strip().splitlines()
    assert res.exit_code == 1 and "stopped answering" in lines[-1], res.stderr
    done = [json.loads(line)["comment_id"] for line in (tmp_path / "llm.jsonl").read_text().splitlines()]
    assert done == ["c0", "c1"]  # answered before the server died; the rest are left for a rerun
