"""Draw the real evaluation and training samples and write them as labelling chunks.

    python scripts/draw_real.py OUT_FOLDER

Reads the corpora in place (../shared/corpora) and writes, outside the project
(the text of most sources may not be copied into it), one JSON Lines file and one
Markdown page per chunk for annotators. The seeds below fixed the samples in
data/real; rerunning gives the same ids.
"""
import json
import random
import sys
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
C = ROOT.parent / "shared" / "corpora"
OUT = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("labelling")
rng = random.Random(20261202)


def words(s):
    return len(str(s).split())


def write(name, rows):
    p = OUT / "chunks" / f"{name}.jsonl"
    p.parent.mkdir(parents=True, exist_ok=True)
    with p.open("w") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    md = OUT / "chunks" / f"{name}.md"
    with md.open("w") as f:
        for i, r in enumerate(rows, 1):
            f.write(f"---\n## {i}. id: {r['id']}\n")
            if r.get("article_title"):
                f.write(f"ARTICLE TITLE: {r['article_title']}\n")
            if r.get("article_context"):
                f.write(f"ARTICLE CONTEXT: {r['article_context']}\n")
            if r.get("parent"):
                f.write(f"THE COMMENT IT ANSWERS (treat as the 'article'): {r['parent']}\n")
            f.write(f"COMMENT: {r['text']}\n")
    print(name, len(rows))


# --- RfD: split debates into dev (40) and train (rest)
d = pd.read_csv(C / "nyt_rfd_stance_arct/exported-3365-stance-taking-arguments.tsv", sep="\t", quoting=3)
OUT.mkdir(parents=True, exist_ok=True)
titles = sorted(d.title.unique())
rng.shuffle(titles)
dev_titles = set(titles[:40])
(OUT / "rfd_split.json").write_text(json.dumps({"dev": sorted(dev_titles), "train": sorted(set(titles) - dev_titles)}, indent=1))

# articles to judge for side
arts = d.groupby("title").first().reset_index()
art_rows = [
    {"title": r.title, "question": r.description, "side_1": r.stance1, "side_2": r.stance2}
    for r in arts.itertuples()
]
(OUT / "chunks").mkdir(parents=True, exist_ok=True)
with (OUT / "chunks/rfd_articles.jsonl").open("w") as f:
    for r in art_rows:
        f.write(json.dumps(r, ensure_ascii=False) + "\n")


THESIS = {json.loads(line)["title"]: json.loads(line) for line in open(ROOT / "data/real/rfd_articles.jsonl")}


def rfd_row(r):
    t = THESIS[r.title]
    thesis = t["side_1"] if t["thesis_side"] == 1 else t["side_2"]
    return {"id": f"rfd-{r.id}", "source": "nyt_rfd", "article_title": r.title,
            "article_context": f"Room for Debate question: {r.description}\nARTICLE THESIS: {thesis}", "text": r.text}


dev = d[d.title.isin(dev_titles)]
dev_rows = []
for _title, g in dev.groupby("title"):
    g = g.sample(n=min(6, len(g)), random_state=7)
    dev_rows += [rfd_row(r) for r in g.itertuples()]
rng.shuffle(dev_rows)
write("dev_rfd", dev_rows[:200])

train = d[~d.title.isin(dev_titles)].sample(frac=1.0, random_state=11)
all_train_rows = [rfd_row(r) for r in train.itertuples()]
train_rows = all_train_rows[:2000]
for i in range(8):
    write(f"train_rfd_{i + 1}", train_rows[i * 250:(i + 1) * 250])
sample = rng.sample(train_rows, 200)
write("train_rfd_sample", sample)

# --- Reddit pairs, quote >= 40 words, stratified by relation
reddit = []
for f, tag in [("SubReddit-CovidVaccine.csv", "covid"), ("SubReddit-MaskMandate.csv", "mask")]:
    r = pd.read_csv(C / "subreddit_agreement" / f, encoding="cp1252")
    r["id"] = [f"reddit-{tag}-{i}" for i in range(len(r))]
    r = r[r.quote_text.map(words) >= 40]
    reddit.append(r)
reddit = pd.concat(reddit)
picked = pd.concat([g.sample(n=50, random_state=3) for _, g in reddit.groupby("relation")]).sample(frac=1, random_state=4)
write("dev_reddit", [{"id": r.id, "source": "reddit", "parent": r.quote_text, "text": r.response_text} for r in picked.itertuples()])

# --- SFU (Globe and Mail), comments of 5+ words
s = pd.read_csv(C / "sfu_ctc/SFU_constructiveness_toxicity.csv", encoding_errors="replace")
s = s[s.comment.map(words) >= 5].sample(n=150, random_state=5)
write("dev_sfu", [{"id": f"sfu-{r['_unit_id']}", "source": "sfu_globe", "article_title": r["title"].replace(" - The Globe and Mail", ""),
                   "text": r["comment"]} for _, r in s.iterrows()])

# --- NHS feedback, 12+ words; themes only
n = pd.read_csv(C / "pxtextmining_nhs/v6framework_230831.csv")
n = n[n["FFT answer"].map(words) >= 12].sample(n=100, random_state=6)
write("dev_nhs", [{"id": f"nhs-{r['Comment ID']}", "source": "nhs_feedback",
                   "article_context": f"(Patient feedback form, no article. Question asked: {r['FFT question']})",
                   "text": r["FFT answer"]} for _, r in n.iterrows()])

# --- Reddit, second draw (2026-12-02): 50 more pairs with a quote of 40+ words, none drawn
# before, so that 200 evaluation comments come with 40+ words of the text they answer.
first = set(picked.id)
rest = reddit[~reddit.id.isin(first)]
more = pd.concat([g.sample(n=n, random_state=8) for (_, g), n in zip(rest.groupby("relation"), [17, 17, 16])]) \
    .sample(frac=1, random_state=9)
write("dev_reddit2", [{"id": r.id, "source": "reddit", "parent": r.quote_text, "text": r.response_text}
                      for r in more.itertuples()])

# --- RfD, second training draw (2026-12-03): every comment of the 145 training debates that the
# first 2,000 left out (481), in the same shuffled order, for two blind passes each (train_rfd_9..12).
rest_rows = all_train_rows[2000:]
size = -(-len(rest_rows) // 4)
for i in range(4):
    write(f"train_rfd_{i + 9}", rest_rows[i * size:(i + 1) * size])
