"""Labels from a language model behind any OpenAI-compatible chat-completions endpoint.

OpenAI, Azure OpenAI, vLLM, llama.cpp's server and Ollama all speak it. Each comment is
sent with the codebook (definitions, what counts and what does not), the article's title
and text cut to a budget (its beginning and its conclusion kept), and the comment it
replies to; the answer must be one JSON object with the codebook's labels and the
sentence that carries each. Answers are checked strictly, repaired once by asking again,
and cached on disk by (endpoint model, prompt version, codebook version, text hash), so a
rerun or a resumed run costs nothing. A comment that still fails is reported and left
unlabelled, never guessed.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..codebook import Codebook
from ..errors import CommentaryError, UsageError
from ..records import Labels

__all__ = ["Endpoint", "LlmRun", "build_messages", "parse_answer", "answer_schema", "llm_items", "label_with_llm",
           "PROMPT_VERSION", "ANSWER_FORMATS"]

PROMPT_VERSION = "llm-1"
ARTICLE_BUDGET = 6000  # characters of the article sent: its opening and its conclusion
RETRY_STATUS = {408, 409, 425, 429, 500, 502, 503, 504}
# How the answer's form is asked for, strictest first: a JSON schema the server decodes under (OpenAI, vLLM,
# llama.cpp's server, Ollama), any JSON object, or nothing but the prompt. A server that refuses one (HTTP 400
# naming response_format) is asked the next way for the rest of the run.
ANSWER_FORMATS = ("schema", "json", "text")


@dataclass
class Endpoint:
    """Where to send requests: from options, else COMMENTARY_LLM_BASE_URL / _MODEL / _API_KEY."""

    base_url: str
    model: str
    api_key: str | None = None
    timeout: float = 60.0
    price_per_1k_tokens: float | None = None

    @classmethod
    def from_env(cls, base_url: str | None = None, model: str | None = None, api_key: str | None = None,
                 **kw) -> Endpoint:
        base_url = base_url or os.environ.get("COMMENTARY_LLM_BASE_URL")
        model = model or os.environ.get("COMMENTARY_LLM_MODEL")
        if not base_url:
            raise CommentaryError("no language-model endpoint is set",
                                  fix="pass --base-url (e.g. http://127.0.0.1:8080/v1) or set COMMENTARY_LLM_BASE_URL")
        if not model:
            raise CommentaryError("no language model is named", fix="pass --model or set COMMENTARY_LLM_MODEL")
        return cls(base_url.rstrip("/"), model, api_key or os.environ.get("COMMENTARY_LLM_API_KEY"), **kw)


def _article_excerpt(text: str | None, budget: int = ARTICLE_BUDGET) -> str:
    if not text:
        return "(no article text)"
    if len(text) <= budget:
        return text
    head, tail = text[: budget * 2 // 3], text[-budget // 3:]
    return f"{head.rsplit(' ', 1)[0]} [...] {tail.split(' ', 1)[-1]}"


def _codebook_text(book: Codebook) -> str:
    lines = [f"Codebook {book.name} v{book.version}.", "STANCE (exactly one), toward the article's main argument:"]
    for group, labels in (("stance", book.stances), ("themes", book.themes)):
        if group == "themes":
            lines.append("THEMES (any number, including none): present only when words in the comment carry it.")
        for lab in labels:
            lines.append(f"- {lab.id}: {lab.description}")
            if lab.counts:
                lines.append(f"  counts: {'; '.join(lab.counts)}")
            if lab.not_:
                lines.append(f"  not: {'; '.join(lab.not_)}")
    lines += [f"- {r}" for r in book.rules_of_thumb]
    return "\n".join(lines)


def build_messages(book: Codebook, comment: str, *, title: str | None = None, article: str | None = None,
                   parent: str | None = None) -> list[dict[str, str]]:
    """The chat messages for one comment."""
    schema = {"stance": "|".join(book.stance_ids), "stance_evidence": "the sentence that shows it",
              "themes": [{"theme": "|".join(book.theme_ids), "evidence": "the words that carry it"}]}
    system = (_codebook_text(book) + "\n\nLabel the COMMENT by this codebook. Answer with one JSON object and "
              f"nothing else, of this form: {json.dumps(schema)}")
    user = [f"ARTICLE TITLE: {title or '(unknown)'}", f"ARTICLE: {_article_excerpt(article)}"]
    if parent:
        user.append(f"THE COMMENT IT REPLIES TO: {parent[:2000]}")
    user.append(f"COMMENT: {comment}")
    return [{"role": "system", "content": system}, {"role": "user", "content": "\n\n".join(user)}]


def answer_schema(book: Codebook) -> dict[str, Any]:
    """The JSON schema of an answer: the codebook's labels as enums, so a constraining server can say nothing else."""
    theme = {"type": "object", "additionalProperties": False, "required": ["theme", "evidence"],
             "properties": {"theme": {"type": "string", "enum": list(book.theme_ids)}, "evidence": {"type": "string"}}}
    return {"type": "object", "additionalProperties": False, "required": ["stance", "stance_evidence", "themes"],
            "properties": {"stance": {"type": "string", "enum": list(book.stance_ids)},
                           "stance_evidence": {"type": "string"},
                           "themes": {"type": "array", "items": theme, "maxItems": len(book.theme_ids)}}}


