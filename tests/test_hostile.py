"""Hostile and malformed input, as a table: each case ends in the right result or one clear line.

Cases come from a probe of 219 bad inputs and conditions (issue 12); each row names the
input, the command, and what must happen: exit status, the message, and what is on disk.
"""

from __future__ import annotations

import json
import re

import pytest

from commentary.codebook import load_codebook
from commentary.fitting import TrainConfig
from commentary.training import train_version


@pytest.fixture(scope="module")
def models(small, tmp_path_factory):
    root = tmp_path_factory.mktemp("hostile") / "models"
    train_version(small, load_codebook(), TrainConfig(cv_folds=2), root)
    return root


NESTED = ('{"id": "1", "message": {"body": "I think the article is right about the wards and staffing."}}\n'
          '{"id": "2", "message": {"body": "No, the author misses the point about wards entirely."}}\n')
SEMICOLON = ("id;text;author\n1;I agree with the article, the wards need more staff and time;Ann\n"
             "2;This is nonsense, the data says otherwise in every trust I know;Bob\n")

# (case, file name, file content, extra arguments, exit status, text on stderr, check on the JSONL stdout)
INGEST = [
    ("nested JSONL: text inside an object is found, not its repr", "nested.jsonl", NESTED, [], 0,
     "using 'message.body'", lambda rows: [r["text"][:9] for r in rows] == ["I think t", "No, the a"]),
    ("JSONL saved as .txt is read as JSONL", "nested.txt", NESTED, [], 0, "using 'message.body'",
     lambda rows: len([r for r in rows if r["kind"] == "comment"]) == 2),
    ("a list where the text should be is refused", "list.jsonl", '{"id": "1", "text": ["a", "b"]}\n', [], 1,
     "the text column 'text' holds a JSON list", None),
    ("JSONL with no text at all is refused", "notext.jsonl",
     '{"comment_id": "1", "author": "Ann", "msg": ""}\n{"comment_id": "2", "author": "Bob", "msg": null}\n', [], 1,
     "has no column of comment text", None),
    ("semicolon CSV is split into columns", "semi.csv", SEMICOLON, [], 0, "",
     lambda rows: [r["author"] for r in rows] == ["Ann", "Bob"]),
    ("a page with no comments says so", "article.txt",
     "A title\n\nSome article text and nothing else, no comments under it at all.\n", [], 0,
     "found no comments (read as text)", lambda rows: [r["kind"] for r in rows] == ["article"]),
]


@pytest.mark.parametrize("case, name, content, extra, status, message, check", INGEST, ids=[c[0] for c in INGEST])
def test_ingest_hostile(cli, tmp_path, case, name, content, extra, status, message, check):
    path = tmp_path / name
    path.write_text(content)
    res = cli("ingest", path, "-o", "-", *extra)
    assert res.exit_code == status, res.stderr
    assert message in res.stderr
    if status:
        assert len(res.stderr.strip().splitlines()) == 1 and res.stdout == ""
    else:
        assert check([json.loads(line) for line in res.stdout.splitlines()])


def test_classify_reads_a_semicolon_csv_as_ingest_does(cli, models, tmp_path):
    path = tmp_path / "semi.csv"
    path.write_text(SEMICOLON)
    res = cli("classify", path, "--format", "jsonl", "--models-dir", models)
    assert res.exit_code == 0, res.stderr
    rows = [json.loads(line) for line in res.stdout.splitlines()]
    assert [r["author"] for r in rows] == ["Ann", "Bob"] and rows[0]["text"].startswith("I agree with the article")


