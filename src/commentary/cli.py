"""The `commentary` command line: thin wrappers over the stage functions.

This module is the single error boundary: a ``CommentaryError`` becomes one
``✘`` line on stderr and exit code 1; usage errors keep exit code 2; set
``COMMENTARY_DEBUG=1`` to see the traceback instead.
"""

from __future__ import annotations

import json
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
CodebookOpt = Annotated[
    Optional[Path],
    typer.Option("--codebook", help="Codebook file to use [default: the one shipped with commentary]."),
]
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


@app.command()
def codebook(
    codebook_file: CodebookOpt = None,
    write: Annotated[Optional[Path], typer.Option(
        "--write", "-w", help="Write a copy of the codebook here for you to edit.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the codebook as JSON.")] = False,
    force: ForceOpt = False,
) -> None:
    """Show the codebook (stance labels and themes) or write a copy to edit."""
    import json

    from .codebook import load_codebook
    from .dataset import atomic_file

    book = load_codebook(codebook_file)
    if write is not None:
        with atomic_file(write, mode="wb", force=force) as fh:
            fh.write(Path(book.path).read_bytes())
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


@app.command()
def classify(
    source: Annotated[str, typer.Argument(
        help="Comments to score: a copied page, any format ingest reads, plain text with one "
        "comment per paragraph, or - for stdin.")],
    model: Annotated[Optional[str], typer.Option(
        "--model", "-m", help="NAME@vN [default: the promoted version of 'commentary'].")] = None,
    out_format: Annotated[Optional[str], typer.Option(
        "--format", help="table, jsonl, json or csv [default: table on a terminal, else jsonl, "
        "or from the -o file's extension].")] = None,
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="Write here instead of stdout.")] = None,
    per_line: Annotated[bool, typer.Option("--per-line", help="Plain text: one comment per line.")] = False,
    input_format: Annotated[Optional[str], typer.Option(
        help="Force the input format (as ingest --format).")] = None,
    text_column: Annotated[Optional[str], typer.Option(help="Column holding the comment text.")] = None,
    explain: Annotated[bool, typer.Option(
        "--explain", help="Add the sentence behind each label.")] = False,
    batch_size: Annotated[int, typer.Option(help="Comments scored per batch.")] = 1000,
    force: ForceOpt = False,
    models_dir: ModelsDirOpt = None,
) -> None:
    """Score comments with a trained model: stance, themes, probabilities, abstain flags."""
    import csv as csv_mod

    from .classify import CSV_FIELDS, Summary, read_items, score, write_csv_row
    from .dataset import atomic_file
    from .ingest import ReadOptions
    from .training import load_model

    fmt = out_format or (output.suffix.lstrip(".").lower() if output and output.suffix else None)
    fmt = fmt or ("table" if output is None and sys.stdout.isatty() else "jsonl")
    if fmt not in ("table", "jsonl", "json", "csv"):
        raise CommentaryError(f"unknown output format {fmt!r}", fix="use table, jsonl, json or csv")
    trained, version = load_model(_models_root(models_dir), model)
    dec = trained.decisions
    items = read_items(source, fmt=input_format, per_line=per_line,
                       options=ReadOptions(text_column=text_column))
    summary = Summary(dec.stance_labels, dec.theme_labels)
    rows_for_table: list[dict] = []

    def emit(out) -> None:
        writer = None
        if fmt == "csv":
            writer = csv_mod.writer(out)
            writer.writerow(CSV_FIELDS + [f"p_{s}" for s in dec.stance_labels] + [f"p_{t}" for t in dec.theme_labels])
        if fmt == "json":
            out.write("[")
        with ui.progress("classifying") as advance:
            for k, pred in enumerate(score(trained, items, model_ref=version.ref, batch_size=batch_size,
                                           explain=explain, progress=advance)):
                summary.add(pred)
                if fmt == "jsonl":
                    out.write(json.dumps(pred, ensure_ascii=False) + "\n")
                elif fmt == "json":
                    out.write(("," if k else "") + "\n" + json.dumps(pred, ensure_ascii=False))
                elif fmt == "csv":
                    write_csv_row(writer, pred, dec.stance_labels, dec.theme_labels)
                else:
                    rows_for_table.append(pred)
        if fmt == "json":
            out.write("\n]\n")
        if summary.n == 0:
            raise CommentaryError(f"found no comments in {source}",
                                  fix="pass a file with comment text (use --per-line for one per line)")

    if output is not None:
        with atomic_file(output, force=force) as fh:
            emit(fh)
    else:
        emit(sys.stdout)
    if fmt == "table":
        _print_predictions(rows_for_table, explain)
    _print_summary_shares(summary, version.ref)
    if output is not None:
        ui.good(f"wrote {summary.n:,} predictions to {output}")


