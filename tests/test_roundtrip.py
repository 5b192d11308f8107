"""Property: comments written to CSV or JSON Lines come back from ingest unchanged."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from commentary.ingest import ReadOptions
from commentary.ingest.source import Source, decode
from commentary.ingest.tabular import read_csv, read_jsonl

text = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\u2028\u2029\x85"),
    min_size=1, max_size=200,
).map(lambda s: " ".join(s.split())).filter(bool)
rows = st.lists(
    st.fixed_dictionaries({
        "author": st.one_of(st.none(), st.from_regex(r"[A-Za-z][A-Za-z .'-]{0,20}[A-Za-z]", fullmatch=True)),
        "date": st.one_of(st.none(), st.dates(dt.date(1990, 1, 1), dt.date(2035, 12, 31))),
        "text": text,
        "reply_to": st.one_of(st.none(), st.integers(0, 30)),
    }),
    min_size=1, max_size=25,
)


def table(generated):
    out = []
    for i, r in enumerate(generated):
        parent = r["reply_to"] if r["reply_to"] is not None and r["reply_to"] < i else None
        out.append({"comment_id": f"k{i}", "thread": "t1", "author": r["author"] or "",
                    "created_at": r["date"].isoformat() if r["date"] else "",
                    "body": r["text"], "parent_id": f"k{parent}" if parent is not None else ""})
    return out


def source(name, data: str):
    raw = data.encode()
    src = Source(name, raw, hashlib.sha256(raw).hexdigest())
    return src, decode(src)


def shape(result):
    ids = {c.id: k for k, c in enumerate(result.comments)}
    return [(c.text, c.author, c.date, ids.get(c.parent_id)) for c in result.comments]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows)
def test_csv_and_jsonl_round_trip(generated):
    records = table(generated)
    want = [(r["body"], r["author"] or None, r["created_at"] or None,
             int(r["parent_id"][1:]) if r["parent_id"] else None) for r in records]
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(records[0]))
    writer.writeheader()
    writer.writerows(records)
    got_csv = shape(read_csv(*source("c.csv", buf.getvalue()), ReadOptions(), ","))
    lines = "\n".join(json.dumps({k: (v or None) for k, v in r.items()}) for r in records)
    got_jsonl = shape(read_jsonl(*source("c.jsonl", lines), ReadOptions()))
    assert got_csv == want
    assert got_jsonl == want
