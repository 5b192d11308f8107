"""Hostile and malformed input, as a table: each case ends in the right result or one clear line.

Cases come from a probe of 219 bad inputs and conditions (issue 12); each row names the
input, the command, and what must happen: exit status, the message, and what is on disk.
"""

from __future__ import annotations

import json

import pytest

from commentary.codebook import load_codebook
from commentary.train import TrainConfig
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
