"""The `commentary` command line: thin wrappers over the stage functions.

This module is the single error boundary: a ``CommentaryError`` becomes one
``✘`` line on stderr and exit code 1; usage errors keep exit code 2; set
``COMMENTARY_DEBUG=1`` to see the traceback instead.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Optional

import typer
from typer.core import TyperGroup

from .. import __version__
from .._ui import ui
from ..errors import CommentaryError, describe

__all__ = ["app", "main", "ui", "CommentaryError", "ForceOpt", "CodebookOpt", "FormatOpt", "MaxCharsOpt", "RuntimeOpt",
           "ModelsDirOpt", "models_root", "fmt", "group"]


class _Boundary(TyperGroup):
    """Turn every error into a one-line message and exit code 1, in one place.

    A CommentaryError says what it says; an OSError names its path and a fix by its
    errno; any other library failure is described by ``errors.describe``.
    """

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except CommentaryError as exc:
            if os.environ.get("COMMENTARY_DEBUG"):
                raise
            ui.error(str(exc))
            raise typer.Exit(exc.exit_code) from None
        except KeyboardInterrupt:
            if os.environ.get("COMMENTARY_DEBUG"):
                raise
            ui.error("interrupted; nothing was written")
            raise typer.Exit(130) from None
        except Exception as exc:  # the OS's and libraries' failures: one line too, never a traceback
            # usage errors (exit 2) and deliberate exits belong to the CLI library (Typer vendors
            # its own Click, so its classes are told by their module) and pass through
            if isinstance(exc, BrokenPipeError) and _stdout_reader_gone():
                _stdout_to_devnull()  # else the interpreter's last flush prints a traceback of its own
                raise typer.Exit(141) from None  # as a Unix tool stopped by SIGPIPE: no message
            if os.environ.get("COMMENTARY_DEBUG") or type(exc).__module__.startswith(("typer", "click")):
                raise
            stopping = _exit_underneath(exc)
            if stopping is not None:  # a SIGTERM's exit broke something on its way out: still that exit
                raise stopping from None
            ui.error(describe(exc))
            raise typer.Exit(1) from None


def _stdout_reader_gone() -> bool:
    """Whether standard output is a pipe whose reader has closed it (``commentary classify ... |
    head``), so that a broken pipe is the reader stopping, not a failure."""
    import select
    import stat
    import sys

    try:
        fd = sys.stdout.fileno()
        if not stat.S_ISFIFO(os.fstat(fd).st_mode):
            return False
        poll = select.poll()
        poll.register(fd, select.POLLOUT)
        return any(events & (select.POLLERR | select.POLLHUP) for _, events in poll.poll(0))
    except (AttributeError, OSError, ValueError):  # no real stdout (a test runner's), or no poll
        return False


def _stdout_to_devnull() -> None:
    import sys

    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


def _exit_underneath(exc: BaseException) -> SystemExit | None:
    """The SystemExit (SIGTERM's, see ``_procs.terminate_cleanly``) that *exc* was raised while
    unwinding, if any: a worker pool shut down by the exit can fail in turn, and the command must
    still end as terminated (143), not as failed."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, SystemExit):
            return exc
        exc = exc.__context__
    return None


app = typer.Typer(
    cls=_Boundary,
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    help="Say where each commenter stands on an article and what they talk about.",
)

# Options shared by several commands, declared once.
ForceOpt = Annotated[bool, typer.Option("--force", "-f", help="Replace an existing output.")]
CodebookOpt = Annotated[
    Optional[Path],
    typer.Option("--codebook", help="Codebook file to use [default: the one shipped with commentary]."),
]
MaxCharsOpt = Annotated[int, typer.Option(
    "--max-comment-chars", min=1, help="Cut comments longer than this many characters, with a warning "
    "(the limit keeps one pasted book from exhausting memory).")]
def _set_runtime(value: Optional[str]) -> Optional[str]:
    if value:
        from ..backends.encoder import RUNTIMES

        if value not in RUNTIMES:
            raise typer.BadParameter(f"{value!r} is not one of {', '.join(RUNTIMES)}")
        os.environ["COMMENTARY_RUNTIME"] = value  # read where an encoder is made (backends.encoder)
    return value


RuntimeOpt = Annotated[Optional[str], typer.Option(
    "--runtime", metavar="<auto|torch|onnx|onnx-int8>", callback=_set_runtime,
    help="How a transformer encoder runs: torch; onnx (ONNX Runtime: the same embeddings to float precision, "
    "about twice as fast); onnx-int8 (int8 weights: three times as fast, 96% of labels the same; "
    "docs/performance.md); auto is onnx where onnxruntime is installed, else torch "
    "[default: $COMMENTARY_RUNTIME, else auto]. Exported once into the cache; no effect on tfidf models.")]
FormatOpt = Annotated[
    Optional[str],
    typer.Option("--format", help="Force the input format: text, html, wxr, disqus, csv, tsv, "
                 "jsonl, json, parquet or hf (default: detect)."),
]


def _version(value: bool) -> None:
    if value:
        typer.echo(f"commentary {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Print the version and exit.")] = False,
    verbose: Annotated[int, typer.Option("--verbose", "-v", count=True,
                                         help="Say more on stderr.")] = 0,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only errors on stderr; no progress.")] = False,
) -> None:
    """Say where each commenter stands on an article and what they talk about."""
    ui.reset()
    ui.verbosity = -1 if quiet else verbose

ModelsDirOpt = Annotated[Optional[Path], typer.Option(
    "--models-dir", help="Folder of model versions [default: $COMMENTARY_HOME/models].")]


def group(name: str, help: str) -> typer.Typer:
    """A sub-command group that shares the error boundary."""
    sub = typer.Typer(cls=_Boundary, no_args_is_help=True, rich_markup_mode=None, help=help)
    app.add_typer(sub, name=name)
    return sub


def models_root(models_dir: Optional[Path]) -> Path:
    from ..paths import models_dir as resolve

    return resolve(models_dir)


def fmt(x) -> str:
    return "n/a" if x is None else f"{x:.3f}"


def only_the_command_in(argv: list[str]) -> typer.Typer:
    """The app with only the command (or command group) that *argv* names, else the whole app.

    Typer builds every command's parameters before it runs one (a tenth of a second of a
    one-comment ``classify``, for twenty commands), so a run that names its command gets an app
    that holds just that one. The root options are all flags, so the first word not starting
    with ``-`` is the command. No command, ``--help`` before it, or a word that names no command
    (which Typer answers with its suggestions) gets the whole app.
    """
    import copy

    from typer.main import get_command_name

    at = next((k for k, a in enumerate(argv) if not a.startswith("-")), None)
    if at is None or "--help" in argv[:at]:  # `commentary --help classify` is the app's help
        return app
    name = argv[at]
    commands = [c for c in app.registered_commands
                if (c.name or get_command_name(c.callback.__name__)) == name]
    groups = [g for g in app.registered_groups if g.name == name]
    if not commands and not groups:
        return app
    narrowed = copy.copy(app)
    narrowed.registered_commands, narrowed.registered_groups = commands, groups
    return narrowed


def main() -> None:
    """Entry point for the console script and ``python -m commentary``."""
    import sys

    from .._procs import terminate_cleanly

    terminate_cleanly()  # kill -TERM unwinds like an error: temp files go, workers follow
    only_the_command_in(sys.argv[1:])(prog_name="commentary")
