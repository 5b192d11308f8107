"""``commentary serve``: an HTTP service over one model version (FastAPI, run by uvicorn).

    POST /classify   {"comments": [{"text": "...", "id": "...", "article": "..."}, ...], "article": "..."}
                     or {"text": "..."}: one comment. Returns {"model": ref, "predictions": [...]}.
    GET  /health     {"status": "ok", "model": ref}
    GET  /model      the version: backend, codebook, labels, cross-validated quality
    GET  /docs       OpenAPI documentation (and /openapi.json)

The model is loaded once. Requests that arrive together are scored together: a batcher
collects what comes within a few milliseconds (up to ``max_comments`` comments) and runs the
model once, in a worker thread, so concurrent clients share the work. Bad input gets a
4xx with a one-line reason: 422 for a malformed body, 413 for too many or too long comments.
"""

# no `from __future__ import annotations`: FastAPI reads the request models from the live annotations

import asyncio
from typing import Any

from .ingest.base import MAX_COMMENT_CHARS

__all__ = ["make_app", "serve"]


MAX_BODY = 64 << 20  # bytes: a request body larger than this is refused before it is read


def make_app(model, *, max_comments: int = 1000, max_chars: int = MAX_COMMENT_CHARS, batch_wait_ms: float = 5.0,
             max_body: int = MAX_BODY):
    """The FastAPI app over a loaded ``commentary.api.Model``."""
    from contextlib import asynccontextmanager

    from fastapi import FastAPI, HTTPException, Request
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import JSONResponse
    from pydantic import BaseModel, Field, model_validator

    class CommentIn(BaseModel):
        text: str = Field(min_length=1)
        id: str | None = None
        article: str | None = None

    class ClassifyIn(BaseModel):
        comments: list[CommentIn] | None = None
        text: str | None = Field(default=None, min_length=1)
        article: str | None = Field(default=None, description="The article every comment answers, when shared")

        @model_validator(mode="after")
        def one_or_many(self):
            if (self.comments is None) == (self.text is None):
                raise ValueError("give either text (one comment) or comments (a list)")
            if self.comments is not None and not self.comments:
                raise ValueError("comments is empty")
            return self

    class Batcher:
        """Scores the comments of requests that arrive together in one call to the model."""

        def __init__(self) -> None:
            self.queue: asyncio.Queue | None = None
            self.task: asyncio.Task | None = None

        async def start(self) -> None:
            self.queue = asyncio.Queue()
            self.task = asyncio.create_task(self.run())

        async def stop(self) -> None:
            if self.task:
                self.task.cancel()

        async def score(self, texts, articles, ids):
            future = asyncio.get_running_loop().create_future()
            await self.queue.put((texts, articles, ids, future))
            return await future

        async def run(self) -> None:
            while True:
                jobs = [await self.queue.get()]
                await asyncio.sleep(batch_wait_ms / 1000)
                size = len(jobs[0][0])
                while not self.queue.empty() and size < max_comments:
                    job = self.queue.get_nowait()
                    jobs.append(job)
                    size += len(job[0])
                texts = [t for job in jobs for t in job[0]]
                arts = [a for job in jobs for a in job[1]]
                ids = [i for job in jobs for i in job[2]]
                try:
                    preds = await asyncio.to_thread(model.predict, texts, articles=arts, ids=ids)
                except Exception as exc:  # every waiting request hears of it
                    for *_, future in jobs:
                        if not future.done():
                            future.set_exception(exc)
                    continue
                start = 0
                for job_texts, _, _, future in jobs:
                    if not future.done():
                        future.set_result(preds[start:start + len(job_texts)])
                    start += len(job_texts)

    batcher = Batcher()

    @asynccontextmanager
    async def lifespan(_app):
        await batcher.start()
        yield
        await batcher.stop()

    app = FastAPI(title="commentary", version=str(model.manifest.get("commentary_version", "")),
                  description="Stance toward the article and themes of reader comments, by the codebook.",
                  lifespan=lifespan)

    @app.middleware("http")
    async def body_limit(request: Request, call_next):
        size = request.headers.get("content-length", "")
        if size.isdigit() and int(size) > max_body:  # refused before the body is read into memory
            return JSONResponse({"detail": f"request body is {int(size):,} bytes; at most {max_body:,}: "
                                           "send the comments in several requests"}, 413)
        return await call_next(request)

    @app.exception_handler(RequestValidationError)
    async def malformed(_request: Request, exc: RequestValidationError):
        # one line per problem, naming where it is, without echoing the input back (it may not even encode)
        said = "; ".join(f"{'.'.join(str(p) for p in e.get('loc', ()) if p != 'body') or 'body'}: {e.get('msg')}"
                         for e in exc.errors())
        return JSONResponse({"detail": said.encode("utf-8", "replace").decode("utf-8")}, 422)

    @app.get("/health")
    def health() -> dict[str, Any]:
        return {"status": "ok", "model": model.ref}

    quality = model.quality()

    @app.get("/model")
    def model_info() -> dict[str, Any]:
        m = model.manifest
        return {"model": model.ref, "backend": m.get("backend"), "created": m.get("created"),
                "codebook": m.get("codebook"), "labels": model.labels, "quality": quality}

    @app.post("/classify")
    async def classify(body: ClassifyIn) -> dict[str, Any]:
        comments = body.comments if body.comments is not None else [CommentIn(text=body.text)]
        if len(comments) > max_comments:
            raise HTTPException(413, f"{len(comments)} comments in one request; at most {max_comments}")
        long = next((k for k, c in enumerate(comments) if len(c.text) > max_chars), None)
        if long is not None:
            raise HTTPException(413, f"comment {long} is {len(comments[long].text):,} characters; "
                                     f"at most {max_chars:,}")
        long = next((a for a in [body.article] + [c.article for c in comments] if a and len(a) > 10 * max_chars), None)
        if long is not None:
            raise HTTPException(413, f"an article is {len(long):,} characters; at most {10 * max_chars:,}")
        broken = next((k for k, c in enumerate(comments)
                       if not _encodes(c.text) or not _encodes(c.article or body.article or "")), None)
        if broken is not None:
            raise HTTPException(422, f"comment {broken}: its text or article holds a lone surrogate (such as \\ud800), "
                                     "which is not a character")
        preds = await batcher.score([c.text for c in comments], [c.article or body.article for c in comments],
                                    [c.id for c in comments])
        return {"model": model.ref, "predictions": [
            {k: v for k, v in p.to_dict().items() if k != "article"} for p in preds]}

    return app


def _encodes(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def serve(model, *, host: str = "127.0.0.1", port: int = 8000, **options) -> None:
    """Run the service until interrupted."""
    import uvicorn

    uvicorn.run(make_app(model, **options), host=host, port=port, log_level="warning")
