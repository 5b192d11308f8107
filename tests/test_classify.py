"""Scoring new comments: inputs of every kind, output formats, safety of CSV, bad input."""

from __future__ import annotations

import csv
import io
import json

import pytest

from commentary.classify import neutralise
from commentary.codebook import load_codebook
from commentary.fitting import TrainConfig
from commentary.training import train_version

from conftest import FIXTURES


@pytest.fixture(scope="module")
def models(small, tmp_path_factory):
    """A quick tfidf model on part of the starter corpus, promoted."""
    root = tmp_path_factory.mktemp("cls")
    train_version(small, load_codebook(), TrainConfig(cv_folds=2), root / "models")
    return root / "models"


def run(cli, models, *args, input=None):
    return cli("classify", *args, "--models-dir", models, input=input)


def test_seed_page_scores_each_comment_with_the_article_as_context(cli, models, seed_path):
    res = run(cli, models, seed_path, "--format", "jsonl")
    assert res.exit_code == 0, res.stderr
    preds = [json.loads(line) for line in res.stdout.splitlines()]
    assert [p["author"] for p in preds] == ["Clare Charlton", "Taruna Chauhan", "Steve Turner"]
    book = load_codebook()
    for p in preds:
        assert p["model"] == "commentary@v1" and p["stance"] in book.stance_ids
        assert abs(sum(p["stance_probs"].values()) - 1) < 1e-3
        assert set(p["thresholds"]) == set(book.theme_ids) and isinstance(p["abstain"], bool)
        assert all(p["theme_probs"][t] >= p["thresholds"][t] for t in p["themes"])
    assert "3 comments, model commentary@v1" in res.stderr and "95% interval" in res.stderr


def test_plain_paragraphs_and_per_line(cli, models, tmp_path):
    path = tmp_path / "comments.txt"
    path.write_text("Nobody asked the nurses.\nThey never do.\n\nGreat piece, thanks!\n")
    res = run(cli, models, path)
    assert [json.loads(x)["text"] for x in res.stdout.splitlines()] == [
        "Nobody asked the nurses. They never do.", "Great piece, thanks!"]
    res = run(cli, models, path, "--per-line")
    assert len(res.stdout.splitlines()) == 3
    res = run(cli, models, "-", "--per-line", input="one comment\n\nanother\n")
    assert len(res.stdout.splitlines()) == 2
    res = run(cli, models, "-", input=(FIXTURES / "disqus.xml").read_text())  # markup on stdin, read once
    assert res.exit_code == 0 and len(res.stdout.splitlines()) == 2


def test_a_copied_comment_section_without_comment_labels_is_named_not_scored_silently(cli, models, tmp_path):
    """A news page copied whole, its comments marked only by "3 hours ago" and Reply buttons: every
    paragraph (headline, byline, "Load more comments") is scored as a comment, and classify says so."""
    page = tmp_path / "news.txt"
    page.write_text("Library hours to be cut\n\nBy Sarah Jones\n\nThe council will cut opening hours.\n\n"
                    "Comments (2)\n\nJ. R. Hartley\n3 hours ago\nA terrible decision.\nReply\nReport\n\n"
                    "Margaret Hill\n5 hours ago\nSomething had to give.\nReply\n\nLoad more comments\n")
    res = run(cli, models, page)
    assert res.exit_code == 0
    assert "looks like a page copied with its comment section (a comments heading, Reply, Report or Like buttons, " \
           "times like '3 hours ago', 'Load more comments'" in res.stderr, res.stderr
    plain = tmp_path / "plain.txt"  # comments that mention replying are not a page
    plain.write_text("I will reply to the consultation.\n\nReply\n\nThe rota is the problem.\n")
    assert "looks like a page" not in run(cli, models, plain).stderr


def test_ingest_formats_json_output_and_explain(cli, models, tmp_path):
    res = run(cli, models, FIXTURES / "wxr.xml", "--format", "json", "--explain")
    preds = json.loads(res.stdout)
    assert len(preds) == 2 and all(p["stance"] in p["evidence"] for p in preds)
    for p in preds:
        assert all(sentence in p["text"] for sentence in p["evidence"].values())
    # CSV carries the same sentences in a last column (it dropped them)
    res = run(cli, models, FIXTURES / "wxr.xml", "--format", "csv", "--explain")
    rows = list(csv.DictReader(io.StringIO(res.stdout)))
    assert [r["evidence"] for r in rows] == [" | ".join(f"{k}: {v}" for k, v in p["evidence"].items()) for p in preds]


