"""The starter corpus: valid labels, clean splits, no near-duplicates, and its stated targets."""

from __future__ import annotations

import itertools
import re
import statistics
from collections import Counter

import pytest

from commentary.codebook import load_codebook
from commentary.dataset import read_dataset

from conftest import REPO

STARTER = REPO / "data" / "starter"
SPLITS = ("train", "dev", "test")


@pytest.fixture(scope="module")
def corpus():
    data = {s: read_dataset(STARTER / s) for s in SPLITS}
    comments = [c for d in data.values() for c in d.comments]
    labels = {lab.comment_id: lab for d in data.values() for lab in d.labels}
    return data, comments, labels


def words(text):
    return len(text.split())


def test_every_comment_is_labelled_by_the_codebook(corpus):
    data, comments, labels = corpus
    book = load_codebook()
    assert set(labels) == {c.id for c in comments}
    for lab in labels.values():
        book.check(lab.stance, lab.themes, where=lab.comment_id)
        assert lab.codebook_version == book.version and lab.annotator


def test_splits_are_by_article_and_about_70_15_15(corpus):
    data, comments, _ = corpus
    art_sets = {s: {a.id for a in d.articles} for s, d in data.items()}
    for a, b in itertools.combinations(SPLITS, 2):
        assert not art_sets[a] & art_sets[b]
    for s, d in data.items():
        assert {c.article_id for c in d.comments} <= art_sets[s]
        ids = {c.id for c in d.comments}
        assert all(c.parent_id in ids for c in d.comments if c.parent_id)
    n = len(comments)
    shares = {s: len(d.comments) / n for s, d in data.items()}
    assert 0.62 <= shares["train"] <= 0.78
    assert 0.10 <= shares["dev"] <= 0.20 and 0.10 <= shares["test"] <= 0.20


def test_size_and_label_targets(corpus):
    data, comments, labels = corpus
    n = len(comments)
    assert sum(len(d.articles) for d in data.values()) >= 40
    assert n >= 800
    stance = Counter(lab.stance for lab in labels.values())
    assert min(stance.values()) >= 100 and len(stance) == 4
    assert stance["agree"] / n <= 0.45 and stance["disagree"] / n >= 0.25
    themes = Counter(t for lab in labels.values() for t in lab.themes)
    assert set(themes) == set(load_codebook().theme_ids) and min(themes.values()) >= 60
    assert sum(1 for lab in labels.values() if not lab.themes) / n >= 0.15
    assert sum(1 for c in comments if c.parent_id) / n >= 0.10


def test_every_article_has_comments_taking_different_positions(corpus):
    data, comments, labels = corpus
    by_article = {}
    for c in comments:
        by_article.setdefault(c.article_id, set()).add(labels[c.id].stance)
    assert all(len(s) >= 3 for s in by_article.values())


def test_lengths(corpus):
    data, comments, _ = corpus
    lengths = [words(c.text) for c in comments]
    n = len(lengths)
    assert 40 <= statistics.median(lengths) <= 80
    assert sum(x < 15 for x in lengths) / n >= 0.10
    assert sum(x > 120 for x in lengths) / n >= 0.10
    for d in data.values():
        for a in d.articles:
            assert 150 <= words(a.text) <= 450, a.id  # blog-post length (the seed article runs to about 600)


def test_no_near_duplicates(corpus):
    _, comments, _ = corpus
    grams = []
    for c in comments:
        w = re.findall(r"\w+", c.text.lower())
        grams.append((c.id, {tuple(w[i:i + 3]) for i in range(len(w) - 2)}))
    close = []
    for (a, ga), (b, gb) in itertools.combinations(grams, 2):
        if ga and gb and len(ga & gb) / len(ga | gb) >= 0.5:
            close.append((a, b))
    assert close == []


def test_datasheet_states_the_counts(corpus):
    sheet = (STARTER / "DATASHEET.md").read_text()
    _, comments, _ = corpus
    assert f"{len(comments):,}" in sheet or str(len(comments)) in sheet
    for heading in ("How it was written", "How it was labelled", "Agreement", "Known gaps", "Licence",
                    "The seed page"):
        assert heading in sheet
