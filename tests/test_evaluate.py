"""Evaluation on gold labels: reports, gates that fail and pass as asked, and mismatches refused."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest

from commentary.codebook import load_codebook
from commentary.dataset import read_dataset, write_dataset
from commentary.fitting import TrainConfig
from commentary.training import train_version

from conftest import CORPORA, REPO

TEST = REPO / "data" / "starter" / "test"


@pytest.fixture(scope="module")
def models(small, tmp_path_factory):
    root = tmp_path_factory.mktemp("ev") / "models"
    book = load_codebook()
    train_version(small, book, TrainConfig(cv_folds=2, seed=1), root)
    train_version(small, book, TrainConfig(cv_folds=2, seed=2, c_stance=0.01, c_themes=0.01), root)
    return root


def run(cli, models, *args):
    return cli("evaluate", *args, "--models-dir", models)


def test_force_keeps_a_users_file_saved_inside_a_report_folder(cli, models, tmp_path):
    out = tmp_path / "ev"
    assert run(cli, models, "-o", out).exit_code == 0
    (out / "review-notes.md").write_text("what we decided")
    res = run(cli, models, "-o", out, "--force")
    assert res.exit_code == 1 and "also holds review-notes.md" in res.stderr, res.stderr
    assert (out / "review-notes.md").read_text() == "what we decided"
    (out / "review-notes.md").unlink()
    assert run(cli, models, "-o", out, "--force").exit_code == 0


def test_reports_are_written(cli, models, tmp_path, monkeypatch):
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    res = run(cli, models, "-o", tmp_path / "ev")
    assert res.exit_code == 0, res.stderr
    files = {p.name for p in (tmp_path / "ev").iterdir()}
    assert files == {"metrics.json", "report.md", "junit.xml", "reliability.png", "confusion.png"}
    m = json.loads((tmp_path / "ev" / "metrics.json").read_text())
    assert m["n"] == len(read_dataset(TEST).comments) and sum(map(sum, m["stance"]["confusion"]["matrix"])) == m["n"]
    assert set(m["stance"]["per_label"]["agree"]) == {"precision", "recall", "f1", "support"}
    assert 0 <= m["stance"]["ece"] <= 1 and m["themes"]["micro_f1"] is not None
    assert (tmp_path / "ev" / "reliability.png").read_bytes()[:4] == b"\x89PNG"
    assert "# Evaluation of commentary@v1" in summary.read_text()


def test_gates_fail_and_pass_as_asked(cli, models, tmp_path):
    res = run(cli, models, "-o", tmp_path / "a", "--min-macro-f1", "0.2", "--min-f1", "agree=0.1")
    assert res.exit_code == 0 and "all 3 gates passed" in res.stderr
    res = run(cli, models, "-o", tmp_path / "b", "--min-macro-f1", "0.99", "--min-f1", "listening=0.98")
    assert res.exit_code == 1
    line = res.stderr.strip().splitlines()[-1]
    assert line.startswith("✘ 3 of 3 gates failed: stance_macro_f1 is 0.") and "(limit 0.990)" in line
    assert "listening F1 is" in line and "(limit 0.980)" in line
    junit = ET.parse(tmp_path / "b" / "junit.xml").getroot()
    assert junit.get("failures") == "3" and len(junit.findall("testcase/failure")) == 3


def test_baseline_max_drop(cli, models, tmp_path):
    # v2 was trained with almost no capacity: against v1 it must drop, and the gate must say so.
    res = run(cli, models, "--model", "commentary@v2", "--baseline", "commentary@v1", "--max-drop", "0.01",
              "-o", tmp_path / "c")
    assert res.exit_code == 1 and "vs commentary@v1" in res.stderr
    res = run(cli, models, "--model", "commentary@v1", "--baseline", "commentary@v1", "--max-drop", "0",
              "-o", tmp_path / "d")
    assert res.exit_code == 0
    base = json.loads((tmp_path / "d" / "metrics.json").read_text())["baseline"]
    assert base["model"] == "commentary@v1" and base["in_training"] == 0 and 0 < base["stance_macro_f1"] <= 1


def test_a_baseline_scored_on_its_own_training_data_is_named(cli, models, small, tmp_path):
    """A baseline that saw the gold comments sets --max-drop's bar too high: say so, as for the model."""
    res = run(cli, models, small, "--model", "commentary@v2", "--baseline", "commentary@v1", "-o", tmp_path / "e")
    assert res.exit_code == 1 and "gates failed" in res.stderr  # v2 falls short of a baseline marking its own homework
    n = len(read_dataset(small).comments)
    assert f"{n:,} of the {n:,} gold comments were in the baseline commentary@v1's training data" in res.stderr
    assert json.loads((tmp_path / "e" / "metrics.json").read_text())["baseline"]["in_training"] == n