def test_classify_dash_output_is_stdout(cli, models, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "semi.csv"
    path.write_text(SEMICOLON)
    res = cli("classify", path, "-o", "-", "--format", "jsonl", "--models-dir", models)
    assert res.exit_code == 0, res.stderr
    assert len(res.stdout.splitlines()) == 2 and not (tmp_path / "-").exists()


# --- JSON that no file can hold, and nesting too deep to read ---

@pytest.mark.parametrize("content, expected", [
    ('{"id": "1", "text": "a lone \\ud800 surrogate in an otherwise fine comment"}\n', "a lone \ufffd surrogate"),
    ('{"id": "1", "text": "a NUL\\u0000 byte escaped in JSON, and a bell\\u0007 too"}\n', "a NUL byte escaped"),
])
def test_json_escapes_that_files_cannot_hold_are_cleaned(cli, tmp_path, content, expected):
    path = tmp_path / "c.jsonl"
    path.write_text(content)
    res = cli("ingest", path, "-o", tmp_path / "ds")
    assert res.exit_code == 0, res.stderr
    res = cli("classify", tmp_path / "ds", "--format", "jsonl", "--models-dir", tmp_path / "none")
    from commentary.dataset import read_dataset

    [comment] = read_dataset(tmp_path / "ds").comments
    assert comment.text.startswith(expected) and "\x00" not in comment.text and "\x07" not in comment.text


def test_json_lines_skip_the_cleaning_walk_only_where_nothing_needs_cleaning():
    """A line is parsed without walking its values when no character or escape in it could give an
    unsafe character; whatever the line, the result must be what the walk gives."""
    import json
    import random

    from commentary.ingest.tabular import _scrub, parse_json

    alphabet = ["a", "é", " ", "\n", "\t", '"', "\\", "\x00", "\x07", "\x08", "\x0c", "\x1f", "\x7f", "\u200b",
                "\ufeff", "\ud800", "\udfff", "😀", "\u2019", "\x85", "u", "b", "f"]
    rng = random.Random(5)
    cleaned = 0
    for _ in range(3000):
        value = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 6)))
        obj = {"text": value, rng.choice(["id", "id", "k\x07ey", "\u200bk"]): [value[::-1], {"n": value}]}
        line = json.dumps(obj, ensure_ascii=rng.random() < 0.5)
        got = parse_json(line, "c.jsonl")
        assert got == _scrub(json.loads(line))
        cleaned += got != json.loads(line)
    assert 300 < cleaned < 2700  # both kinds of line were tried
    # every character the scrub removes or replaces, written raw and escaped, is caught by the check
    from commentary.ingest.tabular import _UNSAFE

    unsafe = [chr(c) for c in range(0x10000) if _UNSAFE.match(chr(c))]
    assert len(unsafe) > 2000
    for ch in unsafe:
        for ascii_only in (True, False):
            line = json.dumps({"text": f"a{ch}b"}, ensure_ascii=ascii_only)
            assert parse_json(line, "c.jsonl") == _scrub(json.loads(line)), (hex(ord(ch)), line)


@pytest.mark.parametrize("name, content", [("deep.json", "[" * 100_000), ("deep.jsonl", '{"a": ' * 100_000 + "\n")])
def test_json_nested_beyond_reading_is_one_line(cli, tmp_path, name, content):
    path = tmp_path / name
    path.write_text(content)
    res = cli("ingest", path, "-o", "-")
    assert res.exit_code == 1 and res.stdout == ""
    [line] = res.stderr.strip().splitlines()
    assert line.startswith("✘ ") and line.endswith(f"{name}: {'line 1 ' if name.endswith('l') else ''}nests too "
                                                   "deeply to read; flatten the JSON, or check the file is what you meant")


# --- damaged artefacts and bad settings: one line naming what is wrong, never a traceback ---

def _damage(path, how):
    if how == "truncate":
        path.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 3])
    elif how == "zero":
        data = bytearray(path.read_bytes())
        data[8:64] = b"\0" * 56
        path.write_bytes(bytes(data))
    else:
        path.write_text(how)


@pytest.mark.parametrize("file, how", [
    ("manifest.json", '{"not": "closed"'),
    ("manifest.json", "[1, 2, 3]"),
    ("backend.json", '{"backend": '),
    ("decisions.json", "{}"),
    ("tfidf-scorer.safetensors", "truncate"),
    ("tfidf-scorer.safetensors", "zero"),
    ("tfidf.skops", "truncate"),
])
def test_damaged_model_files_are_one_line(cli, models, tmp_path, file, how):
    import shutil

    root = tmp_path / "models"
    shutil.copytree(models, root)
    _damage(root / "commentary" / "v1" / file, how)
    comments = tmp_path / "c.txt"
    comments.write_text("The article is right about the wards.\n\nNo, it misses the point.\n")
    for args in (["classify", comments, "--format", "jsonl"], ["models", "verify", "commentary@v1"]):
        res = cli(*args, "--models-dir", root)
        lines = res.stderr.strip().splitlines()
        assert res.exit_code == 1 and len(lines) == 1 and lines[0].startswith("✘ "), (args, res.stderr)
        assert "unexpected" not in lines[0], lines[0]


def test_damaged_dataset_parquet_is_one_line(cli, models, tmp_path):
    ds = tmp_path / "ds"
    path = tmp_path / "c.csv"
    path.write_text(SEMICOLON)
    assert cli("ingest", path, "-o", ds).exit_code == 0
    _damage(ds / "comments.parquet", "zero")
    res = cli("classify", ds, "--format", "jsonl", "--models-dir", models)
    assert res.exit_code == 1 and len(res.stderr.strip().splitlines()) == 1
    assert "comments.parquet" in res.stderr


