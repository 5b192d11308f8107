"""The plain-text copy of a blog page: title, article, comment blocks, end marker."""

from __future__ import annotations

import hashlib

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from commentary.ingest.pagetext import read_page_text
from commentary.ingest.source import Source, decode


def read(text: str):
    data = text.encode()
    src = Source("page.txt", data, hashlib.sha256(data).hexdigest())
    return read_page_text(src, decode(src))


def test_seed_page(seed_path):
    src = Source(str(seed_path), seed_path.read_bytes(), "x")
    result = read_page_text(src, decode(src))
    assert len(result.articles) == 1
    art = result.articles[0]
    assert art.title == "How can improving leadership help to transform the NHS?"
    assert "This content relates" not in art.text
    assert art.text.startswith("Leadership is the golden thread")
    assert art.text.endswith("cannot better be done at a local or regional level.")
    people = [(c.author, c.affiliation, c.date) for c in result.comments]
    assert people == [
        ("Clare Charlton", "PMO Support", "2014-05-22"),
        ("Taruna Chauhan", "healthcare business consultant, T Chauhan Consultancy Ltd", "2014-05-20"),
        ("Steve Turner", "Steve Turner Innovations CIC", "2014-05-19"),
    ]
    clare, taruna, steve = result.comments
    assert clare.text.startswith("Thanks for the blog")
    assert clare.text.endswith("not to be ignored like sometimes it feels.")
    assert taruna.text.endswith("which don't make sense at the coal face!")
    assert steve.text.startswith("I don't know how to say this")
    assert "- that we need to stop constantly re-orginaising" in steve.text
    assert steve.text.endswith("I'm glad to see the tide is turning.")
    assert "Add your comment" not in steve.text
    assert not result.warnings


PAGE = """Schools need more than tutoring money

By Alex Rowe
Published: 4 October 2021

Catch-up tutoring reached fewer pupils than planned.
It should be folded into school budgets.

Comments (3)

Jenny Adeyemi

Head teacher,
St Anne's Primary,
Leeds
Comment date
5 October 2021
We spent our allocation on our own staff, which worked far better.

A second paragraph here.

Mark Dunn
Comment date
October 6, 2021
Rubbish. Tutoring worked for my son.

Jenny Adeyemi

Head teacher
Comment date
2021-10-07
In reply to Mark Dunn
Glad it did, but he was one of the few who got it.

Leave a reply
Privacy policy
"""


def test_variants_multi_affiliation_no_affiliation_reply_and_date_styles():
    result = read(PAGE)
    art = result.articles[0]
    assert art.author == "Alex Rowe" and art.published == "2021-10-04"
    assert art.text == "Catch-up tutoring reached fewer pupils than planned.\nIt should be folded into school budgets."
    first, second, third = result.comments
    assert first.affiliation == "Head teacher, St Anne's Primary, Leeds"
    assert first.text.endswith("A second paragraph here.")
    assert (second.author, second.affiliation, second.date) == ("Mark Dunn", None, "2021-10-06")
    assert third.date == "2021-10-07" and third.parent_id == second.id
    assert third.text == "Glad it did, but he was one of the few who got it."
    assert "Privacy" not in third.text


def test_crlf_and_no_final_newline_give_the_same_records():
    plain = read(PAGE)
    crlf = read(PAGE.replace("\n", "\r\n").rstrip())
    assert [c.to_dict() | {"source_sha256": None} for c in plain.comments] == [
        c.to_dict() | {"source_sha256": None} for c in crlf.comments
    ]


def test_page_without_comments():
    result = read("A title\n\nSome article text.\n\nAnother paragraph.\n")
    assert result.comments == []
    assert result.articles[0].text == "Some article text.\n\nAnother paragraph."


def test_missing_year_is_not_invented_and_warns_with_line():
    page = "Title\n\nText.\n\nAnn Lee\nComment date\n12 May\nHello there.\n"
    result = read(page)
    assert result.comments[0].date is None
    assert result.comments[0].date_text == "12 May"
    assert any("line 7" in w and "12 May" in w for w in result.warnings)


def test_an_unreadable_date_is_named_once():
    result = read("Title\n\nText.\n\nAnn Lee\nComment date\nlast Tuesday\nHello there.\n")
    assert result.comments[0].date is None and result.comments[0].date_text == "last Tuesday"
    assert len([w for w in result.warnings if "line 7" in w]) == 1, result.warnings


def test_ambiguous_name_line_warns_with_line_number():
    page = (
        "Title\n\nText of the article.\n\nAnn Lee\n\nNurse, Ward 9\nComment date\n1 June 2020\n"
        "First comment.\n\nThanks all\n\nBob Ray\nComment date\n2 June 2020\nSecond.\n"
    )
    result = read(page)
    assert [c.author for c in result.comments] == ["Ann Lee", "Thanks all"]
    assert any("line 12" in w and "Thanks all" in w for w in result.warnings)