def _response_format(fmt: str, book: Codebook) -> dict[str, Any] | None:
    if fmt == "schema":
        return {"type": "json_schema",
                "json_schema": {"name": "codebook_labels", "strict": True, "schema": answer_schema(book)}}
    return {"type": "json_object"} if fmt == "json" else None


def _quoted(evidence: Any, comment: str | None) -> str:
    """The evidence as given where the comment holds it (spacing and case aside), else empty: a model that
    copies the answer's template or makes a sentence up gives no evidence, rather than a false one."""
    text = " ".join(str(evidence or "").split()).strip(" .\"'")
    if comment is None or not text:
        return text
    return text if text.casefold() in " ".join(comment.split()).casefold() else ""


def parse_answer(text: str, book: Codebook, comment: str | None = None) -> dict[str, Any]:
    """The labels in a model's answer, checked against the codebook; ValueError says what is wrong.

    Where *comment* is given, each label's evidence is kept only if the comment contains it.
    """
    start, end = text.find("{"), text.rfind("}")
    if start < 0 or end < start:
        raise ValueError("the answer holds no JSON object")
    data = json.loads(text[start:end + 1])
    if not isinstance(data, dict):
        raise ValueError("the answer is not a JSON object")
    stance = data.get("stance")
    if stance not in book.stance_ids:
        raise ValueError(f"stance {stance!r} is not one of {', '.join(book.stance_ids)}")
    themes, evidence = [], {"stance": _quoted(data.get("stance_evidence"), comment)}
    for entry in data.get("themes") or []:
        theme = entry.get("theme") if isinstance(entry, dict) else entry
        if theme not in book.theme_ids:
            raise ValueError(f"theme {theme!r} is not in the codebook")
        if theme not in themes:
            themes.append(theme)
            evidence[theme] = _quoted(entry.get("evidence"), comment) if isinstance(entry, dict) else ""
    return {"stance": stance, "themes": [t for t in book.theme_ids if t in themes], "evidence": evidence}


@dataclass
class LlmRun:
    """What a run did: labels made, comments that failed (with why), cache hits, tokens, cost."""

    labels: list[Labels] = field(default_factory=list)
    extras: dict[str, dict] = field(default_factory=dict)  # per comment: confidence, the evidence per label
    failed: dict[str, str] = field(default_factory=dict)
    cached: int = 0
    requests: int = 0
    tokens: int = 0
    cost: float | None = None
    answer_format: str = "schema"  # the form the server was last asked for (after any step down)
    stopped: CommentaryError | None = None  # what ended the run early (labels made before it are kept)


