"""--force replaces only what commentary itself wrote; folders and files of the user's survive every command."""

from __future__ import annotations

import csv

import pytest

from conftest import FIXTURES, REPO

TEST_SPLIT = REPO / "data" / "starter" / "test"


def users_folder(tmp_path, name="data"):
    folder = tmp_path / name
    (folder / "starter").mkdir(parents=True)
    (folder / "starter" / "notes.md").write_text("the user's notes")
    (folder / "budget.xlsx").write_bytes(b"PK\x03\x04")
    return folder


def files(folder):
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


@pytest.mark.parametrize("command", [
    ["ingest", FIXTURES / "disqus.xml"],
    ["label", "export", TEST_SPLIT, "--to", "argilla", "--no-model"],
])
def test_force_never_replaces_a_folder_commentary_did_not_write(cli, tmp_path, command):
    folder = users_folder(tmp_path)
    before = files(folder)
    res = cli(*command, "-o", folder)
    assert res.exit_code == 1 and "already exists" in res.stderr
    res = cli(*command, "-o", folder, "--force")
    assert res.exit_code == 1, res.stderr
    assert "that commentary wrote, so --force does not replace it" in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1
    assert files(folder) == before and (folder / "starter" / "notes.md").read_text() == "the user's notes"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".data")]  # no temp folder left
    # what the command wrote itself is replaced with --force
    own = tmp_path / "own"
    assert cli(*command, "-o", own).exit_code == 0
    assert cli(*command, "-o", own, "--force").exit_code == 0


def test_force_keeps_a_users_files_saved_inside_a_dataset_it_wrote(cli, tmp_path):
    ds = tmp_path / "ds"
    assert cli("ingest", FIXTURES / "disqus.xml", "-o", ds).exit_code == 0
    (ds / "notes").mkdir()
    (ds / "notes" / "coding.md").write_text("my coding notes")
    (ds / "labels.ana.jsonl").write_text("{}\n")
    for force in ([], ["--force"]):
        res = cli("ingest", FIXTURES / "disqus.xml", "-o", ds, *force)
        assert res.exit_code == 1, res.stderr
        assert "also holds labels.ana.jsonl, notes, which commentary did not write" in res.stderr, res.stderr
        assert "--force" not in res.stderr.split("commentary did not write")[1]  # not offered: it would not help
    assert (ds / "notes" / "coding.md").read_text() == "my coding notes" and (ds / "labels.ana.jsonl").exists()
    res = cli("label", "attach", ds, REPO / "data" / "starter" / "second_pass.jsonl", "-o", ds, "--force")
    assert res.exit_code != 0 and (ds / "notes" / "coding.md").exists()
    # moved out, the folder is the command's own again
    (ds / "labels.ana.jsonl").unlink()
    (ds / "notes" / "coding.md").unlink()
    (ds / "notes").rmdir()
    assert cli("ingest", FIXTURES / "disqus.xml", "-o", ds, "--force").exit_code == 0


def test_force_keeps_a_users_file_saved_inside_an_argilla_export(cli, tmp_path):
    out = tmp_path / "to-label"
    command = ["label", "export", TEST_SPLIT, "--to", "argilla", "--no-model", "-o", out]
    assert cli(*command).exit_code == 0
    (out / "notes.txt").write_text("who labels what")
    res = cli(*command, "--force")
    assert res.exit_code == 1 and "also holds notes.txt" in res.stderr, res.stderr
    assert (out / "notes.txt").read_text() == "who labels what"
    (out / "notes.txt").unlink()
    assert cli(*command, "--force").exit_code == 0


def test_force_refuses_the_current_folder_and_a_file(cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "thesis.docx").write_bytes(b"PK")
    res = cli("ingest", FIXTURES / "disqus.xml", "-o", ".", "--force")
    assert res.exit_code == 1 and "is not a dataset that commentary wrote" in res.stderr
    res = cli("ingest", FIXTURES / "disqus.xml", "-o", "thesis.docx", "--force")
    assert res.exit_code == 1 and "exists and is not a folder" in res.stderr
    assert (tmp_path / "thesis.docx").read_bytes() == b"PK"
    # an empty folder is fair game
    (tmp_path / "empty").mkdir()
    assert cli("ingest", FIXTURES / "disqus.xml", "-o", "empty", "--force").exit_code == 0


