"""HTML pages, WordPress and Disqus exports, and tables each come out as the same records."""

from __future__ import annotations

import json

import pytest

from commentary.ingest import ReadOptions, detect_format, ingest, read_source
from commentary.ingest.source import open_source

from conftest import FIXTURES


def by_author(result):
    return {c.author: c for c in result.comments}


def test_wordpress_classic_threads_moderation_and_pingbacks():
    result, info = read_source(str(FIXTURES / "wp_classic.html"), None, ReadOptions())
    assert info["format"] == "html"
    art = result.articles[0]
    assert art.title == "Why integrated care boards need clinical chairs"
    assert art.url == "https://healthpolicynotes.example.org/2022/06/icb-clinical-chairs/"
    assert art.published == "2022-06-08" and art.author == "Ruth Okafor"
    assert "fewer than one in five" in art.text and "Agree entirely" not in art.text
    people = by_author(result)
    # a comment awaiting moderation is left out, as WXR and Disqus leave theirs out, unless asked for
    assert set(people) == {"Dr Alan Pike", "Jo Whitfield"}
    alan, jo = people["Dr Alan Pike"], people["Jo Whitfield"]
    assert jo.parent_id == alan.id and alan.parent_id is None
    assert alan.text.endswith("\n\nThe job plan point matters most.")
    assert "Reply" not in alan.text and alan.date == "2022-06-09" and alan.source_id == "1021"
    assert result.skipped == {"pingback or trackback": 1, "pending comment": 1}
    kept, _ = read_source(str(FIXTURES / "wp_classic.html"), None, ReadOptions(include_unapproved=True))
    assert by_author(kept)["M. Ferreira"].status == "pending"


def test_wordpress_block_theme():
    result, _ = read_source(str(FIXTURES / "wp_block.html"), None, ReadOptions())
    tom, lucy = result.comments
    assert (tom.author, tom.date, lucy.author) == ("Tom Griggs", "2023-09-03", "Lucy Amwell")
    assert tom.text == "Our village lost its last bus in 2019.\nMy daughter now can’t get to college without me driving her."
    assert lucy.parent_id == tom.id
    assert result.articles[0].title == "Rural buses are a lifeline"


def test_drupal_indented_replies_and_timestamps():
    result, _ = read_source(str(FIXTURES / "drupal.html"), None, ReadOptions())
    gareth, sandra, anon = result.comments
    assert gareth.author == "Gareth Lewis" and gareth.date == "2023-03-15"
    assert sandra.author == "sandra_k" and sandra.parent_id == gareth.id
    assert anon.parent_id is None and anon.text == "Scrap it and use a land value tax."
    assert "1991 valuations" in result.articles[0].text
    assert "Revaluation is long overdue" not in result.articles[0].text


def test_schema_org_json_ld_nested_comments():
    result, _ = read_source(str(FIXTURES / "jsonld.html"), None, ReadOptions())
    beth, sunil, karen = result.comments
    assert result.articles[0].author == "Imran Qureshi"
    assert sunil.parent_id == beth.id and karen.parent_id is None
    assert sunil.author == "Sunil" and beth.date == "2024-01-18"
    assert karen.text == "Readmissions are the wrong measure too.\n\nAsk patients."


def test_schema_org_microdata_nested_comments():
    result, _ = read_source(str(FIXTURES / "microdata.html"), None, ReadOptions())
    angela, mills = result.comments
    assert angela.author == "Angela Boyd" and mills.author == "R. Mills"
    assert mills.parent_id == angela.id and angela.date == "2023-05-02"
    assert "Paying for the children" not in angela.text


def test_wxr_parents_status_and_pingbacks():
    result, info = read_source(str(FIXTURES / "wxr.xml"), None, ReadOptions())
    assert info["format"] == "wxr"
    assert [a.title for a in result.articles] == ["A cap on care costs is not enough"]
    neil, asha = result.comments
    assert asha.parent_id == neil.id and neil.date == "2021-09-11"
    assert result.skipped == {"attachment item": 1, "spam comment": 1, "pingback or trackback": 1,
                              "pending comment": 1}
    kept, _ = read_source(str(FIXTURES / "wxr.xml"), None,
                          ReadOptions(include_pingbacks=True, include_unapproved=True))
    assert sorted(c.status for c in kept.comments) == ["approved"] * 3 + ["pending", "spam"]