class _Cache:
    """One JSON file per answer, named by the hash of what decides it."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def path(self, key: str) -> Path:
        return self.folder / key[:2] / f"{key}.json"

    def get(self, key: str) -> dict | None:
        try:
            return json.loads(self.path(key).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None

    def put(self, key: str, value: dict) -> None:
        path = self.path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}-{threading.get_ident()}")
        tmp.write_text(json.dumps(value), encoding="utf-8")
        os.replace(tmp, path)


class _Refused(Exception):
    """The server refused the form the answer was asked in (HTTP 400 naming response_format)."""


def _post(endpoint: Endpoint, messages: list[dict], *, max_retries: int,
          response_format: dict[str, Any] | None, reached: threading.Event | None = None) -> dict:
    """One chat completion, retried with backoff on 429, 5xx and time-outs.

    *reached* is set once the server has answered anything in this run: before that, a refused connection
    means a wrong address (one line at once); after it, the server may be restarting, so it is retried, and
    a server that stays gone stops the run.
    """
    body: dict[str, Any] = {"model": endpoint.model, "messages": messages, "temperature": 0, "logprobs": True}
    if response_format:
        body["response_format"] = response_format
    headers = {"Content-Type": "application/json"}
    if endpoint.api_key:
        headers["Authorization"] = f"Bearer {endpoint.api_key}"
    url = f"{endpoint.base_url}/chat/completions"
    for attempt in range(max_retries + 1):
        req = urllib.request.Request(url, data=json.dumps(body).encode(), headers=headers, method="POST")
        try:
            with urllib.request.urlopen(req, timeout=endpoint.timeout) as res:
                raw = res.read()
            if reached is not None:
                reached.set()
            try:
                return json.loads(raw)
            except ValueError:
                raise CommentaryError(f"{url} answered with something that is not JSON ({raw[:80]!r})",
                                      fix="check --base-url points at an OpenAI-compatible /v1 endpoint") from None
        except urllib.error.HTTPError as exc:
            if reached is not None:
                reached.set()
            detail = exc.read()[:200].decode("utf-8", "replace")
            if exc.code in (401, 403):
                raise CommentaryError(f"{url} refused the key (HTTP {exc.code})",
                                      fix="check --api-key or COMMENTARY_LLM_API_KEY") from None
            if exc.code == 400 and response_format and any(w in detail.lower() for w in ("response_format",
                                                                                         "json_schema", "schema")):
                raise _Refused(detail.strip()[:120]) from None
            if exc.code == 404 or (exc.code == 400 and "model" in detail.lower()):
                raise CommentaryError(f"{url}: HTTP {exc.code} ({detail.strip()[:120]})",
                                      fix=f"check the model name ({endpoint.model}) and the base URL") from None
            if exc.code not in RETRY_STATUS or attempt == max_retries:
                raise _Failed(f"HTTP {exc.code}: {detail.strip()[:120]}") from None
            wait = float(exc.headers.get("Retry-After") or 0) or min(30.0, 0.5 * 2 ** attempt)
        except (TimeoutError, urllib.error.URLError, ConnectionError) as exc:
            reason = getattr(exc, "reason", exc)
            refused = isinstance(reason, ConnectionRefusedError)
            if refused and attempt == 0 and not (reached and reached.is_set()):
                raise CommentaryError(f"nothing answers at {url} ({reason})",
                                      fix="start the server, or check --base-url") from None
            if refused and attempt == max_retries:
                raise CommentaryError(f"the server at {url} stopped answering ({reason})",
                                      fix="restart it and run the same command again: labelled comments "
                                          "are cached and not asked again") from None
            if attempt == max_retries:
                raise _Failed(f"no answer ({reason})") from None
            wait = min(30.0, 0.5 * 2 ** attempt)
        time.sleep(wait * (0.5 + random.random()))
    raise _Failed("no answer")  # pragma: no cover


class _Failed(Exception):
    """One comment could not be labelled (after retries); the run goes on."""


def _confidence(choice: dict) -> float | None:
    """exp(mean token log-probability) of the answer, where the server gives log-probabilities."""
    import math

    content = (choice.get("logprobs") or {}).get("content") or []
    values = [t.get("logprob") for t in content if isinstance(t, dict) and t.get("logprob") is not None]
    return round(math.exp(sum(values) / len(values)), 4) if values else None


def llm_items(articles: Sequence[Any], comments: Sequence[Any]) -> list[dict[str, Any]]:
    """What ``label_with_llm`` sends for each comment: its text, its article's title and text, its parent's text."""
    arts = {a.id: a for a in articles}
    texts = {c.id: c.text for c in comments}
    out = []
    for c in comments:
        art = arts.get(c.article_id)
        out.append({"id": c.id, "text": c.text, "title": art.title if art else None, "article": art.text if art else None,
                    "parent": texts.get(c.parent_id) if c.parent_id else None})
    return out


def label_with_llm(items: Sequence[dict[str, Any]], book: Codebook, endpoint: Endpoint, *, cache_dir: Path,
                   concurrency: int = 4, max_retries: int = 4, answer_format: str = "schema",
                   progress: Callable[[dict[str, float]], None] | None = None) -> LlmRun:
    """Label *items* (dicts with id, text, and optionally title, article, parent) through *endpoint*.

    *answer_format* is the strictest form to ask for (``ANSWER_FORMATS``); where the server refuses it, the run
    steps down to the next and says so in ``run.answer_format``.
    """
    if answer_format not in ANSWER_FORMATS:
        raise UsageError(f"unknown answer format {answer_format!r}", fix=f"use one of {', '.join(ANSWER_FORMATS)}")
    cache = _Cache(Path(cache_dir))
    run = LlmRun(answer_format=answer_format)
    lock = threading.Lock()  # for the run's answer format and its stop, which every thread may set
    reached, stop = threading.Event(), threading.Event()
    price = endpoint.price_per_1k_tokens

    def ask(messages: list[dict]) -> dict:
        while True:
            fmt = run.answer_format
            try:
                return _post(endpoint, messages, max_retries=max_retries,
                             response_format=_response_format(fmt, book), reached=reached)
            except _Refused:
                with lock:  # one step down for the whole run, however many threads were refused at once
                    if run.answer_format == fmt:
                        run.answer_format = ANSWER_FORMATS[ANSWER_FORMATS.index(fmt) + 1]
    counts = {"done": 0, "cached": 0, "failed": 0}

    def one(item: dict[str, Any]) -> tuple[str, dict | None, str | None]:
        try:
            return label_one(item)
        except CommentaryError as exc:  # the endpoint as a whole is wrong or gone: stop, keep what was labelled
            with lock:
                if run.stopped is None:
                    run.stopped = exc
            stop.set()
            return item["id"], None, f"not labelled: {exc.message}"

    def label_one(item: dict[str, Any]) -> tuple[str, dict | None, str | None]:
        messages = build_messages(book, item["text"], title=item.get("title"), article=item.get("article"),
                                  parent=item.get("parent"))
        key = hashlib.sha256(json.dumps([endpoint.model, PROMPT_VERSION, book.version, messages]).encode()).hexdigest()
        hit = cache.get(key)
        if hit is not None:
            return item["id"], {**hit, "cached": True}, None
        if stop.is_set():
            return item["id"], None, "not asked: the run stopped"
        tokens, content = 0, ""
        for repair in (False, True):
            try:
                answer = ask(messages)
            except _Failed as exc:
                return item["id"], None, str(exc)
            tokens += int((answer.get("usage") or {}).get("total_tokens") or 0)
            try:
                choice = answer["choices"][0]
                content = choice["message"]["content"] or ""
                parsed = parse_answer(content, book, item["text"])
            except (KeyError, IndexError, TypeError, ValueError) as exc:
                if repair:
                    return item["id"], {"tokens": tokens}, f"unusable answer after one repair ({exc})"
                messages = messages + [{"role": "assistant", "content": str(content)[:2000]},
                                       {"role": "user", "content": f"That answer cannot be used ({exc}). Answer "
                                        "again with only the JSON object, using only the codebook's labels."}]
                continue
            value = {**parsed, "confidence": _confidence(choice), "tokens": tokens}
            cache.put(key, value)
            return item["id"], value, None
        return item["id"], None, "no answer"  # pragma: no cover

    with ThreadPoolExecutor(max(1, concurrency)) as pool:
        futures = [pool.submit(one, item) for item in items]
        results: dict[str, tuple[dict | None, str | None]] = {}
        for future in as_completed(futures):  # collected in this thread alone: no lock needed
            cid, value, error = future.result()
            results[cid] = (value, error)
            if value is not None and not value.get("cached"):
                run.tokens += int(value.get("tokens") or 0)
                run.requests += 1
            counts["failed" if error else "cached" if value.get("cached") else "done"] += 1
            if progress:
                progress(dict(counts, tokens=run.tokens, **({} if price is None else
                                                           {"cost": run.tokens / 1000 * price})))
    source = f"llm:{endpoint.model}:{PROMPT_VERSION}"
    for item in items:  # in input order
        value, error = results[item["id"]]
        if error:
            run.failed[item["id"]] = error
            continue
        run.cached += int(bool(value.get("cached")))
        run.labels.append(Labels(item["id"], value["stance"], value["themes"], source,
                                 codebook_version=book.version, weak=True))
        run.extras[item["id"]] = {"confidence": value.get("confidence"), "evidence": value.get("evidence")}
    if price is not None:
        run.cost = round(run.tokens / 1000 * price, 4)
    return run
