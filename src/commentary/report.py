"""The report stage: one self-contained HTML page about an article's comments.

Scores the comments as ``classify`` does, keeping only counts and the few best
examples per label, so memory stays flat on long inputs. The page has no
scripts and no external assets: charts are inline SVG drawn from the counts,
so it opens the same offline, in a mail attachment or in a browser's print view.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .classify import Item, Summary, evidence, score

__all__ = ["ReportData", "Example", "collect", "render_html", "STANCE_COLOURS", "THEME_COLOUR"]

# Colour-blind-safe palette (Okabe-Ito), one colour per stance.
STANCE_COLOURS = {"agree": "#009e73", "disagree": "#d55e00", "mixed": "#e69f00", "neutral": "#7f7f7f"}
THEME_COLOUR = "#0072b2"
_OTHER_COLOURS = ["#56b4e9", "#cc79a7", "#f0e442", "#000000"]


@dataclass
class Example:
    """A comment shown as an example of a label, split around its evidence sentence."""

    author: str | None
    probability: float
    before: str
    evidence: str
    after: str


@dataclass
class ReportData:
    """Everything the page shows; built by :func:`collect`, rendered by :func:`render_html`."""

    model_ref: str
    summary: Summary
    articles: dict[str, str] = field(default_factory=dict)
    examples: dict[str, list[Example]] = field(default_factory=dict)
    quality: dict[str, Any] = field(default_factory=dict)
    descriptions: dict[str, str] = field(default_factory=dict)
    created: str = ""
    per_article: dict[str, dict[str, int]] = field(default_factory=dict)  # article id -> stance counts


CONTEXT_CHARS = 240  # of the comment on each side of its evidence sentence; the rest is elided
SURE = 0.5  # an example is shown as one of the surest only at or above this probability


def _split_at(text: str, sentence: str) -> tuple[str, str, str]:
    """The comment around its evidence sentence, at most CONTEXT_CHARS either side (cut at a word),
    so a long comment shown under several labels does not fill the page each time."""
    at = text.find(sentence)
    if at < 0:
        before, sentence, after = "", text, ""
    else:
        before, after = text[:at], text[at + len(sentence):]
    if len(before) > CONTEXT_CHARS:
        cut = before[-CONTEXT_CHARS:]
        before = "… " + cut[cut.find(" ") + 1:] if " " in cut else "… " + cut
    if len(after) > CONTEXT_CHARS:
        cut = after[:CONTEXT_CHARS]
        after = (cut[:cut.rfind(" ")] if " " in cut else cut) + " …"
    if len(sentence) > 4 * CONTEXT_CHARS:
        sentence = sentence[:4 * CONTEXT_CHARS].rsplit(" ", 1)[0] + " …"
    return before, sentence, after


def collect(model, items: Iterable[Item], *, model_ref: str, per_label: int = 3,
            titles: dict[str, str] | None = None, progress=None) -> ReportData:
    """Score *items* and keep the counts and the *per_label* most confident examples of each label."""
    dec = model.decisions
    summary = Summary(dec.stance_labels, dec.theme_labels)
    best: dict[str, list[tuple[float, int, Item, dict]]] = {}
    articles: dict[str, str] = dict(titles or {})
    per_article: dict[str, dict[str, int]] = {}
    for n, pred in enumerate(score(model, _remember(items, articles), model_ref=model_ref, with_items=True,
                                     progress=progress)):
        summary.add(pred)
        item = pred.pop("_item")
        if item.article_id:
            counts = per_article.setdefault(item.article_id, {})
            counts[pred["stance"]] = counts.get(pred["stance"], 0) + 1
        picks = [(pred["stance"], pred["stance_probs"][pred["stance"]])] if not pred["abstain"] else []
        picks += [(t, pred["theme_probs"][t]) for t in pred["themes"]]
        picks = [(label, p) for label, p in picks if p >= SURE]  # "surest" means sure: never one at 0.18
        for label, p in picks:
            heap = best.setdefault(label, [])
            entry = (p, -n, item, pred)
            if len(heap) < per_label:
                heapq.heappush(heap, entry)
            else:
                heapq.heappushpop(heap, entry)
    examples: dict[str, list[Example]] = {}
    for label, heap in best.items():
        for p, _, item, pred in sorted(heap, key=lambda e: (-e[0], -e[1])):
            sentence = evidence(model, item, pred).get(label, item.text)
            examples.setdefault(label, []).append(Example(item.author, p, *_split_at(item.text, sentence)))
    return ReportData(model_ref=model_ref, summary=summary, articles=articles, examples=examples,
                      per_article=per_article,
                      created=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"))


def _remember(items: Iterable[Item], articles: dict[str, str]):
    """Pass items through, noting each article's title (its first line) on the way."""
    for item in items:
        if item.article_id and item.article_id not in articles:
            articles[item.article_id] = (item.article or item.article_id).strip().split("\n", 1)[0][:200]
        yield item