def test_label_studio_config_beside_the_export_is_never_the_users(cli, tmp_path):
    out = tmp_path / "tasks.json"
    config = tmp_path / "tasks.label_config.xml"
    config.write_text("<View>the user's own config</View>")
    res = cli("label", "export", TEST_SPLIT, "--to", "label-studio", "-o", out, "--no-model")
    assert res.exit_code == 1 and "tasks.label_config.xml already exists" in res.stderr
    assert config.read_text() == "<View>the user's own config</View>" and not out.exists()
    # a config the user wrote is theirs, --force or not; one the export wrote is replaced with --force
    res = cli("label", "export", TEST_SPLIT, "--to", "label-studio", "-o", out, "--no-model", "--force")
    assert res.exit_code == 1 and "tasks.label_config.xml exists and is not" in res.stderr
    assert config.read_text() == "<View>the user's own config</View>" and not out.exists()
    config.unlink()
    assert cli("label", "export", TEST_SPLIT, "--to", "label-studio", "-o", out, "--no-model").exit_code == 0
    res = cli("label", "export", TEST_SPLIT, "--to", "label-studio", "-o", out, "--no-model", "--force")
    assert res.exit_code == 0 and "<View>" in config.read_text() and out.exists()


# --- labels files: whole lines only, one writer at a time, a torn last line read past ---

def _label(cid, stance="agree"):
    from commentary.records import Labels

    return Labels(comment_id=cid, stance=stance, themes=["evidence"], annotator="ann", codebook_version="1.0")


SURVEY = "id,text\n1,The council never asks us\n2,Bins every fortnight is fine\n"
PEOPLES_LABELS = ('{"comment_id": "c1", "stance": "agree", "themes": [], "annotator": "ana", "created": null, '
                  '"codebook_version": "1.0", "weak": false}\n')


@pytest.mark.parametrize("command, own", [
    (["label", "rules", TEST_SPLIT], "weak.jsonl"),
    (["label", "export", TEST_SPLIT, "--to", "csv", "--no-model"], "tasks.csv"),
    (["label", "export", TEST_SPLIT, "--to", "label-studio", "--no-model"], "tasks.json"),
    (["label", "issues", TEST_SPLIT, "--backend", "tfidf"], None),
    (["label", "rules", "--write"], "rules.yaml"),
    (["codebook", "--write"], "codebook.yaml"),
])
def test_force_never_replaces_a_file_commentary_did_not_write(cli, tmp_path, command, own):
    # a user's survey table, a page of theirs, and labels people made: --force replaces none of them
    for name, text in (("survey.csv", SURVEY), ("page.html", "<p>mine</p>"), ("people.jsonl", PEOPLES_LABELS)):
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        opt = ["--write"] if command[-1] == "--write" else ["-o"]
        args = command[:-1] + opt + [path] if command[-1] == "--write" else command + opt + [path]
        res = cli(*args, "--force")
        assert res.exit_code == 1, (name, res.stderr)
        assert "that commentary wrote, so --force does not replace it" in res.stderr, res.stderr
        assert path.read_text(encoding="utf-8") == text
    if own is None:
        return
    # what the command wrote itself is replaced with --force (and refused without it)
    path = tmp_path / own
    args = (command[:-1] + ["--write", path]) if command[-1] == "--write" else command + ["-o", path]
    assert cli(*args).exit_code == 0
    assert cli(*args).exit_code == 1
    res = cli(*args, "--force")
    assert res.exit_code == 0, res.stderr


def test_force_never_replaces_a_sheet_an_annotator_has_begun(cli, tmp_path):
    sheet = tmp_path / "ana.csv"
    assert cli("label", "export", TEST_SPLIT, "--to", "csv", "--no-model", "-o", sheet).exit_code == 0
    with open(sheet, encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))
    at = rows[0].index("stance")
    rows[1][at] = "mixed" if rows[1][at] != "mixed" else "agree"  # an annotator changes one label
    with open(sheet, "w", encoding="utf-8", newline="") as fh:
        csv.writer(fh).writerows(rows)
    before = sheet.read_text(encoding="utf-8")
    res = cli("label", "export", TEST_SPLIT, "--to", "csv", "--no-model", "-o", sheet, "--force")
    assert res.exit_code == 1 and "is not a csv export that commentary wrote" in res.stderr
    assert sheet.read_text(encoding="utf-8") == before


def test_label_import_writes_only_json_lines(cli, tmp_path):
    sheet = tmp_path / "labels.csv"  # a labels table of the user's: import must not turn it into JSON Lines
    sheet.write_text("comment_id,stance,themes\n", encoding="utf-8")
    res = cli("label", "import", FIXTURES / "disqus.xml", "-d", TEST_SPLIT, "-o", sheet)
    assert res.exit_code == 2 and "kept as JSON Lines" in res.stderr and "-o " in res.stderr
    assert sheet.read_text(encoding="utf-8") == "comment_id,stance,themes\n"