def _print_predictions(rows: list[dict], explain: bool) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(show_lines=True)
    for col in ("comment", "stance", "themes"):
        table.add_column(col, overflow="fold")
    for r in rows:
        who = f"{r['author']}: " if r.get("author") else ""
        text = r["text"] if len(r["text"]) <= 240 else r["text"][:237] + "..."
        stance = f"{r['stance']} {r['stance_probs'][r['stance']]:.2f}" + (" (unsure)" if r["abstain"] else "")
        themes = ", ".join(f"{t} {r['theme_probs'][t]:.2f}" for t in r["themes"]) or "-"
        if explain and r.get("evidence"):
            themes += "\n" + "\n".join(f"{k}: \u201c{v[:120]}\u201d" for k, v in r["evidence"].items())
        table.add_row(who + text, stance, themes)
    Console(highlight=False).print(table)


def _print_summary_shares(summary, ref: str) -> None:
    from rich.table import Table

    table = Table(title=f"{summary.n:,} comments, model {ref}"
                  + (f", {summary.abstained:,} unsure" if summary.abstained else ""), title_justify="left")
    for col in ("label", "count", "share", "95% interval"):
        table.add_column(col, justify="left" if col == "label" else "right")
    for label, k, share, lo, hi in summary.rows():
        table.add_row(label, f"{k:,}", f"{share:.0%}", f"{lo:.0%}–{hi:.0%}")
    ui.table(table)


@app.command()
def evaluate(
    dataset: Annotated[Optional[Path], typer.Argument(
        help="Gold-labelled dataset [default: the starter corpus' test split].")] = None,
    model: Annotated[Optional[str], typer.Option(
        "--model", "-m", help="NAME@vN [default: the promoted version].")] = None,
    output: Annotated[Optional[Path], typer.Option(
        "--output", "-o", help="Folder for metrics.json, report.md, PNG plots and junit.xml "
        "[default: evaluation/<name>-<version>].")] = None,
    min_macro_f1: Annotated[Optional[float], typer.Option(
        help="Fail unless stance and themes macro-F1 are at least this.")] = None,
    min_f1: Annotated[Optional[list[str]], typer.Option(
        help="LABEL=X: fail unless that label's F1 is at least X (repeatable).")] = None,
    baseline: Annotated[Optional[str], typer.Option(
        help="NAME@vN to compare with on the same gold labels.")] = None,
    max_drop: Annotated[Optional[float], typer.Option(
        help="With --baseline: the most macro-F1 may fall below the baseline's.")] = None,
    codebook_file: CodebookOpt = None,
    models_dir: ModelsDirOpt = None,
) -> None:
    """Measure a model on gold labels; with gates, exit 1 when quality falls (for CI)."""
    from .codebook import load_codebook
    from .evaluate import check_gates, measure, write_reports
    from .paths import home, starter_dir
    from .training import load_model

    book = load_codebook(codebook_file)
    dataset = dataset or starter_dir() / "test"
    root = _models_root(models_dir)
    trained, version = load_model(root, model)
    metrics = measure(trained, version.ref, version.manifest["codebook"]["version"], dataset, book)
    base_metrics = None
    if baseline:
        base_model, base_version = load_model(root, baseline)
        base_metrics = measure(base_model, base_version.ref, base_version.manifest["codebook"]["version"],
                               dataset, book)
    limits: dict[str, float] = {}
    for item in min_f1 or []:
        label, sep, value = item.partition("=")
        try:
            limits[label.strip()] = float(value)
        except ValueError:
            raise CommentaryError(f"--min-f1 {item!r} is not LABEL=NUMBER", fix="write e.g. --min-f1 listening=0.5") from None
    gates = check_gates(metrics, min_macro_f1=min_macro_f1, min_f1=limits, baseline=base_metrics,
                        max_drop=max_drop)
    folder = output or home() / "evaluation" / f"{version.name}-{version.version}"
    write_reports(metrics, gates, folder)
    typer.echo(json.dumps({"model": version.ref, "stance_macro_f1": metrics["stance"]["macro_f1"],
                           "themes_macro_f1": metrics["themes"]["macro_f1"],
                           "gates_failed": sum(not g.passed for g in gates)}))
    ui.info(f"stance macro-F1 {metrics['stance']['macro_f1']:.3f}, themes macro-F1 "
            f"{_fmt(metrics['themes']['macro_f1'])} on {metrics['n']} comments; report in {folder}")
    failed = [g for g in gates if not g.passed]
    if failed:
        raise CommentaryError(f"{len(failed)} of {len(gates)} gates failed: "
                              + "; ".join(g.describe() for g in failed),
                              fix=f"see {folder / 'report.md'}")
    if gates:
        ui.good(f"all {len(gates)} gates passed")