def test_gold_labels_from_another_codebook_are_refused(cli, models, tmp_path):
    ds = read_dataset(TEST)
    for lab in ds.labels:
        lab.codebook_version = "0.9"
    write_dataset(tmp_path / "old", ds.articles, ds.comments, labels=ds.labels)
    res = run(cli, models, tmp_path / "old", "-o", tmp_path / "e")
    assert res.exit_code == 1 and "use codebook 0.9 but commentary@v1 was trained with codebook 1.0" in res.stderr
    assert not (tmp_path / "e").exists()
    res = run(cli, models, "--min-f1", "sarcasm=0.5", "-o", tmp_path / "f")
    assert res.exit_code == 2 and "'sarcasm', which is not a label" in res.stderr
    # labels may be named as classify's summary names them
    res = run(cli, models, "--min-f1", "stance:agree=0", "--min-f1", "themes:listening=0",
              "--min-f1", "theme:teamwork=0", "-o", tmp_path / "g")
    assert res.exit_code == 0, res.stderr


def test_real_set_is_scored_source_by_source(cli, models, tmp_path):
    from conftest import corpus

    corpus("nyt_rfd_stance_arct")
    res = run(cli, models, "--real", "-o", tmp_path / "real")
    assert res.exit_code == 0, res.stderr
    summary = json.loads(res.stdout)
    m = json.loads((tmp_path / "real" / "metrics.json").read_text())
    gold = [json.loads(line) for line in (REPO / "data/real/eval/gold.jsonl").read_text().splitlines()]
    assert m["n"] == len(gold) == 650
    sources = m["groups"]
    assert set(sources) == set(summary["sources"]) == {"nyt_rfd", "reddit", "sfu_globe", "nhs_feedback"}
    # NHS feedback has no article: its comments count for themes and never for stance
    assert sources["nhs_feedback"]["stance"]["macro_f1"] is None and sources["nhs_feedback"]["n"] == 100
    assert m["stance"]["n"] == 550 == sum(map(sum, m["stance"]["confusion"]["matrix"]))
    assert sources["reddit"]["stance"]["n"] == 200 and sources["reddit"]["themes"]["macro_f1"] is not None
    # themes macro-F1 averages the themes that gold labels contain (reddit has no listening)
    assert "listening" not in sources["reddit"]["themes"]["macro_over"]
    report = (tmp_path / "real" / "report.md").read_text()
    assert "| nhs_feedback | 100 | — |" in report and "| reddit | 200 |" in report


def test_real_set_names_what_is_missing(cli, models, tmp_path, monkeypatch):
    monkeypatch.setenv("COMMENTARY_CORPORA", str(tmp_path / "nowhere"))
    res = run(cli, models, "--real", "-o", tmp_path / "x")
    assert res.exit_code == 1 and "corpora folder is not here" in res.stderr
    res = run(cli, models, "--source", "reddit", "-o", tmp_path / "y")
    assert res.exit_code == 2 and "--corpora and --source go with --real" in res.stderr


def test_output_folder_of_the_users_is_never_replaced(cli, models, tmp_path):
    papers = tmp_path / "papers"
    papers.mkdir()
    (papers / "thesis.docx").write_bytes(b"PK\x03\x04 years of work")
    res = run(cli, models, "-o", papers)
    assert res.exit_code == 1 and "papers already exists and is not an evaluation report" in res.stderr
    assert "--force" not in res.stderr  # it would not replace the folder either
    res = run(cli, models, "-o", papers, "--force")
    assert res.exit_code == 1 and "is not an evaluation report that commentary wrote" in res.stderr
    assert [p.name for p in papers.iterdir()] == ["thesis.docx"]
    # an earlier report is replaced with --force, and only with it
    assert run(cli, models, "-o", tmp_path / "ev").exit_code == 0
    assert run(cli, models, "-o", tmp_path / "ev").exit_code == 1
    assert run(cli, models, "-o", tmp_path / "ev", "--force").exit_code == 0
    # without -o the report goes to the home's evaluation folder and replaces the model's last one there
    assert run(cli, models).exit_code == 0 and run(cli, models).exit_code == 0


def test_default_report_folders_are_one_per_gold_set(cli, models, tmp_path, monkeypatch):
    """Scoring a version on the real set, or on a dataset of yours, keeps its starter-split report."""
    monkeypatch.setenv("COMMENTARY_HOME", str(tmp_path))
    assert run(cli, models).exit_code == 0
    reports = tmp_path / "evaluation"
    (starter,) = list(reports.iterdir())
    first = (starter / "metrics.json").read_text()
    res = run(cli, models, TEST, "--labels", _labels_file(tmp_path))
    assert res.exit_code == 0, res.stderr
    (mine,) = [p.name for p in reports.iterdir() if p != starter]
    assert mine.startswith(f"{starter.name}-on-test-mine-")
    # a folder of yours called "real", and one called "test" elsewhere, have reports of their own
    for folder in (tmp_path / "real", tmp_path / "elsewhere" / "test"):
        ds = read_dataset(TEST)
        write_dataset(folder, ds.articles, ds.comments, labels=ds.labels)
        assert run(cli, models, folder).exit_code == 0
    names = sorted(p.name for p in reports.iterdir())
    assert len(names) == 4 and names[0] == starter.name and all("-on-" in n for n in names[1:])
    assert (starter / "metrics.json").read_text() == first
    if (CORPORA / "subreddit_agreement").is_dir():  # the real set's Reddit part, read in place
        res = run(cli, models, "--real", "--source", "reddit")
        assert res.exit_code == 0, res.stderr
        assert (reports / f"{starter.name}-real-reddit" / "metrics.json").is_file()
        assert (starter / "metrics.json").read_text() == first