@pytest.mark.parametrize("args, expected", [
    (["--cv-folds", "1000"], "--cv-folds"),
    (["--cv-folds", "1"], "--cv-folds"),
    (["--config", "TOML:cv_folds = 'five'"], "cv_folds"),
    (["--config", "TOML:c_stance = [1, 2]"], "c_stance"),
    (["--config", "TOML:cv_folds = "], "TOML"),
])
def test_bad_training_settings_are_refused_before_training(cli, small, tmp_path, args, expected):
    if args[0] == "--config":
        config = tmp_path / "settings.toml"
        config.write_text(args[1].removeprefix("TOML:") + "\n")
        args = ["--config", config]
    res = cli("train", small, *args, "--backend", "tfidf", "--models-dir", tmp_path / "models")
    lines = res.stderr.strip().splitlines()
    assert res.exit_code in (1, 2) and len(lines) == 1 and expected in lines[0], res.stderr
    assert "unexpected" not in lines[0] and not (tmp_path / "models").exists()


def test_one_damaged_version_does_not_hide_the_healthy_ones(cli, models, tmp_path):
    import shutil

    root = tmp_path / "models"
    shutil.copytree(models, root)
    shutil.copytree(root / "commentary" / "v1", root / "commentary" / "v2")
    (root / "commentary" / "v2" / "manifest.json").write_text('{"name": "commentary", ')
    res = cli("models", "list", "--models-dir", root)
    assert res.exit_code == 0, res.stderr
    assert res.stdout.startswith("* commentary@v1\t") and "! commentary@v2\tdamaged" in res.stdout
    assert "commentary@v2" in res.stderr and "manifest.json is damaged" in res.stderr


# --- processes: workers die with the command, SIGTERM cleans up, dead runs' temp files go ---

def _children(pid: int) -> set[int]:
    from pathlib import Path

    out: set[int] = set()
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            out |= {int(x) for x in (task / "children").read_text().split()}
        except OSError:
            pass
    return out


def _alive(pid: int) -> bool:
    from pathlib import Path

    try:
        return "State:\tZ" not in Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False


def _start_classify(models, tmp_path, *extra):
    import os
    import subprocess
    import sys

    big = tmp_path / "many.csv"
    rows = [f"{i},\"Comment {i}: the article is right about wards, staff and the managers who never listen.\""
            for i in range(60_000)]
    big.write_text("id,text\n" + "\n".join(rows) + "\n")
    env = {**os.environ, "COMMENTARY_HOME": str(tmp_path / "home")}
    return subprocess.Popen([sys.executable, "-m", "commentary", "classify", big, "--models-dir", models,
                             "--format", "jsonl", "--jobs", "2", "--batch-size", "500", *extra],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)


@pytest.mark.skipif(not __import__("sys").platform.startswith("linux"), reason="reads /proc")
def test_killed_classify_takes_its_workers_with_it(models, tmp_path):
    import time

    proc = _start_classify(models, tmp_path)
    try:
        end = time.time() + 60
        while len(_children(proc.pid)) < 2 and time.time() < end and proc.poll() is None:
            time.sleep(0.1)
        workers = _children(proc.pid)
        assert len(workers) >= 2, "the workers never started"
        proc.kill()  # kill -9: no handler runs in the parent
        proc.wait(timeout=30)
        end = time.time() + 20
        while any(_alive(w) for w in workers) and time.time() < end:
            time.sleep(0.1)
        assert not any(_alive(w) for w in workers), "workers outlived the killed command"
    finally:
        proc.kill()


@pytest.mark.skipif(not __import__("sys").platform.startswith("linux"), reason="reads /proc")
def test_sigterm_leaves_no_temp_file_and_no_workers(models, tmp_path):
    import signal
    import time

    out = tmp_path / "out.jsonl"
    proc = _start_classify(models, tmp_path, "-o", out)
    try:
        end = time.time() + 60
        while len(_children(proc.pid)) < 2 and time.time() < end and proc.poll() is None:
            time.sleep(0.1)
        workers = _children(proc.pid)
        assert workers and [p for p in tmp_path.iterdir() if p.name.startswith(".out.jsonl.tmp-")]
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 143, proc.stderr.read().decode()[-2000:]
        end = time.time() + 20
        while any(_alive(w) for w in workers) and time.time() < end:
            time.sleep(0.1)
        assert not any(_alive(w) for w in workers)
        assert not out.exists() and not [p for p in tmp_path.iterdir() if p.name.startswith(".out.jsonl")]
    finally:
        proc.kill()