def test_a_torn_last_line_is_read_past_and_reported(tmp_path):
    from commentary.codebook import load_codebook
    from commentary.errors import InputError
    from commentary.label.io import read_labels_file

    book = load_codebook()
    path = tmp_path / "labels.jsonl"
    path.write_text('{"comment_id": "c1", "stance": "agree", "themes": []}\n'
                    '{"comment_id": "c2", "stance": "disagree", "themes": ["politics"]}\n{"comment_id": "c3", "sta')
    said = []
    labels = read_labels_file(path, book, warn=said.append)
    assert [lab.comment_id for lab in labels] == ["c1", "c2"]
    assert len(said) == 1 and "skipped line 3, a label cut off by an interrupted save" in said[0]
    # a broken line that is not the last one is still an error: it is not a torn save
    path.write_text('{"comment_id": "c1", "sta\n{"comment_id": "c2", "stance": "agree", "themes": []}\n')
    with pytest.raises(InputError, match="line 1 is not valid JSON"):
        read_labels_file(path, book)


def test_a_second_writer_is_refused_while_the_first_holds_the_file(tmp_path):
    from commentary.errors import CommentaryError
    from commentary.label.io import LabelsAppender

    path = tmp_path / "labels.jsonl"
    with LabelsAppender(path) as first:
        first.append(_label("c1"))
        with pytest.raises(CommentaryError, match="being written by another session"):
            LabelsAppender(path)
        first.append(_label("c2"))
    with LabelsAppender(path) as again:  # free once the first is closed
        again.append(_label("c3"))
    assert [line[:22] for line in path.read_text().splitlines()] == ['{"comment_id": "c1", "',
                                                                    '{"comment_id": "c2", "',
                                                                    '{"comment_id": "c3", "']


def test_a_torn_tail_is_mended_before_the_next_label(tmp_path):
    from commentary.label.io import LabelsAppender

    path = tmp_path / "labels.jsonl"
    whole = '{"comment_id": "c1", "stance": "agree", "themes": []}\n'
    path.write_text(whole + '{"comment_id": "c2", "stan')
    said = []
    with LabelsAppender(path, warn=said.append) as w:
        w.append(_label("c3"))
    lines = path.read_text().splitlines()
    assert lines[0] == whole.strip() and '"c3"' in lines[1] and len(lines) == 2
    assert "removed a label cut off by an interrupted save" in said[0]
    # a whole label missing only its newline is kept
    path.write_text(whole.strip())
    with LabelsAppender(path, warn=said.append) as w:
        w.append(_label("c4"))
    assert len(path.read_text().splitlines()) == 2 and len(said) == 1


FULL_DISK = """
import resource, signal, sys
from commentary.label.io import LabelsAppender
from commentary.records import Labels
from commentary.errors import CommentaryError
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG instead
path = sys.argv[1]
w = LabelsAppender(path)
w.append(Labels("c1", "agree", [], "ann", codebook_version="1.0"))
limit = len(open(path, "rb").read()) + 40  # room for less than one more label
resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
try:
    w.append(Labels("c2", "disagree", ["politics", "evidence"], "ann", codebook_version="1.0"))
except CommentaryError as exc:
    print("refused:", exc)
"""


def test_a_full_disk_never_leaves_half_a_label(tmp_path):
    import subprocess
    import sys

    path = tmp_path / "labels.jsonl"
    res = subprocess.run([sys.executable, "-c", FULL_DISK, str(path)], capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    assert "refused: could not save the label" in res.stdout and "every label saved before is intact" in res.stdout
    text = path.read_text()
    assert text.endswith("\n") and len(text.splitlines()) == 1 and '"c1"' in text


def test_weak_false_in_a_labels_table_is_not_weak(tmp_path):
    from commentary.codebook import load_codebook
    from commentary.errors import InputError
    from commentary.label.io import read_labels_file

    path = tmp_path / "labels.csv"
    path.write_text("comment_id,stance,themes,weak\nc1,agree,,false\nc2,agree,,TRUE\nc3,agree,,0\nc4,agree,,\n")
    assert [lab.weak for lab in read_labels_file(path, load_codebook())] == [False, True, False, False]
    path.write_text("comment_id,stance,themes,weak\nc1,agree,,maybe\n")
    with pytest.raises(InputError, match="weak is 'maybe', not true or false"):
        read_labels_file(path, load_codebook())


def test_a_labels_table_row_cut_by_an_unquoted_comma_is_refused(tmp_path):
    from commentary.codebook import load_codebook
    from commentary.errors import InputError
    from commentary.label.io import read_labels_file

    path = tmp_path / "labels.csv"
    path.write_text('comment_id,stance,themes\nc1,agree,"listening, solution"\nc2,agree,listening|politics\n'
                    'c3,disagree,listening,solution\n')
    # the third row's second theme would be dropped without a word, and the figures scored without it
    with pytest.raises(InputError, match=r"row 3 has 1 more field\(s\) than the header .*'solution'"):
        read_labels_file(path, load_codebook())
    path.write_text('comment_id,stance,themes\nc1,agree,"listening, solution"\nc2,agree,listening|politics\n')
    assert [lab.themes for lab in read_labels_file(path, load_codebook())] == [["listening", "solution"],
                                                                                ["listening", "politics"]]
