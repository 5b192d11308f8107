"""Annotation in the terminal: keystrokes, saving each answer at once, resuming, ordering, a real TTY."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time

import pytest

from commentary.codebook import load_codebook
from commentary.dataset import read_dataset
from commentary.records import Labels

from conftest import REPO

TEST_SPLIT = REPO / "data" / "starter" / "test"
N_TEST = len(read_dataset(TEST_SPLIT).comments)


def _labels(path):
    return [Labels.from_dict(json.loads(line)) for line in path.read_text().splitlines()]


def test_keys_label_save_and_skip_then_a_rerun_resumes(cli, tmp_path):
    out = tmp_path / "ana.jsonl"
    # first comment: disagree with themes 1 and 3; second: skipped; third: neutral, no themes; then quit
    res = cli("annotate", TEST_SPLIT, "-a", "ana", "-o", out, "--no-model", input="d13\ns n\nq")
    assert res.exit_code == 0, res.stderr
    got = _labels(out)
    book = load_codebook()
    assert [(g.stance, g.themes) for g in got] == [("disagree", [book.theme_ids[0], book.theme_ids[2]]),
                                                  ("neutral", [])]
    assert all(g.annotator == "ana" and g.created and g.codebook_version == "1.0" for g in got)
    assert f"saved 2 labels this session (2 of {N_TEST} in all)" in res.stderr
    # the rerun starts after what was saved: the skipped comment comes back, the saved ones do not
    res = cli("annotate", TEST_SPLIT, "-a", "ana", "-o", out, "--no-model", input="a\nq")
    assert res.exit_code == 0 and f"2 of {N_TEST} already labelled" in res.stderr
    again = _labels(out)
    assert len(again) == 3 and len({g.comment_id for g in again}) == 3
    # another annotator in the same file starts from the beginning of the same seeded queue
    res = cli("annotate", TEST_SPLIT, "-a", "bob", "-o", out, "--no-model", input="a\nq")
    assert _labels(out)[-1].comment_id == got[0].comment_id


def test_undo_takes_back_the_last_label_and_help_and_article_show_on_demand(cli, tmp_path):
    out = tmp_path / "ana.jsonl"
    # label the first two (agree, disagree), undo the second and relabel it neutral; skip the third,
    # undo the skip and label it mixed; ? and r open and close the help and the article; then quit
    res = cli("annotate", TEST_SPLIT, "-a", "ana", "-o", out, "--no-model", input="a\nd\nun\n?r?s" + "um\nq")
    assert res.exit_code == 0, res.stderr
    got = _labels(out)
    assert [g.stance for g in got] == ["agree", "neutral", "mixed"] and len({g.comment_id for g in got}) == 3
    assert f"saved 3 labels this session (3 of {N_TEST} in all)" in res.stderr
    res = cli("annotate", TEST_SPLIT, "-a", "ana", "-o", out, "--no-model", input="uq")
    assert res.exit_code == 0 and len(_labels(out)) == 3  # undo reaches only this session's labels


def test_the_screen_shows_help_the_article_and_long_comments_by_page():
    from rich.console import Console

    from commentary.annotate import Session, build_items, render

    ds = read_dataset(TEST_SPLIT)
    items = build_items(ds.articles, ds.comments, None)
    items[0].comment.text = "\n".join(f"line {i} of a very long comment" for i in range(200))
    session = Session(items[:2], load_codebook(), "ana", REPO / "never-written.jsonl")
    console = Console(record=True, width=100, height=40, force_terminal=False)

    def screen(*keys):
        for k in keys:
            session.press(k)
        console.clear()
        render(session, console)
        return console.export_text(clear=True)

    first = screen()
    assert "Article:" in first and "line 0 of a very long" in first and "line 150" not in first
    assert "[page 1 of" in first and "Stance:" in first  # the header and the keys stay on screen
    second = screen(" ")
    assert "line 0 of" not in second and "[page 2 of" in second
    helped = screen("?")
    assert "Themes (any)" in helped and "hierarchy:" in helped
    article = screen("?", "r")
    assert items[0].article_text and items[0].article_text.split()[0] in article


def test_enter_accepts_the_models_suggestion_and_uncertainty_orders_the_queue(cli, small, tmp_path):
    assert cli("train", small, "--cv-folds", "2", "--promote").exit_code == 0
    out = tmp_path / "a.jsonl"
    res = cli("annotate", TEST_SPLIT, "-o", out, "-a", "ana", "--order", "uncertainty", input="\n\nq")
    assert res.exit_code == 0, res.stderr
    first = _labels(out)
    preds = {p["id"]: p for p in map(json.loads, cli("classify", TEST_SPLIT, "--format", "jsonl").stdout.splitlines())}
    for lab in first:  # Enter saved exactly what the model suggested
        assert lab.stance == preds[lab.comment_id]["stance"]
        assert sorted(lab.themes) == sorted(preds[lab.comment_id]["themes"])
    from commentary.annotate import uncertainty

    ranked = sorted(preds.values(), key=lambda p: -uncertainty(p))
    assert [lab.comment_id for lab in first] == [p["id"] for p in ranked[:2]]


def test_a_file_from_another_codebook_is_refused(cli, tmp_path):
    out = tmp_path / "old.jsonl"
    out.write_text(json.dumps(Labels("x", "agree", [], annotator="ana", codebook_version="0.9").to_dict()) + "\n")
    res = cli("annotate", TEST_SPLIT, "-a", "ana", "-o", out, "--no-model", input="q")
    assert res.exit_code == 1 and "codebook 0.9" in res.stderr


SOCKET = f"commentary-test-{os.getpid()}"  # a tmux server of the test's own, never the user's


def _tmux(*args: str, check: bool = True) -> str:
    return subprocess.run(["tmux", "-L", SOCKET, "-f", "/dev/null", *args], capture_output=True, text=True,
                          check=check, timeout=30).stdout


def _start(session: str, cmd: str) -> None:
    """A detached session; a server that is still starting or stopping gets a second try."""
    for attempt in range(5):
        res = subprocess.run(["tmux", "-L", SOCKET, "-f", "/dev/null", "new-session", "-d", "-s", session,
                              "-x", "160", "-y", "50", cmd], capture_output=True, text=True, timeout=30)
        if res.returncode == 0:
            return
        time.sleep(0.5 * (attempt + 1))
    raise AssertionError(f"tmux new-session failed: {res.stderr}")


def _wait_for(session: str, text: str, timeout: float = 60) -> str:
    end = time.time() + timeout
    screen = ""
    while time.time() < end:
        screen = _tmux("capture-pane", "-p", "-t", session, check=False)
        if text in screen:
            return screen
        time.sleep(0.2)
    raise AssertionError(f"{text!r} never appeared; screen was:\n{screen}")


def test_annotate_in_a_real_terminal_through_tmux(tmp_path, home):
    if shutil.which("tmux") is None:
        if os.environ.get("COMMENTARY_REQUIRE_TEST_TOOLS"):
            pytest.fail("tmux is not installed but the test tools are required here")
        pytest.skip("tmux is not installed")
    out = tmp_path / "tty.jsonl"
    session = "first"
    cmd = (f"COMMENTARY_HOME={home} {sys.executable} -m commentary annotate {TEST_SPLIT} -a tia -o {out} "
           "--no-model; echo EXITED $?; sleep 30")
    _start(session, cmd)
    try:
        screen = _wait_for(session, "Stance:")
        assert "Article:" in screen and "comment p" in screen and f"0 of {N_TEST} labelled" in screen
        _tmux("send-keys", "-t", session, "a")  # single keys, no Enter: the terminal is in cbreak mode
        _wait_for(session, "Selected: agree")
        _tmux("send-keys", "-t", session, "2", "Enter")
        _wait_for(session, f"1 of {N_TEST} labelled")
        _tmux("send-keys", "-t", session, "n", "Enter")
        _wait_for(session, f"2 of {N_TEST} labelled")
        _tmux("send-keys", "-t", session, "d")
        _tmux("send-keys", "-t", session, "C-c")  # interrupted mid-comment: what was saved stays saved
        screen = _wait_for(session, "EXITED")
        assert "EXITED 130" in screen and "saved 2 labels" in screen
        book = load_codebook()
        assert [(g.stance, g.themes) for g in _labels(out)] == [("agree", [book.theme_ids[1]]), ("neutral", [])]
    finally:
        _tmux("kill-session", "-t", session, check=False)
    # and a new run picks up where that one stopped
    session = "second"
    _start(session, cmd)
    try:
        _wait_for(session, f"2 of {N_TEST} labelled")
        _tmux("send-keys", "-t", session, "q")
        _wait_for(session, "EXITED 0")
    finally:
        _tmux("kill-server", check=False)
