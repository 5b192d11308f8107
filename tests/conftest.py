"""Shared fixtures: every test gets its own COMMENTARY_HOME; ../shared is optional."""

from __future__ import annotations

import os
from pathlib import Path

# Tests never reach a model or dataset hub: the machine has no network to one.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
# `--backend auto` means hybrid (tfidf + a sentence encoder) where one is installed; tests train
# tfidf unless they ask for another backend, so the suite stays fast. tests/test_transformers.py
# covers hybrid, embeddings and finetune with a tiny model, and the auto choice itself.
os.environ["COMMENTARY_DEFAULT_BACKEND"] = "tfidf"

import pytest
from typer.testing import CliRunner

from commentary.cli import app

FIXTURES = Path(__file__).parent / "fixtures"
REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
SEED = SHARED / "seeds" / "000_e688575bb1709492.txt"
CORPORA = SHARED / "corpora"


def pytest_addoption(parser):
    parser.addoption("--slow", action="store_true", help="also run tests marked slow")


def pytest_collection_modifyitems(config, items):
    if config.getoption("--slow"):
        return
    skip = pytest.mark.skip(reason="slow; run with --slow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session", autouse=True)
def session_home(tmp_path_factory):
    """A home for module- and session-scoped fixtures, which run before each test's own: without it
    their models and caches would land in the user's cache (~/.cache/commentary)."""
    patch = pytest.MonkeyPatch()
    patch.setenv("COMMENTARY_HOME", str(tmp_path_factory.mktemp("session-home")))
    patch.delenv("COMMENTARY_CACHE", raising=False)
    yield
    patch.undo()


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch):
    """Isolate all state (data, models, keys) in a temporary home."""
    monkeypatch.setenv("COMMENTARY_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("COMMENTARY_DEBUG", raising=False)
    monkeypatch.delenv("COMMENTARY_PSEUDONYM_KEY", raising=False)
    return tmp_path / "home"


@pytest.fixture
def cli():
    """Run the CLI in-process and return the result (stdout and stderr kept apart)."""
    runner = CliRunner()

    def invoke(*args, input=None):
        return runner.invoke(app, [str(a) for a in args], input=input, catch_exceptions=False)

    return invoke


@pytest.fixture(scope="session")
def small(tmp_path_factory):
    """About 250 labelled starter comments under 12 articles: enough to train, quick to do it."""
    from commentary.dataset import read_dataset, write_dataset

    ds = read_dataset(REPO / "data" / "starter" / "train")
    keep = {a.id for a in ds.articles[:12]}
    comments = [c for c in ds.comments if c.article_id in keep]
    ids = {c.id for c in comments}
    path = tmp_path_factory.mktemp("small") / "ds"
    write_dataset(path, [a for a in ds.articles if a.id in keep], comments,
                  labels=[lab for lab in ds.labels if lab.comment_id in ids])
    return path


@pytest.fixture
def seed_path():
    if not SEED.is_file():
        pytest.skip(f"the seed page is not here ({SEED}); it comes with ../shared")
    return SEED


def corpus(name: str) -> Path:
    path = CORPORA / name
    if not path.is_dir():
        pytest.skip(f"../shared/corpora/{name} is absent")
    return path


def die_with_parent() -> None:
    """preexec_fn for a server a test starts: the kernel kills it when the test process ends, however that
    ends (PR_SET_PDEATHSIG), so no server outlives the suite."""
    import ctypes
    import signal

    ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)


def free_port() -> int:
    """A loopback port nothing listens on now, for a server a test starts."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