def test_an_export_body_without_tags_has_its_entities_decoded(tmp_path):
    wxr = (FIXTURES / "wxr.xml").read_text(encoding="utf-8").replace(
        "Sorry to hear that, Neil. Did the council reassess her?", "Fewer cars &amp; cleaner air &#8211; at last.")
    path = tmp_path / "export.xml"
    path.write_text(wxr, encoding="utf-8")
    result, _ = read_source(str(path), None, ReadOptions())
    assert result.comments[1].text == "Fewer cars & cleaner air \u2013 at last."  # as it was with <p> round it


def test_disqus_threads_parents_and_flags():
    result, info = read_source(str(FIXTURES / "disqus.xml"), None, ReadOptions())
    assert info["format"] == "disqus"
    kofi, anna = result.comments
    assert anna.parent_id == kofi.id and kofi.author == "Kofi Mensah"
    assert kofi.text == "Tell that to Berlin. Or maybe don't."
    assert result.articles[0].url == "https://housingblog.example.org/rent-controls"
    assert result.skipped == {"deleted post": 1, "spam post": 1}


CSV = """comment_id,article_url,article_title,user,created_at,in_reply_to,body,likes
1,https://x.example/a,Bus cuts,Ann,2023-01-02 10:00,,"Cut the bus, cut the town.",3
2,https://x.example/a,Bus cuts,Ben,03/01/2023,1,"Not in my town, ours got a new route.",0
3,https://x.example/b,Rent caps,Cal,1672790400,,"Caps, now!",
4,https://x.example/b,Rent caps,Dee,,,,
"""


def test_csv_column_detection_threads_dates_and_extra_columns(tmp_path):
    path = tmp_path / "comments.csv"
    path.write_text(CSV)
    result, _ = read_source(str(path), None, ReadOptions())
    ann, ben, cal = result.comments
    assert ben.parent_id == ann.id and ann.article_id == ben.article_id != cal.article_id
    assert (ann.date, ben.date, cal.date) == ("2023-01-02", "2023-01-03", "2023-01-04")
    assert json.loads(ann.meta) == {"likes": "3"}
    assert {a.title for a in result.articles} == {"Bus cuts", "Rent caps"}
    assert result.skipped == {"row with no text": 1}
    tsv = tmp_path / "comments.tsv"
    tsv.write_text(CSV.replace(",", "\t").replace('"', ""))
    assert detect_format(open_source(str(tsv))) == "tsv"


def test_column_options_and_the_error_that_names_the_columns(tmp_path, cli):
    path = tmp_path / "c.csv"
    path.write_text("note,tag\nThis is the comment text itself,x\n")
    result, _ = read_source(str(path), None, ReadOptions())
    assert result.comments[0].text == "This is the comment text itself"
    assert any("using 'note'" in w for w in result.warnings)
    res = cli("ingest", path, "-o", tmp_path / "out", "--text-column", "body")
    assert res.exit_code == 1
    assert "c.csv has no column 'body' (found 'note', 'tag'); pass --text-column" in res.stderr