def test_temp_folders_of_dead_runs_are_removed_by_the_next(cli, tmp_path):
    import subprocess

    dead = subprocess.Popen(["true"])
    dead.wait()
    stale = tmp_path / f".ds.tmp-{dead.pid}-abc123"
    (stale / "inner").mkdir(parents=True)
    (tmp_path / f".ds.tmp-{dead.pid}-f00").write_text("half a file")
    path = tmp_path / "semi.csv"
    path.write_text(SEMICOLON)
    assert cli("ingest", path, "-o", tmp_path / "ds").exit_code == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ds", "semi.csv"]


def test_more_jobs_than_cores_is_capped_and_said(cli, models, tmp_path):
    path = tmp_path / "semi.csv"
    path.write_text(SEMICOLON)
    res = cli("classify", path, "--format", "jsonl", "--jobs", "1000", "--models-dir", models)
    assert res.exit_code == 0 and "--jobs 1000 is more than the" in res.stderr


# --- the registry against a determined attacker, and for a shared models folder ---

def _copy_models(models, tmp_path):
    import shutil

    root = tmp_path / "models"
    shutil.copytree(models, root)
    return root, root / "commentary" / "v1"


def _verify(cli, root):
    res = cli("models", "verify", "commentary@v1", "--models-dir", root)
    lines = res.stderr.strip().splitlines()
    assert res.exit_code == 1 and len(lines) == 1, res.stderr
    return lines[0]


def test_an_edited_manifest_fails_verification(cli, models, tmp_path):
    root, v1 = _copy_models(models, tmp_path)
    manifest = json.loads((v1 / "manifest.json").read_text())
    manifest["backend"] = "tfidf-but-trust-me"
    (v1 / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    assert "manifest.json does not match the sha256 recorded for commentary@v1" in _verify(cli, root)


def test_a_manifest_cannot_vouch_for_files_outside_the_version(cli, models, tmp_path):
    from commentary.dataset import file_sha256

    root, v1 = _copy_models(models, tmp_path)
    (root / "commentary" / "index.json").unlink()  # as an attacker would, with the manifest check
    secret = tmp_path / "secret.txt"
    secret.write_text("not the model's")
    manifest = json.loads((v1 / "manifest.json").read_text())
    manifest["files"]["../../../secret.txt"] = file_sha256(secret)
    (v1 / "manifest.json").write_text(json.dumps(manifest))
    assert "lists '../../../secret.txt', outside the version" in _verify(cli, root)


def test_links_inside_a_version_and_a_wandering_pointer_are_refused(cli, models, tmp_path):
    root, v1 = _copy_models(models, tmp_path)
    (tmp_path / "elsewhere.json").write_text("{}")
    (v1 / "extra.json").symlink_to(tmp_path / "elsewhere.json")
    assert "extra.json is a link inside commentary@v1" in _verify(cli, root)
    (v1 / "extra.json").unlink()
    (root / "commentary" / "production").write_text("../../../elsewhere\n")
    res = cli("classify", "-", "--format", "jsonl", "--models-dir", root, input="A comment.\n")
    assert res.exit_code == 1 and "names '../../../elsewhere', not a version" in res.stderr


def test_a_shared_models_folder_has_the_usual_file_modes(models):
    import stat

    for path in [models / "commentary" / "production", *sorted((models / "commentary" / "v1").iterdir())]:
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode & 0o044 == 0o044, f"{path.name} is {oct(mode)}: others cannot read it"


@pytest.mark.parametrize("args, expected", [
    (["--name", "../escape"], "bad model name '../escape'"),
    (["--heldout", "no-such-dataset"], "no-such-dataset"),
    (["--models-dir", "FILE/models"], "is not a folder, so"),
])
def test_what_would_fail_after_training_fails_before_it(cli, small, tmp_path, args, expected):
    (tmp_path / "FILE").write_text("a file, not a folder")
    args = [str(tmp_path / a) if a.startswith(("FILE", "no-such")) else a for a in args]
    if "--models-dir" not in args:
        args += ["--models-dir", str(tmp_path / "models")]
    res = cli("train", small, "--backend", "tfidf", *args)
    # refused up front: no training step ran
    assert res.exit_code == 1 and expected in res.stderr and "cross-validation" not in res.stderr, res.stderr
    assert not (tmp_path / "models").exists()


# --- limits: one documented cap per comment, a line when it cuts, linear time on deep markup ---

def test_a_comment_longer_than_the_limit_is_cut_and_said(cli, models, tmp_path):
    long = "word " * 60_000  # 300,000 characters in one CSV cell (csv alone stops at 128 KB)
    path = tmp_path / "long.csv"
    path.write_text(f'id,text\n1,"{long}"\n2,"A short comment about the article."\n')
    res = cli("ingest", path, "-o", "-")
    assert res.exit_code == 0, res.stderr
    assert "cut 1 comment(s) longer than 100,000 characters (the longest had 299,999)" in res.stderr
    texts = [json.loads(line)["text"] for line in res.stdout.splitlines()]
    assert len(texts[0]) <= 100_000 and texts[0].endswith("word") and texts[1].startswith("A short")
    res = cli("ingest", path, "-o", "-", "--max-comment-chars", "400000")
    assert "cut" not in res.stderr and len(json.loads(res.stdout.splitlines()[0])["text"]) == 299_999
    res = cli("classify", path, "--format", "jsonl", "--models-dir", models, "--max-comment-chars", "1000")
    assert res.exit_code == 0 and "cut 1 comment(s) longer than 1,000 characters" in res.stderr
    assert len(json.loads(res.stdout.splitlines()[0])["text"]) <= 1000


def test_markup_nested_beyond_any_page_is_refused_in_linear_time(cli, tmp_path):
    path = tmp_path / "deep.html"
    n = 200_000  # took three minutes in the parser before the check
    path.write_text("<html><body><article><h1>T</h1><p>Body.</p></article>" + "<div>" * n + "x" + "</div>" * n
                    + "</body></html>")
    res = cli("ingest", path, "-o", "-")
    assert res.exit_code == 1 and "nests more than 4,000 elements deep" in res.stderr
    ok = tmp_path / "fine.html"
    ok.write_text("<html><body><article><h1>Title</h1><p>Body text.</p></article>" + "<div>" * 500 + "x"
                  + "</div>" * 500 + "</body></html>")
    assert cli("ingest", ok, "-o", "-").exit_code == 0


def test_folders_that_are_not_sources_are_one_line(cli, tmp_path):
    path = tmp_path / "semi.csv"
    path.write_text(SEMICOLON)
    assert cli("ingest", path, "-o", tmp_path / "ds").exit_code == 0
    res = cli("ingest", tmp_path / "ds", "-o", "-")
    assert res.exit_code == 1 and "is already a commentary dataset; pass it straight to classify" in res.stderr
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "a.bin").write_bytes(b"\x00\x01")
    res = cli("ingest", tmp_path / "junk", "-o", "-")
    assert res.exit_code == 1 and len(res.stderr.strip().splitlines()) == 1
    assert "could not load the dataset" in res.stderr and "unexpected" not in res.stderr