def test_same_input_gives_same_ids():
    assert [c.id for c in read(PAGE).comments] == [c.id for c in read(PAGE).comments]


names = st.builds(
    lambda first, last: f"{first} {last}",
    st.sampled_from(["Ann", "Bilal", "Chloe", "Dmitri", "Efua", "Gareth", "Hui", "Ines"]),
    st.sampled_from(["Okoro", "Smith", "Nakamura", "Price", "O'Neill", "Kaur", "Lund"]),
)
affiliations = st.lists(
    st.sampled_from(["Staff nurse,", "NHS trust in Kent", "Retired GP", "Carer", "Policy officer,",
                     "Citizens Advice"]), max_size=2)
sentences = st.lists(
    st.sampled_from(["I agree with most of this.", "Nobody asked the ward staff!",
                     "Where is the evidence for that?", "We tried this in 2012 and it failed.",
                     "Fund it properly or don't bother.", "Thanks for writing this."]),
    min_size=1, max_size=4,
).map(" ".join)
dates = st.dates(min_value=__import__("datetime").date(2000, 1, 1),
                 max_value=__import__("datetime").date(2030, 12, 31))
date_styles = st.sampled_from(["%d %B %Y", "%d/%m/%Y", "%B %d, %Y", "%Y-%m-%d", "%d %b %Y"])
comments = st.lists(st.tuples(names, affiliations, dates, date_styles, st.lists(sentences, min_size=1,
                                                                                  max_size=3)),
                    max_size=6)


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(comments, st.booleans(), st.booleans(), st.booleans())
def test_property_every_block_comes_back(blocks, blank_after_name, crlf, end_marker):
    parts = ["A policy blog title", "", "Paragraph one of the article.", "", "Paragraph two.", ""]
    for name, affil, date, style, paras in blocks:
        parts += [name] + ([""] if blank_after_name and affil else []) + affil
        parts += ["Comment date", date.strftime(style)]
        parts += "\n\n".join(paras).split("\n") + [""]
    if end_marker:
        parts.append("Add your comment")
    text = "\n".join(parts)
    result = read(text.replace("\n", "\r\n") if crlf else text)
    got = [(c.author, c.affiliation, c.date, c.text) for c in result.comments]
    want = [(n, " ".join(a).rstrip(",") or None, d.isoformat(), "\n\n".join(p))
            for n, a, d, _, p in blocks]
    assert got == want
    assert result.articles[0].text == "Paragraph one of the article.\n\nParagraph two."


COUNCIL_PAGE = """Bin collections to go fortnightly

The council will move to fortnightly bin collections from April.

4 Comments

Ann Lee
Comment date
12/03/2024
Bad idea, the bins already overflow.

Dave P.
Resident, Hartley ward
Comment date
12/03/2024
In reply to Ann Lee
Why? Wales does it fine.

Cara Moss
Comment date
13/03/2024
Good idea, saves money.

Sunita
Comment date
13/03/2024
In reply to Dave P.
Wales has a food waste collection every week, Dave.

Add your comment
"""


def test_a_reply_line_belongs_to_its_own_comment_and_a_name_may_end_in_an_initial():
    result = read(COUNCIL_PAGE)
    ann, dave, cara, sunita = result.comments
    assert [c.author for c in result.comments] == ["Ann Lee", "Dave P.", "Cara Moss", "Sunita"]
    assert dave.affiliation == "Resident, Hartley ward" and dave.text == "Why? Wales does it fine."
    assert ann.text == "Bad idea, the bins already overflow."  # not "... Dave P. / Resident, Hartley ward"
    # Dave's "In reply to Ann Lee" is his: Cara, the next commenter, replies to no one
    assert dave.parent_id == ann.id and cara.parent_id is None
    assert sunita.parent_id == dave.id  # "In reply to Dave P." finds "Dave P."
    assert result.warnings == []  # nor is the "4 Comments" heading taken for a name or a text


SIGNED_PAGE = """Food waste collections to move to fortnightly

The council will collect food waste every other week from April.

Dev Patel
Comment date
12/03/2024
Please reconsider; the bins already smell in summer.

Kind regards

John Smith
Like (3)
Reply \u2193

Margaret Hill
Comment date
13/03/2024
Nice idea but who pays?
\U0001F44D 5 \U0001F44E 1
Share
Show 2 more replies

Load more comments
"""


def test_a_comment_signed_off_with_a_name_and_the_buttons_after_it_stay_out_of_the_next_comment():
    result = read(SIGNED_PAGE)
    dev, margaret = result.comments
    assert [c.author for c in result.comments] == ["Dev Patel", "Margaret Hill"] and margaret.affiliation is None
    assert dev.text == "Please reconsider; the bins already smell in summer.\n\nKind regards\n\nJohn Smith"
    assert margaret.text == "Nice idea but who pays?"  # no thumbs, Share, "Show 2 more replies" or "Load more"
