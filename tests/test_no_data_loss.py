"""--force replaces only what commentary itself wrote; folders and files of the user's survive every command."""

from __future__ import annotations

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


def test_label_studio_config_beside_the_export_needs_force(cli, tmp_path):
    out = tmp_path / "tasks.json"
    config = tmp_path / "tasks.label_config.xml"
    config.write_text("<View>the user's own config</View>")
    res = cli("label", "export", TEST_SPLIT, "--to", "label-studio", "-o", out, "--no-model")
    assert res.exit_code == 1 and "tasks.label_config.xml already exists" in res.stderr
    assert config.read_text() == "<View>the user's own config</View>" and not out.exists()
    res = cli("label", "export", TEST_SPLIT, "--to", "label-studio", "-o", out, "--no-model", "--force")
    assert res.exit_code == 0 and "<View>" in config.read_text() and out.exists()