models_app = typer.Typer(cls=_Boundary, no_args_is_help=True, rich_markup_mode=None,
                          help="List, inspect, verify, promote and compare model versions.")
app.add_typer(models_app, name="models")
ModelsDirOpt = Annotated[Optional[Path], typer.Option(
    "--models-dir", help="Folder of model versions [default: $COMMENTARY_HOME/models].")]


def _models_root(models_dir: Optional[Path]) -> Path:
    from .paths import models_dir as default_models

    return models_dir or default_models()


@app.command()
def train(
    dataset: Annotated[Optional[Path], typer.Argument(
        help="Labelled dataset folder [default: the starter corpus' train split].")] = None,
    labels: Annotated[Optional[Path], typer.Option(
        help="Labels file (JSONL or CSV: comment_id, stance, themes) for the dataset.")] = None,
    backend: Annotated[Optional[str], typer.Option(help="tfidf, embeddings or finetune.")] = None,
    base_model: Annotated[Optional[str], typer.Option(
        help="Local folder or hub id of the encoder (embeddings, finetune).")] = None,
    config: Annotated[Optional[Path], typer.Option(
        "--config", help="TOML file of settings; options given here override it.")] = None,
    name: Annotated[Optional[str], typer.Option(help="Model name under models/.")] = None,
    seed: Annotated[Optional[int], typer.Option(help="Random seed.")] = None,
    cv_folds: Annotated[Optional[int], typer.Option(help="Cross-validation folds.")] = None,
    heldout: Annotated[Optional[Path], typer.Option(
        help="Labelled dataset to score after training [default: starter dev split, with the default data].")] = None,
    adapt: Annotated[Optional[Path], typer.Option(
        help="Unlabelled dataset of your own comments to adapt the model to.")] = None,
    adapt_method: Annotated[Optional[str], typer.Option(
        help="How --adapt uses them: vocabulary (fit the features on them too) or self-training "
        "(add the comments the model is surest of, with its labels) [default: vocabulary].")] = None,
    promote_it: Annotated[Optional[bool], typer.Option(
        "--promote/--no-promote", help="Promote the new version [default: only if none is promoted yet].")] = None,
    codebook_file: CodebookOpt = None,
    models_dir: ModelsDirOpt = None,
) -> None:
    """Train a stance and themes model and save it as a new immutable version."""
    from .codebook import load_codebook
    from .label.io import read_labels_file
    from .paths import starter_dir
    from .train import TrainConfig
    from .training import train_version

    book = load_codebook(codebook_file)
    if dataset is None:
        dataset = starter_dir() / "train"
        heldout = heldout or starter_dir() / "dev"
    settings = TrainConfig.resolve(config, {"backend": backend, "base_model": base_model, "name": name,
                                            "seed": seed, "cv_folds": cv_folds,
                                            "adapt_method": adapt_method})
    label_list = read_labels_file(labels, book) if labels else None
    ui.info(f"training {settings.backend} on {dataset}")
    outcome = train_version(dataset, book, settings, _models_root(models_dir), labels=label_list,
                            heldout=heldout, adapt=adapt, make_production=promote_it,
                            progress=ui.info if ui.verbosity >= 0 else None)
    _print_scores(outcome.metrics)
    ui.good(f"saved {outcome.version.ref} in {outcome.version.path}"
            + (" (promoted)" if outcome.promoted else ""))
    typer.echo(outcome.version.ref)


