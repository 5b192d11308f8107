"""Bad input: one clear line naming the file, the place and the fix; exit 1; nothing half-written."""

from __future__ import annotations

import pytest

from conftest import FIXTURES


def run_bad(cli, tmp_path, name, data, *extra):
    path = tmp_path / name
    path.write_bytes(data)
    out = tmp_path / "out"
    res = cli("ingest", path, "-o", out, *extra)
    assert res.exit_code == 1, res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("✘ "), res.stderr
    assert res.stdout == ""
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".out")] == []
    return lines[0]


BOMB = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>
<rss xmlns:wp="http://wordpress.org/export/1.2/"><channel><title>&lol2;</title></channel></rss>
"""
XXE = b"""<?xml version="1.0"?>
<!DOCTYPE d [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<disqus xmlns="http://disqus.com"><thread><title>&xxe;</title></thread></disqus>
"""


@pytest.mark.parametrize(
    "name, data, expected",
    [
        ("empty.csv", b"", "empty.csv is empty; pass a file"),
        ("blank.txt", b"\n\n   \n", "blank.txt is empty"),
        ("photo.jpg", b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01" * 20, "looks binary"),
        ("export.xml", (FIXTURES / "wxr.xml").read_bytes()[:1500], "not well-formed XML"),
        ("bomb.xml", BOMB, "refused unsafe XML"),
        ("xxe.xml", XXE, "refused unsafe XML"),
        ("notes.xml", b"<?xml version='1.0'?><notes><n>hi</n></notes>", "neither a WordPress"),
        ("data.bin", b"\x01\x02 some words here, no structure at all", "cannot tell the format"),
        ("broken.jsonl", b'{"text": "fine"}\n{"text": "not closed\n', "line 2 is not valid JSON"),
        ("empty.html", b"<html><head></head><body><div></div></body></html>", "found no article"),
    ],
)
def test_bad_input_gets_one_clear_line(cli, tmp_path, name, data, expected):
    line = run_bad(cli, tmp_path, name, data)
    assert name in line and expected in line
    assert ";" in line  # every message carries its fix


def test_fifty_megabyte_single_line(cli, tmp_path):
    line = run_bad(cli, tmp_path, "huge.csv", b"text\n" + b"a" * 50_000_000)
    assert "huge.csv: line 2 is 50,000,000 characters long" in line


def test_control_characters_are_stripped_and_counted(cli, tmp_path):
    path = tmp_path / "page.txt"
    path.write_text("Title\x07\n\nText\x00 here.\n\nAnn Lee\nComment date\n1 May 2020\nHi\x1b there.\n")
    res = cli("ingest", path, "-o", "-")
    assert res.exit_code == 0
    assert "stripped 3 control character(s)" in res.stderr
    assert "\\u001b" not in res.stdout and "Hi there." in res.stdout


def test_existing_dataset_is_not_overwritten_without_force(cli, tmp_path):
    out = tmp_path / "ds"
    assert cli("ingest", FIXTURES / "disqus.xml", "-o", out).exit_code == 0
    before = (out / "manifest.json").read_text()
    res = cli("ingest", FIXTURES / "wxr.xml", "-o", out)
    assert res.exit_code == 1 and "already exists; pass --force" in res.stderr
    assert (out / "manifest.json").read_text() == before
    res = cli("ingest", FIXTURES / "does-not-exist.xml", "-o", out, "--force")
    assert res.exit_code == 1 and (out / "manifest.json").read_text() == before
    assert cli("ingest", FIXTURES / "wxr.xml", "-o", out, "--force").exit_code == 0
    assert (out / "manifest.json").read_text() != before


def test_unknown_format_option_is_an_error(cli, tmp_path):
    res = cli("ingest", FIXTURES / "wxr.xml", "--format", "docx", "-o", tmp_path / "x")
    assert res.exit_code == 2 and "unknown format 'docx'" in res.stderr


def test_a_folder_for_a_labels_file_and_a_missing_config_are_named_as_such(cli, tmp_path):
    from conftest import REPO

    starter_test = REPO / "data" / "starter" / "test"
    res = cli("evaluate", starter_test, "--labels", starter_test)
    assert res.exit_code == 1 and "is a folder, not a labels file" in res.stderr
    assert "a dataset's own labels are used when no labels file is given" in res.stderr
    res = cli("train", "--config", tmp_path / "nosuch.toml")
    assert res.exit_code == 1 and "nosuch.toml does not exist; check the path of the --config file" in res.stderr
    assert "Errno" not in res.stderr
    table = tmp_path / "export.csv"  # a column called "comments" is the text, without a warning
    table.write_text("id,comments\n1,Nobody asked us about the library\n", encoding="utf-8")
    res = cli("ingest", table, "-o", "-")
    assert res.exit_code == 0 and "Nobody asked us" in res.stdout and "no column is named" not in res.stderr


def test_a_table_piped_in_is_read_as_a_table_and_plain_comments_are_not(cli):
    table = "id,comment\n1,\"Close the library? Madness, utter madness.\"\n2,Fix the roads first.\n"
    res = cli("ingest", "-", "-o", "-", input=table)
    assert res.exit_code == 0, res.stderr
    assert [line.split('"text": ')[1][:12] for line in res.stdout.splitlines()] == ['"Close the l', '"Fix the roa']
    res = cli("ingest", "-", "-o", "-", input="Yes, I agree, totally. Well said, Jane\nNo, no, no.\n")
    assert res.exit_code == 1 and "cannot tell the format" in res.stderr


def test_a_table_coded_in_place_is_pointed_to_as_the_labels(cli, tmp_path):
    table = tmp_path / "coded.csv"
    table.write_text("id,text,stance,themes\n1,Nobody asked us about the library,disagree,listening\n"
                     "2,Good call by the council,agree,\n", encoding="utf-8")
    data = tmp_path / "coded"
    assert cli("ingest", table, "-o", data).exit_code == 0
    res = cli("train", data, "--backend", "tfidf")
    assert res.exit_code == 1 and "has no labels" in res.stderr
    assert f"carry stance or themes columns from the table it was read from: pass that table as the labels " \
           f"(--labels {table}" in res.stderr


def test_a_folder_of_datasets_is_named_as_such_not_read_as_a_hub_dataset(cli, tmp_path):
    from conftest import REPO

    data = tmp_path / "data"
    data.mkdir()
    assert cli("ingest", FIXTURES / "wxr.xml", "-o", data / "blog").exit_code == 0
    res = cli("ingest", data, "-o", "-")
    assert res.exit_code == 1 and len(res.stderr.strip().splitlines()) == 1
    assert "holds commentary datasets (blog), not one table; pass one of them" in res.stderr
    res = cli("ingest", REPO / "data" / "starter" / "test", "-o", "-")
    assert res.exit_code == 1 and "is already a commentary dataset; pass it straight to classify" in res.stderr
