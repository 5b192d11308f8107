"""Commands over data: ingest and the codebook."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from ..ingest.base import MAX_COMMENT_CHARS
from ._app import CodebookOpt, ForceOpt, FormatOpt, MaxCharsOpt, app, ui


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
    encoding: Annotated[str, typer.Option(
        help="Text encoding of the inputs: auto is UTF-8, or the encoding a non-UTF-8 file most likely has, "
        "with a warning (UTF-16 and UTF-32 by their byte-order mark); a named one is used as given.")] = "auto",
    text_column: Annotated[Optional[str], typer.Option(help="Column holding the comment text.")] = None,
    id_column: Annotated[Optional[str], typer.Option(help="Column holding the comment id.")] = None,
    parent_column: Annotated[Optional[str], typer.Option(help="Column holding the parent comment id.")] = None,
    author_column: Annotated[Optional[str], typer.Option(help="Column holding the author.")] = None,
    date_column: Annotated[Optional[str], typer.Option(help="Column holding the date.")] = None,
    article_column: Annotated[Optional[str], typer.Option(help="Column holding the article id or url.")] = None,
    title_column: Annotated[Optional[str], typer.Option(help="Column holding the article title.")] = None,
    article_text_column: Annotated[Optional[str], typer.Option(help="Column holding the article text.")] = None,
    split: Annotated[Optional[str], typer.Option(help="Split of a Hugging Face dataset.")] = None,
    max_comment_chars: MaxCharsOpt = MAX_COMMENT_CHARS,
    include_pingbacks: Annotated[bool, typer.Option(help="Keep WordPress pingbacks and trackbacks.")] = False,
    keep_unapproved: Annotated[bool, typer.Option(
        help="Keep pending, spam and deleted comments (marked in their status).")] = False,
    pseudonymise: Annotated[bool, typer.Option(
        "--pseudonymise", help="Replace comment authors with stable keyed hashes and drop affiliations "
        "and the source columns that identify people (e-mail, IP and web addresses, user names) "
        "(key: COMMENTARY_PSEUDONYM_KEY, or a key file made in the home folder).")] = False,
) -> None:
    """Read article pages and comment threads into one clean dataset."""
    from ..dataset import claim_output, replaceable_dataset, write_dataset, write_jsonl
    from ..ingest import ReadOptions, summarise
    from ..ingest import ingest as run_ingest
    from ..paths import data_dir, home

    if output is None:
        stem = Path(sources[0]).stem if sources[0] != "-" else "stdin"
        output = str(data_dir() / stem.removeprefix("hf:").replace("/", "_"))
    if output != "-":  # before the reading, not after
        claim_output(Path(output), force=force, ours=replaceable_dataset, what="a dataset")
    opts = ReadOptions(
        encoding=encoding, include_pingbacks=include_pingbacks, include_unapproved=keep_unapproved,
        text_column=text_column, id_column=id_column, parent_column=parent_column,
        author_column=author_column, date_column=date_column, article_column=article_column,
        title_column=title_column, article_text_column=article_text_column, split=split,
        max_comment_chars=max_comment_chars,
    )
    if "-" in sources and sys.stdin.isatty():
        ui.info("reading from the terminal: paste or type the page, then press Ctrl-D")
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


@app.command()
def codebook(
    codebook_file: CodebookOpt = None,
    write: Annotated[Optional[Path], typer.Option(
        "--write", "-w", help="Write a copy of the codebook here for you to edit.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the codebook as JSON.")] = False,
    force: ForceOpt = False,
) -> None:
    """Show the codebook (stance labels and themes) or write a copy to edit."""

    from ..codebook import load_codebook
    from ..dataset import atomic_file, claim_output, starts_like

    book = load_codebook(codebook_file)
    if write is not None:
        text = Path(book.path).read_bytes()
        claim_output(write, force=force, what="a codebook", folder=False, inputs=[book.path],
                     ours=lambda p: starts_like(p, text.decode("utf-8", "replace")))
        with atomic_file(write, mode="wb", force=force) as fh:
            fh.write(text)
        ui.good(f"wrote {write} (codebook {book.version}); edit it, raise its version, "
                "and pass --codebook to each step")
        return
    if as_json:
        typer.echo(json.dumps(book.raw, indent=2, ensure_ascii=False))
        return
    _print_codebook(book)


def _print_codebook(book) -> None:
    from rich.console import Console
    from rich.table import Table

    out = Console(highlight=False, soft_wrap=not sys.stdout.isatty())
    out.print(f"{book.name} codebook {book.version}  ({book.path})", markup=False)
    for title, labels in (("stance (exactly one)", book.stances), ("themes (any number)", book.themes)):
        table = Table(title=title, show_lines=True, title_justify="left")
        table.add_column("label", no_wrap=True)
        for col in ("use when", "counts", "not when"):
            table.add_column(col, overflow="fold")
        for lab in labels:
            table.add_row(lab.id, lab.description, "; ".join(lab.counts), "; ".join(lab.not_))
        out.print(table)