def _fmt(x) -> str:
    return "n/a" if x is None else f"{x:.3f}"


def _print_scores(metrics: dict) -> None:
    from rich.table import Table

    table = Table(title="scores", title_justify="left")
    table.add_column("label", no_wrap=True)
    table.add_column("cv F1", justify="right")
    has_heldout = "heldout" in metrics
    if has_heldout:
        table.add_column("held-out F1", justify="right")
    for head in ("stance", "themes"):
        for lab, m in metrics["cv"][head]["per_label"].items():
            row = [f"{head}:{lab}", f"{m['f1']:.3f}"]
            if has_heldout:
                row.append(f"{metrics['heldout'][head]['per_label'][lab]['f1']:.3f}")
            table.add_row(*row)
        row = [f"{head} macro-F1", _fmt(metrics["cv"][head]["macro_f1"])]
        if has_heldout:
            row.append(_fmt(metrics["heldout"][head]["macro_f1"]))
        table.add_row(*row, style="bold")
    ui.table(table)


@models_app.command("list")
def models_list(models_dir: ModelsDirOpt = None) -> None:
    """List every model version, marking the promoted ones."""
    from .registry import list_versions, production

    root = _models_root(models_dir)
    for v in list_versions(root):
        mark = "*" if production(root, v.name) == v.version else " "
        cv = json.loads((v.path / "metrics.json").read_text())["cv"] if (v.path / "metrics.json").is_file() else {}
        typer.echo(f"{mark} {v.ref}\t{v.manifest.get('created', '')}\t{v.manifest.get('backend', '')}\t"
                   f"stance {_fmt(cv.get('stance', {}).get('macro_f1'))}\t"
                   f"themes {_fmt(cv.get('themes', {}).get('macro_f1'))}")


@models_app.command("show")
def models_show(ref: Annotated[Optional[str], typer.Argument(help="NAME@vN [default: the promoted one].")] = None,
                models_dir: ModelsDirOpt = None) -> None:
    """Print a version's manifest as JSON."""
    from .registry import resolve

    typer.echo(json.dumps(resolve(_models_root(models_dir), ref).manifest, indent=2))


@models_app.command("verify")
def models_verify(ref: Annotated[Optional[str], typer.Argument(help="NAME@vN [default: the promoted one].")] = None,
                  models_dir: ModelsDirOpt = None) -> None:
    """Check every file of a version against the sha256 in its manifest."""
    from .registry import resolve, verify

    version = resolve(_models_root(models_dir), ref)
    verify(version)
    ui.good(f"{version.ref}: all {len(version.manifest['files'])} files match their sha256")


@models_app.command("promote")
def models_promote(ref: Annotated[str, typer.Argument(help="NAME@vN to promote.")],
                   models_dir: ModelsDirOpt = None) -> None:
    """Make a version the default for classify and evaluate."""
    from .registry import promote

    version = promote(_models_root(models_dir), ref)
    ui.good(f"promoted {version.ref}")


