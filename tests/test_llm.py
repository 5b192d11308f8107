"""label llm against an OpenAI-compatible server on a loopback port (started here, stopped by itself):
the protocol, strict answers with one repair, retries on 429 and 5xx, the cache, failures left unlabelled."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from commentary.codebook import load_codebook
from commentary.dataset import read_dataset, write_dataset
from commentary.records import Article, Comment


class Scripted(BaseHTTPRequestHandler):
    """An OpenAI-compatible /v1/chat/completions whose 'model' reads a few words, with faults on cue."""

    seen: list[dict] = []
    faults: dict[str, list] = {}
    refuses: set[str] = set()  # response_format types this server does not support (HTTP 400, as vLLM says it)

    def log_message(self, *args):  # quiet
        pass

    def do_POST(self):
        if self.headers.get("Authorization") != "Bearer sk-test":
            return self._send(401, {"error": {"message": "bad key"}})
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if body["model"] != "tiny":
            return self._send(404, {"error": {"message": f"model {body['model']} not found"}})
        kind = (body.get("response_format") or {}).get("type")
        if kind in type(self).refuses:
            return self._send(400, {"error": {"message": f"response_format type {kind} is not supported"}})
        type(self).seen.append(body)
        comment = body["messages"][1]["content"].rsplit("COMMENT: ", 1)[1]
        queue = type(self).faults.get(comment.split()[0], [])
        fault = queue.pop(0) if queue else None
        if fault == "die":  # the server goes away mid-run: this answer never comes, nor any later one
            self.server.shutdown()
            self.server.server_close()
            self.close_connection = True
            return
        if fault == 429:
            return self._send(429, {"error": {"message": "slow down"}}, {"Retry-After": "0"})
        if fault == 500:
            return self._send(500, {"error": {"message": "oops"}})
        if fault == "prose":
            content = "I think this comment agrees with the article."
        elif fault == "bad-label":
            content = json.dumps({"stance": "enthusiastic", "themes": []})
        else:
            stance = "disagree" if "nonsense" in comment.lower() else "agree"
            themes = [{"theme": "listening", "evidence": "nobody asked"}] if "asked" in comment else []
            content = json.dumps({"stance": stance, "stance_evidence": comment[:40], "themes": themes})
        self._send(200, {"choices": [{"message": {"role": "assistant", "content": content},
                                      "logprobs": {"content": [{"token": "x", "logprob": -0.1}]}}],
                         "usage": {"total_tokens": 100}})

    def _send(self, code, payload, headers=None):
        data = json.dumps(payload).encode()
        self.send_response(code)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture
def server():
    Scripted.seen, Scripted.faults, Scripted.refuses = [], {}, set()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Scripted)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def dataset(tmp_path):
    art = Article(id="a1", title="Ward leaders should listen", text="Leaders should listen to staff. " * 50)
    texts = ["Alpha: spot on, nobody asked the nurses.", "Bravo: nonsense, the data say otherwise.",
             "Charlie: great piece.", "Delta: I agree.", "Echo: what a read."]
    coms = [Comment(id=f"c{i}", article_id="a1", text=t) for i, t in enumerate(texts)]
    write_dataset(tmp_path / "ds", [art], coms)
    return tmp_path / "ds"


def run(cli, server, dataset, out, *extra, key="sk-test"):
    return cli("label", "llm", dataset, "-o", out, "--base-url", server, "--model", "tiny", "--api-key", key,
               "--concurrency", "3", *extra)


def test_labels_every_comment_with_retries_repair_and_a_cache(cli, server, dataset, tmp_path):
    Scripted.faults = {"Alpha:": [429, 500], "Bravo:": ["prose"], "Echo:": ["bad-label", "bad-label"]}
    out = tmp_path / "llm.jsonl"
    res = run(cli, server, dataset, out)
    assert res.exit_code == 0, res.stderr
    rows = {r["comment_id"]: r for r in map(json.loads, out.read_text().splitlines())}
    assert rows["c0"]["stance"] == "agree" and rows["c0"]["themes"] == ["listening"]  # after a 429 and a 500
    assert rows["c1"]["stance"] == "disagree"  # after one repair of a prose answer
    assert "c4" not in rows and "c4: not labelled (unusable answer after one repair" in res.stderr  # never guessed
    assert rows["c0"]["annotator"] == "llm:tiny:llm-1" and rows["c0"]["weak"] is True
    assert rows["c0"]["confidence"] == pytest.approx(0.9048, abs=1e-3)
    assert rows["c0"]["evidence"]["listening"] == "nobody asked"
    # the system prompt carries the codebook, the article (cut to its budget), and the labels' form
    first = Scripted.seen[0]["messages"]
    assert "hierarchy" in first[0]["content"] and "ARTICLE TITLE: Ward leaders should listen" in first[1]["content"]
    # decoding is constrained to the codebook: the stance and theme ids are the schema's only allowed values
    fmt = Scripted.seen[0]["response_format"]
    assert Scripted.seen[0]["temperature"] == 0 and fmt["type"] == "json_schema"
    schema = fmt["json_schema"]["schema"]
    assert schema["properties"]["stance"]["enum"] == ["agree", "disagree", "mixed", "neutral"]
    assert "hierarchy" in schema["properties"]["themes"]["items"]["properties"]["theme"]["enum"]
    # the labels file is an ordinary one: train --labels and label agreement read it
    from commentary.label.io import read_labels_file

    assert len(read_labels_file(out, load_codebook())) == 4
    # a rerun costs nothing: every answer comes from the cache; the failed one is asked again
    before = len(Scripted.seen)
    res = run(cli, server, dataset, tmp_path / "again.jsonl")
    assert res.exit_code == 0 and "(4 from the cache" in res.stderr
    again = {r["comment_id"]: r for r in map(json.loads, (tmp_path / "again.jsonl").read_text().splitlines())}
    assert {k: again[k] for k in rows} == rows and again["c4"]["stance"] == "agree"
    assert len(Scripted.seen) - before == 1  # only Echo, which now answers well
    assert read_dataset(dataset).comments  # the dataset is untouched


def test_a_server_without_schemas_is_asked_for_json_then_for_text(cli, server, dataset, tmp_path):
    Scripted.refuses = {"json_schema", "json_object"}  # a server that only takes a prompt
    out = tmp_path / "llm.jsonl"
    res = run(cli, server, dataset, out)
    assert res.exit_code == 0, res.stderr
    assert len(out.read_text().splitlines()) == 5
    assert all("response_format" not in body for body in Scripted.seen)  # every answer was asked as text
    assert "the server refused --answer-format schema; answers were asked for as 'text'" in res.stderr


def test_a_server_that_dies_mid_run_stops_it_and_what_was_labelled_is_kept(cli, server, dataset, tmp_path):
    Scripted.faults = {"Charlie:": ["die"]}
    out = tmp_path / "llm.jsonl"
    res = cli("label", "llm", dataset, "-o", out, "--base-url", server, "--model", "tiny", "--api-key", "sk-test",
              "--concurrency", "1", "--max-retries", "1")
    lines = res.stderr.strip().splitlines()
    assert res.exit_code == 1 and "stopped answering" in lines[-1] and "run the same command again" in lines[-1]
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["comment_id"] for r in rows] == ["c0", "c1"]  # labelled before the server died, in the output
    assert "wrote 2 labels" in res.stderr and "3 failed" in res.stderr
    assert not any(line.startswith(("c3:", "c4:")) for line in lines)  # one line for the stop, not one a comment


@pytest.mark.parametrize("args, words", [
    (["--api-key", "wrong"], "refused the key (HTTP 401)"),
    (["--model", "huge"], "check the model name (huge)"),
    (["--base-url", "http://127.0.0.1:9/v1"], "nothing answers at http://127.0.0.1:9/v1/chat/completions"),
])
def test_endpoint_problems_are_one_line(cli, server, dataset, tmp_path, args, words):
    base = ["label", "llm", dataset, "-o", tmp_path / "x.jsonl", "--base-url", server, "--model", "tiny",
            "--api-key", "sk-test"]
    for flag, value in zip(args[::2], args[1::2]):
        base[base.index(flag) + 1] = value
    res = cli(*base)
    lines = res.stderr.strip().splitlines()
    assert res.exit_code == 1 and words in lines[-1] and not (tmp_path / "x.jsonl").exists(), res.stderr


def test_no_endpoint_says_how_to_set_one(cli, dataset, tmp_path, monkeypatch):
    monkeypatch.delenv("COMMENTARY_LLM_BASE_URL", raising=False)
    res = cli("label", "llm", dataset, "-o", tmp_path / "x.jsonl")
    assert res.exit_code == 1 and "no language-model endpoint is set; pass --base-url" in res.stderr


def test_peoples_labels_win_over_the_models_when_both_label_a_comment():
    from commentary.label.io import merge_label_sources
    from commentary.records import Labels

    llm = [Labels("c1", "agree", [], "llm:tiny:llm-1", weak=True), Labels("c2", "agree", [], "llm:tiny:llm-1", weak=True)]
    people = [Labels("c2", "disagree", ["evidence"], "ana"), Labels("c3", "neutral", [], "ana")]
    merged, counts = merge_label_sources([llm, people])
    assert {lab.comment_id: lab.stance for lab in merged} == {"c1": "agree", "c2": "disagree", "c3": "neutral"}
    assert counts == {"from people": 2, "from machines (weak)": 1, "machine labels overruled by people's": 1}


def test_train_takes_several_labels_files_and_says_where_they_came_from(cli, small, tmp_path):
    ds = read_dataset(small)
    half = len(ds.labels) // 2
    llm = tmp_path / "llm.jsonl"
    llm.write_text("".join(json.dumps({"comment_id": lab.comment_id, "stance": lab.stance, "themes": lab.themes,
                                       "annotator": "llm:tiny:llm-1", "weak": True}) + "\n" for lab in ds.labels))
    people = tmp_path / "ana.jsonl"
    people.write_text("".join(json.dumps({"comment_id": lab.comment_id, "stance": lab.stance, "themes": lab.themes,
                                          "annotator": "ana"}) + "\n" for lab in ds.labels[:half]))
    res = cli("train", small, "--labels", llm, "--labels", people, "--backend", "tfidf", "--cv-folds", "2",
              "--models-dir", tmp_path / "models")
    assert res.exit_code == 0, res.stderr
    assert (f"labels: {half:,} from people, {len(ds.labels) - half:,} from machines (weak), "
            f"{half:,} machine labels overruled by people's") in res.stderr
    # the model card says how many labels came from which source
    card = next((tmp_path / "models").rglob("README.md")).read_text()
    line = next(ln for ln in card.splitlines() if ln.startswith("Labels by who or what made them: "))
    assert f"`llm:tiny:llm-1` {len(ds.labels) - half}" in line and f"`ana` {half}" in line


def test_evidence_the_comment_does_not_hold_is_dropped_not_shown():
    from commentary.label.llm import parse_answer

    comment = "Nobody asked the nurses.  It is  the same old story."
    answer = json.dumps({"stance": "agree", "stance_evidence": "the sentence that shows it",  # the template, copied
                         "themes": [{"theme": "nothing_new", "evidence": "the same old STORY"},
                                    {"theme": "listening", "evidence": "Nobody listened to anyone"}]})
    parsed = parse_answer(answer, load_codebook(), comment)
    assert parsed["themes"] == ["nothing_new", "listening"]  # the labels stand, in the codebook's order
    assert parsed["evidence"] == {"stance": "", "nothing_new": "the same old STORY", "listening": ""}


def test_progress_says_labelled_cached_failed_tokens_and_cost(cli, server, dataset, tmp_path, monkeypatch):
    from commentary._ui import UI

    monkeypatch.setattr(UI, "PLAIN_EVERY", 0.0)  # a progress line at every step
    Scripted.faults = {"Echo:": ["bad-label", "bad-label"]}
    res = run(cli, server, dataset, tmp_path / "llm.jsonl", "--price", "0.5", "--concurrency", "1")
    assert res.exit_code == 0, res.stderr
    assert "labelling: 5 of 5 done (" in res.stderr
    assert "4 labelled, 0 cached, 1 failed, 600 tokens, cost 0.3000" in res.stderr  # 100 a request, 6 requests