def _labels_file(folder):
    mine = folder / "mine.jsonl"
    mine.write_text("".join(json.dumps({"comment_id": lab.comment_id, "stance": lab.stance, "themes": lab.themes})
                            + "\n" for lab in read_dataset(TEST).labels[:40]))
    return mine


def test_evaluate_on_your_own_labels_file_and_attach_them(cli, models, tmp_path):
    # a user's labels, as annotate writes them (JSON Lines), for the starter test split
    ds = read_dataset(TEST)
    mine = tmp_path / "mine.jsonl"
    mine.write_text("".join(json.dumps({"comment_id": lab.comment_id, "stance": lab.stance, "themes": lab.themes,
                                        "annotator": "ana"}) + "\n" for lab in ds.labels[:60]))
    res = run(cli, models, TEST, "--labels", mine, "-o", tmp_path / "ev")
    assert res.exit_code == 0, res.stderr
    m = json.loads((tmp_path / "ev" / "metrics.json").read_text())
    assert m["n"] == 60
    # the same figures from a dataset that carries the labels
    res = cli("label", "attach", TEST, mine, "-o", tmp_path / "labelled")
    assert res.exit_code == 0, res.stderr
    assert len(read_dataset(tmp_path / "labelled").labels) == 60
    res = run(cli, models, tmp_path / "labelled", "-o", tmp_path / "ev2")
    m2 = json.loads((tmp_path / "ev2" / "metrics.json").read_text())
    assert m2["stance"]["macro_f1"] == m["stance"]["macro_f1"] and m2["n"] == 60
    # labels for comments the dataset does not have are refused
    (tmp_path / "other.jsonl").write_text('{"comment_id": "nope", "stance": "agree", "themes": []}\n')
    res = run(cli, models, TEST, "--labels", tmp_path / "other.jsonl", "-o", tmp_path / "ev3")
    assert res.exit_code == 1 and "name comments that are not in" in res.stderr


def test_max_drop_needs_a_baseline_and_no_gate_still_makes_a_test_case(cli, models, tmp_path):
    res = run(cli, models, "--max-drop", "0.02", "-o", tmp_path / "a")
    assert res.exit_code == 2 and "--max-drop needs --baseline" in res.stderr
    assert run(cli, models, "-o", tmp_path / "b").exit_code == 0
    suite = ET.parse(tmp_path / "b" / "junit.xml").getroot()
    assert suite.get("tests") == "1" and suite.get("failures") == "0"
    assert "stance_macro_f1" in suite.find("testcase/system-out").text


def test_a_gate_with_nothing_to_measure_fails():
    from commentary.evaluate import check_gates

    nothing = {"stance": {"macro_f1": None, "per_label": {}}, "themes": {"macro_f1": None, "micro_f1": None,
                                                                        "per_label": {}}}
    gates = check_gates(nothing, min_macro_f1=0.6)
    assert [g.passed for g in gates] == [False]
    assert "could not be measured: no gold labels for it" in gates[0].describe()
    themes_only = {**nothing, "themes": {**nothing["themes"], "macro_f1": 0.7}}  # a themes-only gold set
    assert [(g.name, g.passed) for g in check_gates(themes_only, min_macro_f1=0.6)] == [("themes_macro_f1", True)]


def test_a_sheet_with_rows_not_labelled_yet_counts_only_the_labelled(tmp_path):
    from commentary.codebook import load_codebook
    from commentary.label.io import read_labels_file

    sheet = tmp_path / "sheet.csv"
    sheet.write_text("comment_id,stance,themes\nc1,agree,listening\nc2,,\nc3,disagree,\nc4,, \n", encoding="utf-8")
    said = []
    labels = read_labels_file(sheet, load_codebook(), warn=said.append)
    assert [(lab.comment_id, lab.stance, lab.themes) for lab in labels] == [("c1", "agree", ["listening"]),
                                                                           ("c3", "disagree", [])]
    assert said == [f"{sheet}: 2 row(s) with neither a stance nor themes, not labelled yet, skipped (first: row 2)"]


def test_gold_comments_the_model_was_trained_on_are_counted_and_said(cli, models, small, tmp_path):
    # models were trained on `small`: scoring it again is scoring the training data
    res = run(cli, models, small, "-o", tmp_path / "on-train")
    assert res.exit_code == 0, res.stderr
    n = json.loads((tmp_path / "on-train" / "metrics.json").read_text())["n"]
    assert f"{n:,} of the {n:,} gold comments were in commentary@v1's training data" in res.stderr
    assert "were in the model's training data" in (tmp_path / "on-train" / "report.md").read_text()
    # the starter test split was not trained on: nothing is said
    res = run(cli, models, "-o", tmp_path / "on-test")
    assert res.exit_code == 0 and "training data" not in res.stderr
    assert json.loads((tmp_path / "on-test" / "metrics.json").read_text())["in_training"] == 0