@models_app.command("diff")
def models_diff(a: Annotated[str, typer.Argument(help="First NAME@vN.")],
                b: Annotated[str, typer.Argument(help="Second NAME@vN.")],
                models_dir: ModelsDirOpt = None) -> None:
    """Compare two versions: settings, training data and per-label scores side by side."""
    from rich.console import Console
    from rich.table import Table

    from .registry import resolve

    root = _models_root(models_dir)
    va, vb = resolve(root, a), resolve(root, b)
    table = Table(show_lines=False)
    table.add_column("")
    table.add_column(va.ref)
    table.add_column(vb.ref)
    flat = lambda v: {**{f"config.{k}": x for k, x in v.manifest["config"].items()},  # noqa: E731
                      "backend": v.manifest["backend"], "base_model": v.manifest.get("base_model"),
                      "codebook": v.manifest["codebook"]["version"],
                      "data.sha256": v.manifest["training_data"]["sha256"][:12],
                      "data.n": v.manifest["training_data"]["n"]}
    fa, fb = flat(va), flat(vb)
    for key in sorted(set(fa) | set(fb)):
        if fa.get(key) != fb.get(key):
            table.add_row(key, str(fa.get(key)), str(fb.get(key)), style="bold")
    ma = json.loads((va.path / "metrics.json").read_text())["cv"]
    mb = json.loads((vb.path / "metrics.json").read_text())["cv"]
    for head in ("stance", "themes"):
        for lab in ma[head]["per_label"]:
            x, y = ma[head]["per_label"][lab]["f1"], mb[head]["per_label"].get(lab, {}).get("f1", float("nan"))
            table.add_row(f"{head}:{lab} F1", f"{x:.3f}", f"{y:.3f} ({y - x:+.3f})")
        x, y = ma[head]["macro_f1"], mb[head]["macro_f1"]
        if x is not None and y is not None:
            table.add_row(f"{head} macro-F1", f"{x:.3f}", f"{y:.3f} ({y - x:+.3f})", style="bold")
    Console(highlight=False).print(table)


label_app = typer.Typer(cls=_Boundary, no_args_is_help=True, rich_markup_mode=None,
                         help="Work with labels: agreement between annotators.")
app.add_typer(label_app, name="label")


def _labels_from(path: Path, book):
    from .dataset import read_dataset
    from .label.io import read_labels_file

    if path.is_dir():
        labels = read_dataset(path).labels
        if not labels:
            raise CommentaryError(f"{path} has no labels", fix="pass a labels file or a labelled dataset")
        return labels
    return read_labels_file(path, book)


@label_app.command("agreement")
def label_agreement(
    first: Annotated[Path, typer.Argument(help="Labels of the first annotator (file or labelled dataset).")],
    second: Annotated[Path, typer.Argument(help="Labels of the second annotator.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the figures as JSON.")] = False,
    codebook_file: CodebookOpt = None,
) -> None:
    """Cohen's kappa between two annotators, for stance and each theme, with the disagreements."""
    from rich.table import Table

    from .codebook import load_codebook
    from .label.agreement import pairwise_agreement

    book = load_codebook(codebook_file)
    result = pairwise_agreement(_labels_from(first, book), _labels_from(second, book), book)
    if as_json:
        typer.echo(json.dumps(result.to_dict(), indent=2))
        return
    table = Table(title=f"agreement on {result.n} comments", title_justify="left")
    for col in ("label", "kappa", "agreement"):
        table.add_column(col, justify="left" if col == "label" else "right")
    table.add_row("stance", f"{result.stance_kappa:.3f}", f"{result.stance_agreement:.1%}", style="bold")
    for theme, m in result.themes.items():
        table.add_row(theme, f"{m['kappa']:.3f}", f"{m['agreement']:.1%}")
    from rich.console import Console

    Console(highlight=False).print(table)
    ui.info(f"{len(result.disagreements)} comments differ; --json lists them for adjudication")


def main() -> None:
    """Entry point for the console script and ``python -m commentary``."""
    app(prog_name="commentary")
