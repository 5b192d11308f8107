"""The HTML report: what the page holds, that it is self-contained and safe, and that a browser draws it."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from selectolax.lexbor import LexborHTMLParser as HTMLParser

from commentary.codebook import load_codebook
from commentary.dataset import read_dataset
from commentary.fitting import TrainConfig
from commentary.training import train_version

from conftest import REPO

ARTIFACTS = REPO / "build" / "test-artifacts"
STARTER_TEST = REPO / "data" / "starter" / "test"
N_TEST = len(read_dataset(STARTER_TEST).comments)


@pytest.fixture(scope="module")
def models(small, tmp_path_factory):
    root = tmp_path_factory.mktemp("rep") / "models"
    train_version(small, load_codebook(), TrainConfig(cv_folds=2), root)
    return root


@pytest.fixture(scope="module")
def page(models, tmp_path_factory):
    """The report on the starter test split (every comment of it)."""
    from typer.testing import CliRunner

    from commentary.cli import app

    out = tmp_path_factory.mktemp("page") / "report.html"
    res = CliRunner().invoke(app, ["report", str(STARTER_TEST), "-o", str(out), "--models-dir", str(models)],
                             catch_exceptions=False)
    assert res.exit_code == 0, res.stderr
    return out


def test_page_has_both_charts_examples_with_evidence_and_model_quality(page):
    tree = HTMLParser(page.read_text(encoding="utf-8"))
    book = load_codebook()
    stance = tree.css("svg#stance-chart g.bar")
    themes = tree.css("svg#theme-chart g.bar")
    assert [b.attributes["data-label"] for b in stance] == book.stance_ids
    assert sorted(b.attributes["data-label"] for b in themes) == sorted(book.theme_ids)
    assert sum(int(b.attributes["data-count"]) for b in stance) == N_TEST
    assert all(b.css_first("rect") is not None for b in stance + themes)
    examples = tree.css("blockquote.example")
    assert examples, "no example comments"
    for ex in examples:
        mark = ex.css_first("mark")
        assert mark is not None and mark.text().strip()
        assert mark.text() in ex.css_first("p").text()
    shown = {ex.attributes["data-label"] for ex in examples}
    assert len(shown & set(book.theme_ids)) >= 5
    rows = tree.css("table#by-article tbody tr")  # several articles: a row each, the biggest first
    assert len(rows) == len(read_dataset(STARTER_TEST).articles)
    counts = [int(r.css("td")[1].text().replace(",", "")) for r in rows]
    assert sum(counts) == N_TEST and counts == sorted(counts, reverse=True)
    quality = tree.css_first("section[aria-labelledby=model-h]").text()
    assert "commentary@v1" in quality and "cross-validation" in quality and "stance macro-F1" in quality


def test_page_is_self_contained_and_escapes_comment_text(cli, models, tmp_path):
    src = tmp_path / "comments.txt"
    src.write_text("Great piece <script>alert('x')</script> and <img src=http://evil.example/a.png> agreed.\n\n"
                   "Nobody listens to the nurses on the ward, and that is the problem.\n", encoding="utf-8")
    out = tmp_path / "r.html"
    res = cli("report", src, "-o", out, "--models-dir", models)
    assert res.exit_code == 0, res.stderr
    html = out.read_text(encoding="utf-8")
    tree = HTMLParser(html)
    assert tree.css("script") == [] and tree.css("img") == [] and tree.css("link") == []
    assert "&lt;script&gt;" in html
    assert "http" not in "".join(n.attributes.get("src") or "" for n in tree.css("[src]"))
    assert tree.css_first("title").text().startswith("Comments")


def test_bad_output_and_empty_input_write_nothing(cli, models, tmp_path):
    src = tmp_path / "c.txt"
    src.write_text("A comment.\n", encoding="utf-8")
    res = cli("report", src, "-o", tmp_path / "r.pdf", "--models-dir", models)
    assert res.exit_code == 1 and "*.html" in res.stderr
    existing = tmp_path / "r.html"
    existing.write_text("keep me", encoding="utf-8")
    res = cli("report", src, "-o", existing, "--models-dir", models)
    # a page of the user's: --force would not replace it either, so the refusal does not offer it
    assert res.exit_code == 1 and "--force" not in res.stderr and existing.read_text() == "keep me"
    assert "is not an HTML report that commentary wrote; choose another path" in res.stderr
    blank = tmp_path / "blank.txt"
    blank.write_text("\n\n   \n", encoding="utf-8")
    res = cli("report", blank, "-o", tmp_path / "new.html", "--models-dir", models)
    assert res.exit_code == 1 and not (tmp_path / "new.html").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["blank.txt", "c.txt", "r.html"]


def _chromium() -> str:
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe is None:
        if os.environ.get("COMMENTARY_REQUIRE_TEST_TOOLS"):
            pytest.fail("chromium is not installed but COMMENTARY_REQUIRE_TEST_TOOLS is set")
        pytest.skip("chromium is not installed (apt-get install chromium)")
    return exe


def _headless(exe: str, profile: Path, *args: str) -> subprocess.CompletedProcess:
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={profile}", "--hide-scrollbars"]
    return subprocess.run([exe, *flags, *args], capture_output=True, text=True, timeout=120)


def test_report_renders_in_headless_chromium_with_its_charts(page, tmp_path):
    import matplotlib.image as mpimg
    import numpy as np

    from commentary.report import STANCE_COLOURS, THEME_COLOUR

    exe = _chromium()
    url = page.resolve().as_uri()
    dom = _headless(exe, tmp_path / "p1", "--dump-dom", url)
    assert dom.returncode == 0, dom.stderr[-2000:]
    tree = HTMLParser(dom.stdout)
    assert len(tree.css("svg.chart")) == 2 and len(tree.css("svg.chart rect")) == 12
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = ARTIFACTS / "report-screenshot.png"
    shot.unlink(missing_ok=True)
    res = _headless(exe, tmp_path / "p2", "--window-size=1100,1600", f"--screenshot={shot}", url)
    assert res.returncode == 0 and shot.is_file(), res.stderr[-2000:]
    pixels = (mpimg.imread(shot)[..., :3] * 255).round().astype(int)
    assert pixels.shape[1] == 1100

    def painted(hex_colour: str) -> int:
        rgb = np.array([int(hex_colour[i:i + 2], 16) for i in (1, 3, 5)])
        return int((np.abs(pixels - rgb).max(axis=-1) <= 3).sum())

    # every stance bar and the theme bars are drawn in their colours, not just present in the markup
    for colour in STANCE_COLOURS.values():
        assert painted(colour) > 400, colour
    assert painted(THEME_COLOUR) > 5000


def test_examples_are_sure_short_and_point_at_the_words_that_carry_the_label():
    from commentary.report import CONTEXT_CHARS, _split_at

    long = "word " * 400 + "It's not telling us anything new. " + "more " * 400
    before, sentence, after = _split_at(long, "It's not telling us anything new.")
    assert sentence == "It's not telling us anything new."
    assert len(before) <= CONTEXT_CHARS + 2 and before.startswith("… ") and after.endswith(" …")

    from commentary.classify import Item, evidence

    class Model:  # scores sentences so that the model alone would pick the wrong one
        class decisions:
            stance_labels = ["agree", "disagree", "mixed", "neutral"]
            theme_labels = ["nothing_new"]

        def probabilities(self, inputs):
            import numpy as np

            n = len(inputs.texts)
            p = np.array([[0.9] if "years ago" in t else [0.3] for t in inputs.texts])
            return np.tile([[0.7, 0.1, 0.1, 0.1]], (n, 1)), p

    item = Item("c1", "I trained as a nurse forty years ago. It's not telling us anything new.", None)
    ev = evidence(Model(), item, {"stance": "agree", "themes": ["nothing_new"]})
    assert ev["nothing_new"] == "It's not telling us anything new."
