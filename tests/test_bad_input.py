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
    assert res.exit_code == 1 and "unknown format 'docx'" in res.stderr