def test_csv_output_file_is_safe_for_spreadsheets(cli, models, tmp_path):
    src = tmp_path / "c.csv"
    src.write_text('id,text\n1,"=HYPERLINK(""http://x"") click me now please"\n2,-just a normal dash comment here\n')
    out = tmp_path / "preds.csv"
    res = run(cli, models, src, "-o", out)
    assert res.exit_code == 0 and res.stdout == ""
    rows = list(csv.reader(io.StringIO(out.read_text())))
    assert rows[0][:5] == ["id", "source_id", "article_id", "author", "stance"]
    assert [r[1] for r in rows[1:]] == ["1", "2"]  # the sheet's own ids, to join back to it
    assert rows[1][7].startswith("'=") and rows[2][7].startswith("'-")
    assert neutralise("@SUM(A1)") == "'@SUM(A1)" and neutralise("fine") == "fine"


def test_bad_input_and_missing_model(cli, models, tmp_path):
    blank = tmp_path / "blank.txt"
    blank.write_text("\n\n   \n")
    res = run(cli, models, blank)
    assert res.exit_code == 1 and "blank.txt is empty" in res.stderr
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"text": "fine comment here"}\n{"text": "not closed\n')
    res = run(cli, models, broken)
    assert res.exit_code == 1 and "broken.jsonl: line 2 is not valid JSON" in res.stderr
    lone = tmp_path / "lone.jsonl"
    lone.write_text('{"text": ""}\n')
    res = run(cli, models, lone)
    assert res.exit_code == 1 and "found no comments" in res.stderr
    res = run(cli, models, tmp_path / "nope.txt")
    assert res.exit_code == 1 and "does not exist" in res.stderr
    for fmt in ("csv", "json"):  # no CSV header or "[" on stdout before the error
        res = run(cli, models, tmp_path / "nope.csv", "--format", fmt)
        assert res.exit_code == 1 and res.stdout == "" and "does not exist" in res.stderr
    res = run(cli, models, FIXTURES / "wxr.xml", "--model", "commentary@v7")
    assert res.exit_code == 1 and "commentary@v7 does not exist" in res.stderr
    out = tmp_path / "p.jsonl"
    res = run(cli, models, blank, "-o", out)
    assert res.exit_code == 1 and not out.exists()
    binary = tmp_path / "b.txt"
    binary.write_bytes(b"\x00\x01\x02\x03" * 100)
    res = run(cli, models, binary)
    assert res.exit_code == 1 and "binary" in res.stderr


def test_parallel_scoring_gives_the_same_output_in_the_same_order(cli, models, tmp_path):
    from commentary.dataset import read_dataset

    from conftest import REPO

    texts = [c.text for c in read_dataset(REPO / "data" / "starter" / "train").comments]
    src = tmp_path / "many.jsonl"
    src.write_text("".join(json.dumps({"id": f"x{i}", "text": t}) + "\n" for i, t in enumerate(texts * 2)))
    outs = []
    # in batches of 200 and in the default's one batch, in one process or two
    for k, (jobs, batch) in enumerate((("1", ["--batch-size", "200"]), ("2", ["--batch-size", "200"]), ("2", []))):
        out = tmp_path / f"p{k}.jsonl"
        res = run(cli, models, src, "-o", out, "--jobs", jobs, *batch)
        assert res.exit_code == 0, res.stderr
        outs.append(out.read_text())
    assert outs[0] == outs[1] == outs[2] and outs[0].count("\n") == 2 * len(texts)
    # the id is commentary's (as ingest gives it, to join with datasets and labels); the source's own is kept
    assert [json.loads(line)["source_id"] for line in outs[1].splitlines()][:3] == ["x0", "x1", "x2"]


def test_every_command_reads_a_source_the_same_way_with_the_same_ids(cli, models, tmp_path, seed_path):
    from commentary.dataset import read_dataset

    # ingest's own JSON Lines, classified, is the page: its comments, under its article
    res = cli("ingest", seed_path, "-o", "-")
    page = tmp_path / "page.jsonl"
    page.write_text(res.stdout)
    direct = [json.loads(x) for x in run(cli, models, seed_path, "--format", "jsonl").stdout.splitlines()]
    via = [json.loads(x) for x in run(cli, models, page, "--format", "jsonl").stdout.splitlines()]
    assert [p["id"] for p in via] == [p["id"] for p in direct] and len(via) == 3
    assert [p["stance"] for p in via] == [p["stance"] for p in direct]  # the article is read, not scored
    # a CSV without an id column: ingest and classify give each row the same id
    csv_path = tmp_path / "comments.csv"
    csv_path.write_text("text;title\nThe managers never listen to the ward staff.;Ward leadership\n"
                        "Great piece, thank you.;Ward leadership\n")
    assert cli("ingest", csv_path, "-o", tmp_path / "ds").exit_code == 0
    ingested = [c.id for c in read_dataset(tmp_path / "ds").comments]
    scored = [json.loads(x)["id"] for x in run(cli, models, csv_path, "--format", "jsonl").stdout.splitlines()]
    assert scored == ingested


def test_shares_carry_wilson_intervals():
    from commentary.classify import Summary

    s = Summary(["agree", "disagree"], ["politics"])
    for stance in ["agree"] * 3 + ["disagree"] * 7:
        s.add({"stance": stance, "abstain": False, "themes": []})
    rows = {name: rest for name, *rest in s.rows()}
    k, share, lo, hi = rows["stance:agree"]
    assert (k, share) == (3, 0.3) and lo == pytest.approx(0.1078, abs=1e-3) and hi == pytest.approx(0.6032, abs=1e-3)
    k, share, lo, hi = rows["theme:politics"]
    assert (k, share, lo) == (0, 0.0, 0.0) and hi == pytest.approx(0.2775, abs=1e-3)  # never seen is not "0%"


def test_quiet_classify_skips_the_summary_and_its_imports(models, tmp_path):
    import subprocess
    import sys

    src = tmp_path / "one.txt"
    src.write_text("Nobody ever asks the nurses what would help.\n", encoding="utf-8")
    code = ("import sys; from commentary.cli import main; sys.argv = ['commentary'] + sys.argv[1:]\n"
            "try:\n    main()\nexcept SystemExit as e:\n    assert not e.code, e.code\n"
            "print('scipy.stats' in sys.modules, file=sys.__stdout__)")
    for quiet, imported in ((["-q"], "False"), ([], "True")):
        out = subprocess.run([sys.executable, "-c", code, *quiet, "classify", str(src), "--models-dir", str(models),
                              "-o", str(tmp_path / "p.jsonl"), "--force"], capture_output=True, text=True, check=True)
        assert out.stdout.split()[-1] == imported  # the 95% intervals (scipy's binomtest) only where shown
        assert ("95% interval" in out.stderr) == (not quiet)


def test_streamed_json_lines_lose_control_bytes_as_ingest_does(cli, models, tmp_path):
    """Raw control bytes inside a JSON string make it invalid JSON; ingest strips them (and C1
    controls, which can drive a terminal) from the whole file first, and classify, which streams
    the file line by line, must do the same."""
    from commentary.dataset import read_dataset

    src = tmp_path / "ctl.jsonl"
    src.write_bytes(b'{"id": "1", "text": "Managers \x01never\x0b ask the \x02\xc2\x9bnurses."}\n'  # C0, C1 (CSI)
                    b'{"id": "2", "text": "A clean comment about the ward."}\n')
    res = run(cli, models, src, "--format", "jsonl", "-o", tmp_path / "out.jsonl")
    assert res.exit_code == 0, res.stderr
    assert "stripped 4 control character(s)" in res.stderr
    texts = [json.loads(line)["text"] for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert texts == ["Managers never ask the nurses.", "A clean comment about the ward."]
    assert cli("ingest", src, "-o", tmp_path / "ds").exit_code == 0
    assert [c.text for c in read_dataset(tmp_path / "ds").comments] == texts


def test_a_reader_that_stops_reading_ends_classify_quietly(models, tmp_path):
    """`commentary classify big.jsonl -o - | head`: once the reader has gone, the command stops as a
    Unix tool stopped by SIGPIPE does (exit 141), with no error line and no traceback."""
    import subprocess
    import sys

    from commentary.dataset import read_dataset

    from conftest import REPO

    texts = [c.text for c in read_dataset(REPO / "data" / "starter" / "train").comments] * 3
    src = tmp_path / "many.jsonl"
    src.write_text("".join(json.dumps({"id": f"x{i}", "text": t}) + "\n" for i, t in enumerate(texts)))
    proc = subprocess.Popen([sys.executable, "-m", "commentary", "classify", str(src), "--models-dir", str(models),
                             "-o", "-", "--jobs", "1"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout.read(200).startswith(b'{"id": ')
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 141, err
    assert "✘" not in err and "Traceback" not in err and "Exception ignored" not in err


def test_force_replaces_earlier_predictions_but_never_the_input_or_a_users_file(cli, models, tmp_path):
    """-o over the input is refused, --force or not; --force replaces only predictions classify wrote
    (each format), and a report only a report that `report` wrote."""
    sheet = tmp_path / "survey.csv"
    sheet.write_text("id,text,region\n1,Nobody on the board ever asks the nurses anything,north\n"
                     "2,More beds and fewer managers would fix this,south\n")
    before = sheet.read_text()
    res = run(cli, models, sheet, "-o", sheet, "--force")
    assert res.exit_code == 1 and "is also the input" in res.stderr and sheet.read_text() == before
    mine = tmp_path / "mine.csv"
    mine.write_text("id,notes\n1,my own work\n")
    for args in (("-o", mine), ("-o", mine, "--force")):
        res = run(cli, models, sheet, *args)
        assert res.exit_code == 1 and mine.read_text() == "id,notes\n1,my own work\n"
    assert "not a predictions file that commentary wrote" in res.stderr
    for suffix in ("csv", "jsonl", "json"):
        out = tmp_path / f"preds.{suffix}"
        assert run(cli, models, sheet, "-o", out).exit_code == 0
        res = run(cli, models, sheet, "-o", out)
        assert res.exit_code == 1 and "already exists" in res.stderr
        out.write_text(out.read_text().replace("nurses", "doctors"))  # an earlier run's output, changed
        assert run(cli, models, sheet, "-o", out, "--force").exit_code == 0 and "nurses" in out.read_text()
    page = tmp_path / "notes.html"
    page.write_text("<html><body>my notes</body></html>")
    res = cli("report", sheet, "-o", page, "--force", "--models-dir", models)
    assert res.exit_code == 1 and "not an HTML report that commentary wrote" in res.stderr
    assert page.read_text() == "<html><body>my notes</body></html>"
    report = tmp_path / "report.html"
    assert cli("report", sheet, "-o", report, "--models-dir", models).exit_code == 0
    assert cli("report", sheet, "-o", report, "--force", "--models-dir", models).exit_code == 0


def test_the_table_says_when_a_rule_decided_the_stance(cli, models, tmp_path):
    """A deciding rule gives the stance while the probabilities stay the model's: the table says so
    rather than show "disagree 0.02" unexplained."""
    path = tmp_path / "c.txt"
    path.write_text("Rubbish article.\n\nThe rota never holds in winter, whatever the board says.\n")
    res = run(cli, models, path, "--format", "table")
    assert res.exit_code == 0, res.stderr
    rows = res.stdout.split("├")
    assert "disagree" in rows[0] and "by rule; the model read" in rows[0]
    assert "by rule" not in rows[1]


def test_one_paragraph_of_many_lines_suggests_per_line(cli, models, tmp_path):
    page = tmp_path / "five.txt"
    page.write_text("Bins weekly please\nLibraries matter\nFix the roads\nMore buses\nNobody asked us\n", encoding="utf-8")
    res = cli("classify", page, "--format", "jsonl", "--models-dir", models)
    assert res.exit_code == 0 and len(res.stdout.splitlines()) == 1
    assert "read its 5 lines as one comment" in res.stderr and "--per-line" in res.stderr
    res = cli("classify", page, "--format", "jsonl", "--models-dir", models, "--per-line")
    assert len(res.stdout.splitlines()) == 5 and "as one comment" not in res.stderr