def test_jsonl_parquet_and_hf_saved_dataset_agree(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = [{"id": "r1", "text": "The council never listens.", "author": "Eve", "thread": "t1",
             "parent": None},
            {"id": "r2", "text": "It listened to us about the library.", "author": "Fay",
             "thread": "t1", "parent": "r1"}]
    jl = tmp_path / "c.jsonl"
    jl.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    pqf = tmp_path / "c.parquet"
    pq.write_table(pa.Table.from_pylist(rows), pqf)
    datasets = pytest.importorskip("datasets")
    saved = tmp_path / "saved"
    datasets.Dataset.from_list(rows).save_to_disk(str(saved))
    outs = [read_source(str(p), None, ReadOptions())[0] for p in (jl, pqf, saved)]
    outs.append(read_source(str(jl), "hf", ReadOptions())[0])
    shapes = [[(c.id, c.text, c.author, c.parent_id, c.article_id) for c in r.comments] for r in outs]
    assert shapes[0] == shapes[1] == shapes[2] == shapes[3]
    assert shapes[0][1][3] == shapes[0][0][0]


def test_same_input_twice_gives_same_ids_and_hash(tmp_path, cli):
    for out in ("one", "two"):
        assert cli("ingest", FIXTURES / "wp_classic.html", FIXTURES / "disqus.xml",
                   "-o", tmp_path / out).exit_code == 0
    one, two = (json.loads((tmp_path / o / "manifest.json").read_text()) for o in ("one", "two"))
    assert one["content_sha256"] == two["content_sha256"]
    assert one["files"] == two["files"]


def test_pseudonymise_is_stable_and_keyed(tmp_path, monkeypatch):
    monkeypatch.setenv("COMMENTARY_PSEUDONYM_KEY", "k1")
    a = ingest([str(FIXTURES / "disqus.xml")], pseudonymise_authors=True)
    b = ingest([str(FIXTURES / "disqus.xml")], pseudonymise_authors=True)
    assert [c.author for c in a.comments] == [c.author for c in b.comments]
    assert all(c.author.startswith("author_") for c in a.comments)
    monkeypatch.setenv("COMMENTARY_PSEUDONYM_KEY", "k2")
    c = ingest([str(FIXTURES / "disqus.xml")], pseudonymise_authors=True)
    assert [x.author for x in c.comments] != [x.author for x in a.comments]


def test_a_wordpress_comments_table_reads_with_its_own_column_names(tmp_path):
    sheet = tmp_path / "wp_comments.csv"
    sheet.write_text(
        "comment_ID,comment_post_ID,comment_author,comment_author_email,comment_author_url,comment_date,"
        "comment_content,comment_approved,comment_parent,post_title\n"
        "11,5,Ann,ann@example.com,https://ann.example,2024-06-01 10:00:00,Cutting library hours hurts students,1,0,"
        "Library hours cut\n"
        "12,5,Bob,bob@example.com,https://bob.example,2024-06-01 11:00:00,Agreed with Ann on this,1,11,"
        "Library hours cut\n"
        "13,5,Casino,spam@example.com,https://casino.example,2024-06-01 12:00:00,Win big at our casino today,spam,0,"
        "Library hours cut\n"
        "14,7,Dan,dan@example.com,https://ann.example,2024-06-02 09:00:00,Parks need the money more than ever,1,0,"
        "Parks funding\n")
    res = ingest([str(sheet)])
    by = {c.source_id: c for c in res.comments}
    assert sorted(by) == ["11", "12", "14"] and res.skipped == {"spam comment": 1}
    assert [by[k].author for k in ("11", "12", "14")] == ["Ann", "Bob", "Dan"]
    assert by["12"].parent_id == by["11"].id and by["11"].parent_id is None
    titles = {a.id: a.title for a in res.articles}
    assert sorted(titles.values()) == ["Library hours cut", "Parks funding"]
    assert titles[by["14"].article_id] == "Parks funding" and by["11"].article_id == by["12"].article_id
    assert all(a.url is None for a in res.articles)  # a commenter's homepage is not the article
    kept = ingest([str(sheet)], options=ReadOptions(include_unapproved=True))
    assert [c.status for c in kept.comments] == ["approved", "approved", "spam", "approved"]
    # a reply to a row left out stays, as a comment of its own, and the reader says so
    sheet.write_text(sheet.read_text() + "15,5,Eve,eve@example.com,,2024-06-01 13:00:00,Do not click that,1,13,"
                                          "Library hours cut\n")
    res = ingest([str(sheet)])
    eve = next(c for c in res.comments if c.author == "Eve")
    assert eve.parent_id is None and any("1 reply answer a comment that was skipped" in w for w in res.warnings)


def test_excels_sep_line_names_the_delimiter(tmp_path):
    sheet = tmp_path / "excel.csv"
    sheet.write_text("sep=;\nID;Name;Comment\n1;Ann;Great piece, really\n2;Bob;No way\n")
    res = ingest([str(sheet)])
    assert [(c.author, c.text) for c in res.comments] == [("Ann", "Great piece, really"), ("Bob", "No way")]


def test_a_comment_column_wins_over_an_article_body(tmp_path):
    sheet = tmp_path / "t.csv"
    sheet.write_text("Title,Body,Comment,avatar_url\nArticle A,The article body text,This is the comment,"
                     "https://cdn.example/a.png\nArticle A,The article body text,A second comment,"
                     "https://cdn.example/b.png\n")
    res = ingest([str(sheet)])
    assert [c.text for c in res.comments] == ["This is the comment", "A second comment"]
    assert len(res.articles) == 1 and res.articles[0].title == "Article A"


def test_replies_nested_in_json_are_comments_with_their_parent(tmp_path):
    thread = tmp_path / "thread.json"
    thread.write_text(json.dumps({
        "article": {"title": "Library hours cut", "url": "https://news.example/lib", "text": "The council cuts hours."},
        "comments": [
            {"id": "1", "author": "Ann", "body": "Cutting hours hurts students",
             "replies": [{"id": "2", "author": "Bob", "body": "Agreed, exam season too",
                          "replies": [{"author": "Cy", "body": "And the heating is off"}]}]},
            {"author": "Dee", "body": "Open on Sundays instead", "children": [{"author": "Eve", "body": "Yes please"}]},
        ]}))
    res = ingest([str(thread)])
    by = {c.author: c for c in res.comments}
    assert [c.author for c in res.comments] == ["Ann", "Bob", "Cy", "Dee", "Eve"]
    assert by["Bob"].parent_id == by["Ann"].id and by["Cy"].parent_id == by["Bob"].id
    assert by["Eve"].parent_id == by["Dee"].id and by["Ann"].parent_id is None and by["Dee"].parent_id is None
    assert len(res.articles) == 1 and res.articles[0].title == "Library hours cut"
    assert res.articles[0].text == "The council cuts hours." and {c.article_id for c in res.comments} == {res.articles[0].id}
    assert all(c.meta is None for c in res.comments)  # no reply left behind as JSON text


def test_pseudonymise_drops_the_columns_that_identify_people(tmp_path, monkeypatch):
    monkeypatch.setenv("COMMENTARY_PSEUDONYM_KEY", "k1")
    sheet = tmp_path / "export.csv"
    sheet.write_text("Author,Author Email,Author IP,Comment,Likes,Contact,Region\n"
                     "Jane Doe,jane@example.com,81.2.69.160,Great piece on ward rounds,12,https://janedoe.example,North\n"
                     "Sam Roe,sam@example.org,2001:db8::1,The rota was never the problem,3,www.samroe.example,South\n")
    res = ingest([str(sheet)], pseudonymise_authors=True)
    assert [json.loads(c.meta) for c in res.comments] == [{"Likes": "12", "Region": "North"},
                                                         {"Likes": "3", "Region": "South"}]
    assert all("example" not in json.dumps(c.to_dict()) and "Jane" not in json.dumps(c.to_dict())
               for c in res.comments)
    assert any("dropped 3 source columns that identify people (Author Email, Author IP, Contact)" in w
               for w in res.warnings), res.warnings
    kept = ingest([str(sheet)])  # without --pseudonymise the columns stay, as the user gave them
    assert json.loads(kept.comments[0].meta)["Author Email"] == "jane@example.com"


def test_hub_style_dataset_repository_loads_through_the_hub_code_path(tmp_path, cli):
    """hf:NAME and a local copy of a hub repository go through the same load_dataset call."""
    pytest.importorskip("datasets")
    repo = tmp_path / "council-comments"
    (repo / "data").mkdir(parents=True)
    rows = [{"comment_id": "1", "body": "Close the library and we lose the only warm room in town."},
            {"comment_id": "2", "body": "The council did consult, twice.", "in_reply_to": "1"}]
    (repo / "data" / "train.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    res = cli("ingest", repo, "-o", "-")
    assert res.exit_code == 0, res.stderr
    comments = [json.loads(line) for line in res.stdout.splitlines()]
    assert [c["text"] for c in comments] == [r["body"] for r in rows]
    assert comments[1]["parent_id"] == comments[0]["id"]
    res = cli("ingest", "hf:no-such-owner/no-such-dataset-xyz", "-o", "-")
    assert res.exit_code == 1 and "could not load the dataset 'no-such-owner/no-such-dataset-xyz'" in res.stderr