# --- property: whatever bytes arrive under whatever name, ingest answers with data or one line ---

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_PIECES = st.sampled_from(['{"text": ', '"a comment"', "}", "[", "]", ",", "\n", "<div>", "</div>", "<html>",
                           "<?xml version='1.0'?>", "<rss>", "text;author\n", "id,text\n", "\ufeff", "\x00",
                           "\\ud800", '"', "Comment date\n1 May 2020\n", "Ann Lee\n", "&lol;", "é", "\r\n"])
_CONTENT = st.one_of(st.binary(max_size=300), st.lists(_PIECES, max_size=40).map(lambda p: "".join(p).encode()))


@settings(max_examples=250, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(ext=st.sampled_from([".csv", ".tsv", ".jsonl", ".json", ".html", ".txt", ".xml", ".md", ""]), data=_CONTENT)
def test_any_input_gets_data_or_one_clear_line(cli, tmp_path, ext, data):
    path = tmp_path / f"input{ext}"
    path.write_bytes(data)
    res = cli("ingest", path, "-o", "-")
    assert res.exit_code in (0, 1), res.stderr
    if res.exit_code == 1:
        lines = res.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("✘ ") and "unexpected" not in lines[0], res.stderr
        assert res.stdout == ""


# --- tables as people save them: a spreadsheet's cp1252 and semicolons, read alike by every command ---

FRENCH = ("id;text\n1;Très bien, l’article a raison à propos des managers – « écoutez »\n"
          "2;Ça suffit, les élus n’écoutent jamais les équipes\n")


def test_a_cp1252_spreadsheet_is_read_with_a_warning_by_ingest_and_classify(cli, models, tmp_path):
    path = tmp_path / "export.csv"
    path.write_bytes(FRENCH.encode("cp1252"))
    res = cli("ingest", path, "-o", "-")
    assert res.exit_code == 0, res.stderr
    assert "is not UTF-8 (line 2); read it as cp1252" in res.stderr
    texts = [json.loads(line)["text"] for line in res.stdout.splitlines()]
    assert texts[0] == "Très bien, l’article a raison à propos des managers – « écoutez »"
    res = cli("classify", path, "--format", "jsonl", "--models-dir", models)
    assert res.exit_code == 0 and "read it as cp1252" in res.stderr
    assert [json.loads(line)["text"] for line in res.stdout.splitlines()] == texts
    # an explicit --encoding is used as given, without a guess
    res = cli("classify", path, "--format", "jsonl", "--models-dir", models, "--encoding", "cp1252")
    assert res.exit_code == 0 and "guess" not in res.stderr
    # ... --encoding utf-8 too: a file that is not UTF-8 is refused, naming the line, not guessed at
    for cmd in (("ingest", path, "-o", "-"), ("classify", path, "--format", "jsonl", "--models-dir", models)):
        res = cli(*cmd, "--encoding", "utf-8")
        assert res.exit_code == 1 and res.stdout == "", res.stderr
        assert "line 2 is not valid utf-8" in res.stderr and "--encoding auto" in res.stderr
        assert "guess" not in res.stderr


def test_what_no_one_encoding_reads_is_read_line_by_line_and_a_mark_or_a_wrong_latin1_is_named(cli, tmp_path):
    # a UTF-8 file with one line pasted in from a cp1252 one: each line read as what it is
    mixed = tmp_path / "mixed.csv"
    mixed.write_bytes("id,text\n1,Mötley café – naïve résumé\n".encode() + "2,Second one – cp1252 bit\n".encode("cp1252"))
    res = cli("ingest", mixed, "-o", "-")
    assert res.exit_code == 0, res.stderr
    assert [json.loads(line)["text"] for line in res.stdout.splitlines()] == ["Mötley café – naïve résumé",
                                                                             "Second one – cp1252 bit"]
    assert "is UTF-8 but for line 3, read as cp1252" in res.stderr
    # a UTF-8 byte-order mark wins over --encoding, with a warning, as UTF-16's does
    bom = tmp_path / "bom.csv"
    bom.write_bytes(b"\xef\xbb\xbf" + "id,text\n1,Je suis contre cette décision 😡\n".encode())
    res = cli("ingest", bom, "-o", "-", "--encoding", "cp1252")
    assert res.exit_code == 0 and json.loads(res.stdout)["text"] == "Je suis contre cette décision 😡"
    assert "starts with a UTF-8 byte-order mark; read it as UTF-8, not cp1252" in res.stderr
    # latin-1 reads cp1252's dashes and quotes as control characters: dropped, and said so with the fix
    sheet = tmp_path / "sheet.csv"
    sheet.write_bytes("id,text\n1,Closing it is short–sighted, “really”\n".encode("cp1252"))
    res = cli("ingest", sheet, "-o", "-", "--encoding", "latin-1")
    assert res.exit_code == 0 and "3 of them bytes that cp1252 reads as dashes, quotes or €" in res.stderr
    assert "pass --encoding cp1252" in res.stderr


def test_a_repeated_id_with_other_text_is_a_second_comment_not_a_repeat(cli, models, tmp_path):
    path = tmp_path / "export.csv"
    path.write_text('comment_id,body\n1,"Bins every fortnight will attract rats"\n2,"Libraries matter more than bins"\n'
                    '2,"Fortnightly is fine, Wales does it"\n2,"Libraries matter more than bins"\n', encoding="utf-8")
    res = cli("ingest", path, "-o", "-")
    assert res.exit_code == 0, res.stderr
    got = [json.loads(line) for line in res.stdout.splitlines()]
    # the row that repeats row 2 word for word is a repeat; row 3, with other words, is a comment of its own
    assert [c["text"] for c in got] == ["Bins every fortnight will attract rats", "Libraries matter more than bins",
                                        "Fortnightly is fine, Wales does it"]
    assert len({c["id"] for c in got}) == 3 and [c["source_id"] for c in got] == ["1", "2", "2"]
    assert "row 3 has the id of a comment read before (2) but other text; kept both" in res.stderr
    assert "1 repeat of a comment already read" in res.stderr
    # classify keeps every row, and gives the second comment the id ingest gave it
    res = cli("classify", path, "--format", "jsonl", "--models-dir", models)
    assert res.exit_code == 0, res.stderr
    ids = [json.loads(line)["id"] for line in res.stdout.splitlines()]
    assert ids == [got[0]["id"], got[1]["id"], got[2]["id"], got[1]["id"]]
    assert "1 comment(s) had the id of an earlier one but other text" in res.stderr


# Windows Notepad's and Excel's "Unicode text" is UTF-16: mostly NUL bytes, which must not read as binary
PAGE = "Very good article, and nothing new: nobody asked the nurses.\r\n\r\nThe ministers never listen to us.\r\n"


@pytest.mark.parametrize("codec, saved_as, warned", [
    ("utf-16", "with a byte-order mark", False), ("utf-32", "UTF-32 with a mark", False),
    ("utf-16-le", "without a mark", True), ("utf-16-be", "big-endian, without a mark", True)])
def test_utf16_and_utf32_files_are_read_by_ingest_and_classify(cli, models, tmp_path, codec, saved_as, warned):
    import hashlib

    plain = tmp_path / "plain.txt"
    plain.write_bytes(PAGE.encode("utf-8"))
    path = tmp_path / "notepad.txt"
    path.write_bytes(PAGE.encode(codec))
    want = cli("ingest", plain, "-o", "-")
    res = cli("ingest", path, "-o", "-")
    assert res.exit_code == 0, (saved_as, res.stderr)
    records = [json.loads(line) for line in res.stdout.splitlines()]
    assert [r["text"] for r in records] == [json.loads(line)["text"] for line in want.stdout.splitlines()]
    assert "nobody asked the nurses" in res.stdout and "\\u0000" not in res.stdout
    assert records[0]["source_sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()  # the file as it is
    assert ("no byte-order mark" in res.stderr) == warned
    for extra in ([], ["--per-line"]):
        want = cli("classify", plain, "--models-dir", models, *extra)
        res = cli("classify", path, "--models-dir", models, *extra)
        assert res.exit_code == 0, (saved_as, extra, res.stderr)
        texts = [json.loads(line)["text"] for line in res.stdout.splitlines()]
        assert texts == [json.loads(line)["text"] for line in want.stdout.splitlines()] and len(texts) >= 2


def test_a_utf16_table_and_an_explicit_encoding(cli, models, tmp_path):
    path = tmp_path / "export.csv"
    path.write_bytes(FRENCH.encode("utf-16"))  # Excel's "Unicode text" save
    res = cli("classify", path, "--format", "jsonl", "--models-dir", models)
    assert res.exit_code == 0, res.stderr
    assert [json.loads(line)["source_id"] for line in res.stdout.splitlines()] == ["1", "2"]
    assert json.loads(res.stdout.splitlines()[1])["text"] == "Ça suffit, les élus n’écoutent jamais les équipes"
    path.write_bytes(FRENCH.encode("utf-16-be"))
    res = cli("ingest", path, "-o", "-", "--encoding", "utf-16-be")
    assert res.exit_code == 0 and "no byte-order mark" not in res.stderr, res.stderr
    assert "Très bien" in res.stdout
    # the byte-order mark is the file's own word: it wins over --encoding, which is named in a warning
    path.write_bytes(FRENCH.encode("utf-16"))
    res = cli("ingest", path, "-o", "-", "--encoding", "cp1252")
    assert res.exit_code == 0 and "Très bien" in res.stdout
    assert "starts with a UTF-16 byte-order mark; read it as UTF-16, not cp1252" in res.stderr
    # UTF-16 without a mark under a single-byte --encoding is refused with the encoding to pass
    path.write_bytes(FRENCH.encode("utf-16-le"))
    res = cli("ingest", path, "-o", "-", "--encoding", "cp1252")
    assert res.exit_code == 1 and "pass --encoding utf-16-le" in res.stderr
    page = tmp_path / "page.txt"
    page.write_bytes(PAGE.encode("utf-16-le"))
    res = cli("ingest", page, "-o", "-", "--encoding", "utf-16-be")
    assert "looks like UTF-16-LE, but --encoding says utf-16-be" in res.stderr
    # a file that is not what --encoding says fails on one line naming it
    path.write_bytes(b"\xff\xfeA\x00\x00\xd8")  # a mark, then a lone surrogate
    res = cli("ingest", path, "-o", "-")
    assert res.exit_code == 1 and "is not valid utf-16" in res.stderr and res.stderr.count("\n") == 1


@pytest.mark.parametrize("export", ["wxr.xml", "disqus.xml"])
def test_a_utf16_export_whose_declaration_says_utf16_is_read(cli, tmp_path, export):
    from conftest import REPO

    original = (REPO / "tests" / "fixtures" / export).read_text(encoding="utf-8")
    path = tmp_path / export
    declared = re.sub(r'encoding="utf-8"', 'encoding="UTF-16"', original, count=1, flags=re.I)
    assert declared != original
    path.write_bytes(declared.encode("utf-16"))
    want = cli("ingest", REPO / "tests" / "fixtures" / export, "-o", "-")
    res = cli("ingest", path, "-o", "-")
    assert res.exit_code == 0, res.stderr
    texts = [json.loads(line)["text"] for line in res.stdout.splitlines()]
    assert texts == [json.loads(line)["text"] for line in want.stdout.splitlines()] and len(texts) >= 3


def test_excel_unicode_text_is_read_as_the_table_it_is(cli, models, tmp_path):
    """Excel's "Unicode text" save: UTF-16, tab-separated, CRLF, under a .txt name."""
    table = ('comment_id\tbody\tauthor\r\n1\t"Great article, thank you. Café"\tAna\r\n'
             '2\t"I disagree with this piece.\nA second line."\tBob\r\n3\tNurses need time.\tZoë\r\n')
    path = tmp_path / "export.txt"
    path.write_bytes(table.encode("utf-16"))
    want = ["Great article, thank you. Café", "I disagree with this piece.\nA second line.", "Nurses need time."]
    for command in (["ingest", path, "-o", "-"], ["classify", path, "--models-dir", models]):
        res = cli(*command)
        assert res.exit_code == 0, res.stderr
        rows = [json.loads(line) for line in res.stdout.splitlines()]
        assert [r["text"] for r in rows] == want and [r["author"] for r in rows] == ["Ana", "Bob", "Zoë"]


def test_a_tab_table_under_a_txt_name_with_a_stray_tab_is_still_a_table(cli, models, tmp_path):
    """One stray tab in a comment made a three-row .txt table read as one comment, the whole table."""
    path = tmp_path / "reviews.txt"
    path.write_text("ID\tName\tComment\n1\tAnn\tGreat piece.\n2\tBob\tNo\tway\n3\tCat\tThird one\n", encoding="utf-8")
    for command in (["ingest", path, "-o", "-"], ["classify", path, "--models-dir", models]):
        res = cli(*command)
        assert res.exit_code == 0, res.stderr
        rows = [json.loads(line) for line in res.stdout.splitlines()]
        assert [r["author"] for r in rows] == ["Ann", "Bob", "Cat"], res.stdout
        assert rows[1]["text"] == "No\tway" and "more fields than the header" in res.stderr


def test_unquoted_commas_in_the_last_column_keep_the_whole_comment(cli, models, tmp_path):
    """A one-column export ("body", then one comment a line, commas unquoted) lost everything after
    each comment's first comma, silently."""
    path = tmp_path / "comments.csv"
    path.write_text("body\nNurses need more time, says the matron, and more staff.\nSecond comment here.\n",
                    encoding="utf-8")
    want = ["Nurses need more time, says the matron, and more staff.", "Second comment here."]
    res = cli("ingest", path, "-o", "-")
    assert res.exit_code == 0, res.stderr
    assert [json.loads(line)["text"] for line in res.stdout.splitlines()] == want
    assert "1 row(s) had more fields than the header (first: row 1" in res.stderr
    res = cli("classify", path, "--models-dir", models)  # the streamed table reader
    assert res.exit_code == 0 and "had more fields than the header" in res.stderr, res.stderr
    assert [json.loads(line)["text"] for line in res.stdout.splitlines()] == want


def test_per_line_reads_a_cp1252_file_as_the_whole_file_reader_does(cli, models, tmp_path):
    path = tmp_path / "lines.txt"
    plain = [f"Comment {i}: the rota is short again this week." for i in range(150)]  # past the read buffer
    path.write_bytes("\n".join([*plain, "Café closed again", "The managers never listen"]).encode("cp1252"))
    res = cli("classify", path, "--per-line", "--models-dir", models)
    assert res.exit_code == 0 and "read it as cp1252" in res.stderr, res.stderr
    texts = [json.loads(line)["text"] for line in res.stdout.splitlines()]
    assert texts[-2:] == ["Café closed again", "The managers never listen"] and len(texts) == 152


def test_a_failure_while_a_sigterm_exit_unwinds_still_ends_as_terminated(cli, models, tmp_path, monkeypatch):
    """SIGTERM raises SystemExit(143) wherever the command is; if something fails on the way out
    (a worker pool shut down mid-batch), the command must end as terminated, not as a failure."""
    from commentary import training

    def interrupted(*_args, **_kwargs):
        try:
            raise SystemExit(143)  # what the SIGTERM handler raises
        finally:
            raise BrokenPipeError("the pool broke while shutting down")

    monkeypatch.setattr(training, "load_model", interrupted)
    src = tmp_path / "c.txt"
    src.write_text("The wards need more staff.\n")
    res = cli("classify", src, "--models-dir", models)
    assert res.exit_code == 143
    monkeypatch.setattr(training, "load_model", lambda *a, **k: (_ for _ in ()).throw(BrokenPipeError("no")))
    res = cli("classify", src, "--models-dir", models)
    assert res.exit_code == 1 and res.stderr.count("\n") == 1  # an ordinary failure stays one line, exit 1