def _bars(rows: list[tuple[str, int, float, float, float]], colours: dict[str, str], label: str) -> dict:
    """Geometry for a horizontal bar chart with 95% interval whiskers (shares 0..1)."""
    left, width, step = 170, 420, 34
    bars = []
    for i, (name, k, share, lo, hi) in enumerate(rows):
        y = 12 + i * step
        bars.append({"name": name, "count": k, "share": share, "lo": lo, "hi": hi, "y": y,
                     "w": max(share * width, 1.0 if k else 0.0), "x_lo": left + lo * width,
                     "x_hi": left + hi * width, "colour": colours.get(name, THEME_COLOUR)})
    return {"label": label, "left": left, "width": width, "height": 24 + len(rows) * step, "bars": bars,
            "ticks": [{"x": left + f * width, "text": f"{f:.0%}"} for f in (0, 0.25, 0.5, 0.75, 1.0)]}


def is_report_file(path: Path) -> bool:
    """Whether *path* is an HTML report that ``report`` wrote (by its generator tag)."""
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            return '<meta name="generator" content="commentary ' in fh.read(4096)
    except OSError:
        return False


def render_html(data: ReportData) -> str:
    """The page as one string of HTML with inline CSS and SVG."""
    from jinja2 import Environment, PackageLoader, select_autoescape

    env = Environment(loader=PackageLoader("commentary", "templates"),
                      autoescape=select_autoescape(default=True, default_for_string=True))
    env.filters["pct"] = lambda v: f"{v:.0%}"
    env.filters["f3"] = lambda v: "—" if v is None else f"{v:.3f}"
    s = data.summary
    rows = s.rows()
    stance_rows = [(name.split(":", 1)[1], *rest) for name, *rest in rows if name.startswith("stance:")]
    theme_rows = [(name.split(":", 1)[1], *rest) for name, *rest in rows if name.startswith("theme:")]
    theme_rows.sort(key=lambda r: -r[1])
    colours = dict(STANCE_COLOURS)
    for extra, colour in zip([r[0] for r in stance_rows if r[0] not in colours], _OTHER_COLOURS):
        colours[extra] = colour
    titles = list(data.articles.values())
    heading = titles[0] if len(titles) == 1 else (f"Comments on {len(titles)} articles" if titles else "Comments")
    totals = {aid: sum(c.values()) for aid, c in data.per_article.items()}
    by_article = [{"title": data.articles.get(aid, aid), "n": totals[aid],
                   "shares": {s_: c.get(s_, 0) / totals[aid] for s_, *_ in stance_rows}}
                  for aid, c in sorted(data.per_article.items(), key=lambda kv: -totals[kv[0]])]
    return env.get_template("report.html.j2").render(by_article=by_article if len(by_article) > 1 else [],
        heading=heading, titles=titles, data=data, n=s.n,
        stance_chart=_bars(stance_rows, colours, "Stance toward the article"),
        theme_chart=_bars(theme_rows, {}, "Share of comments raising each theme"),
        stance_rows=stance_rows, theme_rows=theme_rows, colours=colours,
        theme_order=[r[0] for r in theme_rows], stance_order=[r[0] for r in stance_rows])


def model_quality(manifest: dict[str, Any], metrics: dict[str, Any]) -> dict[str, Any]:
    """What the page says about the model: its make and the scores saved with it."""
    rows = []
    cv = metrics.get("cv")
    if cv:
        rows.append({"name": f"cross-validation on its training data ({cv.get('folds', '?')} folds)",
                     "n": metrics.get("n_train", ""), "stance": cv["stance"]["macro_f1"],
                     "themes": cv.get("themes", {}).get("macro_f1")})
    held = metrics.get("heldout")
    if held:
        from pathlib import Path

        source = Path(str(held.get("source", "data"))).name  # a folder name: the page leaves this machine
        rows.append({"name": f"held-out {source}", "n": held.get("n", ""),
                     "stance": held["stance"]["macro_f1"], "themes": held.get("themes", {}).get("macro_f1")})
    return {"backend": manifest.get("backend"), "base_model": manifest.get("base_model"),
            "codebook": manifest.get("codebook", {}).get("version"), "rows": rows}
