"""The codebook file: faithful to the shared codebook, validated with line numbers, editable."""

from __future__ import annotations

import pytest

from commentary.codebook import default_codebook_path, load_codebook
from commentary.errors import CodebookError

from conftest import SHARED

STANCES = ["agree", "disagree", "mixed", "neutral"]
THEMES = ["nothing_new", "listening", "teamwork", "hierarchy", "politics", "personal_experience",
          "evidence", "solution"]


def test_default_codebook_has_the_labels_of_the_design():
    book = load_codebook()
    assert book.stance_ids == STANCES and book.theme_ids == THEMES
    assert book.version and all(lab.description for lab in book.stances + book.themes)
    assert all(lab.examples for lab in book.stances + book.themes)


def test_labels_match_the_shared_codebook_when_present():
    path = SHARED / "design" / "CODEBOOK.md"
    if not path.is_file():
        pytest.skip("../shared/design/CODEBOOK.md is absent")
    text = path.read_text()
    for label in STANCES + THEMES:
        assert f"`{label}`" in text


def broken(tmp_path, old, new):
    text = default_codebook_path().read_text()
    assert old in text
    path = tmp_path / "book.yaml"
    path.write_text(text.replace(old, new, 1))
    return path


def line_of(path, needle):
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if needle in line)


@pytest.mark.parametrize("old, new, message, needle", [
    ("    - id: mixed", "    - id: agree", "label id 'agree' appears twice in stance", "    - id: agree\n"),
    ("    - id: politics", "    - id: Politics!", "must be lower_snake_case", "Politics!"),
    ("      description: Proposes", "      descrption: Proposes", "unknown key 'descrption'", "descrption"),
    ("      counts:\n        - questions", "      counts: questions\n      x:\n        - questions",
     "unknown key 'x'", "      x:"),
])
def test_broken_codebook_names_the_line(tmp_path, old, new, message, needle):
    path = broken(tmp_path, old, new)
    with pytest.raises(CodebookError) as err:
        load_codebook(path)
    text = str(err.value)
    assert message in text
    if needle == "    - id: agree\n":
        lines = [i for i, line in enumerate(path.read_text().splitlines(), 1) if line == "    - id: agree"]
        assert f"line {lines[1]}:" in text
    else:
        assert f"line {line_of(path, needle)}:" in text


def test_yaml_syntax_error_names_the_line(tmp_path):
    path = broken(tmp_path, 'version: "1.0"', 'version: "1.0\n  oops: [')
    with pytest.raises(CodebookError, match=r"line \d+: not valid YAML"):
        load_codebook(path)


def test_unknown_label_is_refused_by_name():
    book = load_codebook()
    with pytest.raises(CodebookError, match="unknown theme 'sarcasm'"):
        book.check("agree", ["listening", "sarcasm"])
    with pytest.raises(CodebookError, match="unknown stance 'support'"):
        book.check("support", [])


def test_codebook_command_prints_and_writes_an_editable_copy(cli, tmp_path):
    res = cli("codebook")
    assert res.exit_code == 0 and "personal_experience" in res.stdout and "mixed" in res.stdout
    copy = tmp_path / "mine.yaml"
    assert cli("codebook", "--write", copy).exit_code == 0
    copy.write_text(copy.read_text().replace('version: "1.0"', 'version: "1.1-local"'))
    res = cli("codebook", "--codebook", copy, "--json")
    assert res.exit_code == 0 and '"version": "1.1-local"' in res.stdout
    assert cli("codebook", "--write", copy).exit_code == 1  # no overwrite without --force
    copy.write_text("stance: [")
    res = cli("codebook", "--codebook", copy)
    assert res.exit_code == 1 and "mine.yaml: line" in res.stderr
