"""The `commentary` command line: thin wrappers over the stage functions.

This module is the single error boundary: a ``CommentaryError`` becomes one
``✘`` line on stderr and exit code 1; usage errors keep exit code 2; set
``COMMENTARY_DEBUG=1`` to see the traceback instead.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from typer.core import TyperGroup

from . import __version__
from ._ui import ui
from .errors import CommentaryError

__all__ = ["app", "main"]


class _Boundary(TyperGroup):
    """Turn CommentaryError into a one-line message and exit code 1, in one place."""

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


@app.command()
def ingest(
    sources: Annotated[list[str], typer.Argument(
        help="Files to read (page text, HTML, WXR, Disqus XML, CSV, TSV, JSONL, JSON, Parquet), "
        "a saved Hugging Face dataset folder, hf:NAME for a hub dataset, or - for stdin.")],
    output: Annotated[Optional[str], typer.Option(
        "--output", "-o", help="Dataset folder to write, or - for JSON Lines on stdout "
        "[default: data/<first source name>].")] = None,
    fmt: FormatOpt = None,
    force: ForceOpt = False,
    encoding: Annotated[str, typer.Option(help="Text encoding of the inputs.")] = "utf-8",
    text_column: Annotated[Optional[str], typer.Option(help="Column holding the comment text.")] = None,
    id_column: Annotated[Optional[str], typer.Option(help="Column holding the comment id.")] = None,
    parent_column: Annotated[Optional[str], typer.Option(help="Column holding the parent comment id.")] = None,
    author_column: Annotated[Optional[str], typer.Option(help="Column holding the author.")] = None,
    date_column: Annotated[Optional[str], typer.Option(help="Column holding the date.")] = None,
    article_column: Annotated[Optional[str], typer.Option(help="Column holding the article id or url.")] = None,
    title_column: Annotated[Optional[str], typer.Option(help="Column holding the article title.")] = None,
    article_text_column: Annotated[Optional[str], typer.Option(help="Column holding the article text.")] = None,
    split: Annotated[Optional[str], typer.Option(help="Split of a Hugging Face dataset.")] = None,
    include_pingbacks: Annotated[bool, typer.Option(help="Keep WordPress pingbacks and trackbacks.")] = False,
    keep_unapproved: Annotated[bool, typer.Option(
        help="Keep pending, spam and deleted comments (marked in their status).")] = False,
    pseudonymise: Annotated[bool, typer.Option(
        "--pseudonymise", help="Replace comment authors with stable keyed hashes and drop "
        "affiliations (key: COMMENTARY_PSEUDONYM_KEY, or a key file made in the home folder).")] = False,
) -> None:
    """Read article pages and comment threads into one clean dataset."""
    from .dataset import write_dataset, write_jsonl
    from .ingest import ReadOptions, summarise
    from .ingest import ingest as run_ingest
    from .paths import data_dir, home

    if output is None:
        stem = Path(sources[0]).stem if sources[0] != "-" else "stdin"
        output = str(data_dir() / stem.removeprefix("hf:").replace("/", "_"))
    if output != "-" and Path(output).exists() and not force:
        raise CommentaryError(f"{output} already exists", fix="pass --force to replace it")
    opts = ReadOptions(
        encoding=encoding, include_pingbacks=include_pingbacks, include_unapproved=keep_unapproved,
        text_column=text_column, id_column=id_column, parent_column=parent_column,
        author_column=author_column, date_column=date_column, article_column=article_column,
        title_column=title_column, article_text_column=article_text_column, split=split,
    )
    with ui.progress("reading", total=None) as advance:
        result = run_ingest(sources, fmt=fmt, options=opts, pseudonymise_authors=pseudonymise,
                            home=home(), progress=advance)
    summary = summarise(result)
    for warning in result.warnings[:20]:
        ui.warn(warning)
    if len(result.warnings) > 20:
        ui.warn(f"... and {len(result.warnings) - 20} more warnings (-v to see all)")
        for warning in result.warnings[20:]:
            ui.debug(warning)
    if output == "-":
        write_jsonl(result.articles, result.comments, sys.stdout)
        sys.stdout.flush()
    else:
        write_dataset(Path(output), result.articles, result.comments, force=force, info={
            "name": Path(output).name, "inputs": result.inputs, "summary": summary,
            "pseudonymised": pseudonymise,
        })
    _print_summary(summary, output)


def _print_summary(summary: dict, output: str) -> None:
    from rich.table import Table

    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column(style="bold")
    table.add_column()
    for key in ("articles", "comments", "replies", "authors"):
        table.add_row(key, f"{summary[key]:,}")
    if summary["first_date"]:
        table.add_row("dates", f"{summary['first_date']} to {summary['last_date']}")
    for reason, n in summary["skipped"].items():
        table.add_row("skipped", f"{n:,} {reason}")
    if summary["control_chars_stripped"]:
        table.add_row("cleaned", f"{summary['control_chars_stripped']:,} control characters stripped")
    ui.table(table)
    if output != "-":
        ui.good(f"wrote {output}")


def main() -> None:
    """Entry point for the console script and ``python -m commentary``."""
    app(prog_name="commentary")
