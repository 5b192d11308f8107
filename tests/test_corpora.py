"""Real comment corpora from ../shared/corpora go through ingest as they are (skipped when absent)."""

from __future__ import annotations

import json

from commentary.dataset import read_dataset

from conftest import SEED, corpus


def ingest_jsonl(cli, *args):
    res = cli("ingest", *args, "-o", "-")
    assert res.exit_code == 0, res.stderr
    return [json.loads(line) for line in res.stdout.splitlines()], res.stderr


def test_sfu_globe_and_mail_comments_group_under_their_articles(cli):
    path = corpus("sfu_ctc") / "SFU_constructiveness_toxicity.csv"
    records, err = ingest_jsonl(cli, path)
    comments = [r for r in records if r["kind"] == "comment"]
    articles = [r for r in records if r["kind"] == "article"]
    assert len(comments) == 1121 and len(articles) == 13
    assert all(c["article_id"] in {a["id"] for a in articles} for c in comments)
    assert "is_constructive" in json.loads(comments[0]["meta"])


def test_nyt_room_for_debate_tsv_with_dates_and_time_zones(cli):
    path = corpus("nyt_rfd_stance_arct") / "exported-3365-stance-taking-arguments.tsv"
    records, err = ingest_jsonl(cli, path)
    comments = [r for r in records if r["kind"] == "comment"]
    assert len(comments) == 3365 and all(c["date"] for c in comments)
    assert "Warning" not in err  # CEST and CET are read without noise


def test_vast_finds_text_and_article_columns_by_name(cli):
    path = corpus("vast_nyt_stance") / "vast_dev_with_rfd_article.csv"
    records, err = ingest_jsonl(cli, path)
    assert "no column is named like comment text" not in err
    assert sum(r["kind"] == "article" for r in records) > 10


def test_reddit_pairs_in_cp1252_are_read_with_the_encoding_named(cli, tmp_path):
    path = corpus("subreddit_agreement") / "SubReddit-CovidVaccine.csv"
    res = cli("ingest", path, "--text-column", "response_text", "--article-column", "quote_text",
              "-o", tmp_path / "guessed")
    assert res.exit_code == 0, res.stderr
    assert "is not UTF-8" in res.stderr and "read it as cp1252" in res.stderr and "--encoding" in res.stderr
    res = cli("ingest", path, "--encoding", "cp1252", "--text-column", "response_text",
              "--article-column", "quote_text", "-o", tmp_path / "x")
    assert res.exit_code == 0 and "guess" not in res.stderr, res.stderr
    ds = read_dataset(tmp_path / "x")
    assert len(ds.comments) == 1400 and {json.loads(c.meta)["relation"] for c in ds.comments} == {"0", "1", "2"}
    # the guess reads exactly what the named encoding reads
    assert [c.text for c in read_dataset(tmp_path / "guessed").comments] == [c.text for c in ds.comments]


def test_seed_page_through_the_cli(cli, seed_path, tmp_path):
    res = cli("ingest", seed_path, "-o", tmp_path / "seed")
    assert res.exit_code == 0
    ds = read_dataset(tmp_path / "seed")
    assert len(ds.articles) == 1 and [c.date for c in ds.comments] == ["2014-05-22", "2014-05-20", "2014-05-19"]
    assert SEED.name in ds.manifest["inputs"][0]["path"]
