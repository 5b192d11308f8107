"""Commands that use a model: classify, report, evaluate and serve."""

from __future__ import annotations

import itertools
import json
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from ..errors import UsageError
from ..ingest.base import MAX_COMMENT_CHARS
from ..paths import find_input, find_source
from ._app import (
    CodebookOpt,
    CommentaryError,
    ForceOpt,
    MaxCharsOpt,
    ModelsDirOpt,
    RuntimeOpt,
    app,
    fmt,
    models_root,
    ui,
)


@app.command()
def classify(
    source: Annotated[str, typer.Argument(parser=find_source, metavar="SOURCE", 
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
    encoding: Annotated[str, typer.Option(
        help="Text encoding of the input: auto is UTF-8, or the encoding a non-UTF-8 file most likely has, "
        "with a warning (UTF-16 and UTF-32 by their byte-order mark); a named one is used as given.")] = "auto",
    explain: Annotated[bool, typer.Option(
        "--explain", help="Add the sentence behind each label.")] = False,
    batch_size: Annotated[Optional[int], typer.Option(
        min=1, help="Comments scored per batch [default: 2500 for tfidf and static-encoder models, 1000 for "
        "transformers; with --engine ray, 256, and at most 256].")] = None,
    jobs: Annotated[int, typer.Option(
        min=0, help="Processes scoring batches [default 0: one per core, at most 4, for tfidf and static-encoder "
        "models; 1 for transformers].")] = 0,
    force: ForceOpt = False,
    max_comment_chars: MaxCharsOpt = MAX_COMMENT_CHARS,
    runtime: RuntimeOpt = None,
    engine: Annotated[str, typer.Option(
        metavar="<local|ray>", help="local: this process (and --jobs); ray: a Ray Data job over Parquet or JSON "
        "Lines shards or a dataset folder, writing Parquet shards and a manifest into the -o folder.")] = "local",
    ray_address: Annotated[Optional[str], typer.Option(
        help="With --engine ray: the cluster's head, host:port or ray://host:port [default: $RAY_ADDRESS, "
        "else a local cluster].")] = None,
    workers: Annotated[int, typer.Option(min=1, help="With --engine ray: actors scoring at once, each "
                                         "loading the model once.")] = 2,
    gpus_per_worker: Annotated[float, typer.Option(min=0, help="With --engine ray: GPUs for each actor (e.g. 1, "
                                                   "or 0.5 to share one between two); the encoder runs on "
                                                   "it.")] = 0.0,
    models_dir: ModelsDirOpt = None,
) -> None:
    """Score comments with a trained model: stance, themes, probabilities, abstain flags."""
    if engine not in ("local", "ray"):
        raise UsageError(f"unknown engine {engine!r}", fix="use local or ray")
    if engine == "ray":
        from ..ray_engine import classify_on_ray

        if output is None or str(output) == "-":
            raise UsageError("--engine ray writes a folder of Parquet shards", fix="pass -o FOLDER")
        if source == "-":
            raise UsageError("--engine ray reads files, not stdin", fix="pass a file, a folder of shards, "
                                  "or a dataset folder")
        ui.info("scoring on Ray (a local cluster takes a few seconds to start)")
        manifest = classify_on_ray(Path(source), output, models_dir=models_root(models_dir), ref=model,
                                   address=ray_address, workers=workers, batch_size=min(batch_size or 256, 256),
                                   text_column=text_column, force=force, runtime=runtime,
                                   gpus_per_worker=gpus_per_worker)
        ui.good(f"wrote {manifest['rows']:,} predictions in {len(manifest['shards'])} Parquet shards to {output} "
                f"({manifest['seconds']} s on {workers} Ray workers; {output / 'manifest.json'} lists them)")
        return
    import csv as csv_mod

    from .._procs import cap_jobs
    from ..backends.base import fork_jobs
    from ..classify import CSV_FIELDS, Summary, is_predictions_file, read_items, score, write_csv_row
    from ..dataset import atomic_file, claim_output
    from ..ingest import ReadOptions
    from ..training import load_model

    if output is not None and str(output) == "-":  # - is stdout, as everywhere
        output = None
    fmt = out_format or (output.suffix.lstrip(".").lower() if output and output.suffix else None)
    fmt = fmt or ("table" if output is None and sys.stdout.isatty() else "jsonl")
    if fmt not in ("table", "jsonl", "json", "csv"):
        raise UsageError(f"unknown output format {fmt!r}", fix="use table, jsonl, json or csv")
    if fmt == "table" and output is not None and str(output) != "-":
        raise UsageError("the table is drawn on the terminal, not written to a file",
                         fix="write a file as csv, jsonl or json (--format, or the -o file's extension)")
    if output is not None:  # before the scoring, not after
        claim_output(output, force=force, ours=is_predictions_file, what="a predictions file",
                     fix="pass --force to replace it", folder=False, inputs=[source])
    trained, version = load_model(models_root(models_dir), model)
    dec = trained.decisions
    if source == "-" and sys.stdin.isatty():
        ui.info("reading comments from the terminal: paste or type them, then press Ctrl-D")
    items = iter(read_items(source, fmt=input_format, per_line=per_line, warn=ui.warn,
                            options=ReadOptions(text_column=text_column, max_comment_chars=max_comment_chars,
                                                encoding=encoding)))
    # the first comment is read before anything is written: a source that cannot be read fails with
    # its one line on stderr, not after a CSV header (or a JSON "[") on stdout
    first = next(items, None)
    items = itertools.chain([first], items) if first is not None else iter(())
    summary = Summary(dec.stance_labels, dec.theme_labels)
    rows_for_table: list[dict] = []

    def emit(out) -> None:
        writer = None
        if fmt == "csv":
            writer = csv_mod.writer(out)
            writer.writerow(CSV_FIELDS + [f"p_{s}" for s in dec.stance_labels] + [f"p_{t}" for t in dec.theme_labels]
                            + (["evidence"] if explain else []))
        if fmt == "json":
            out.write("[")
        with ui.progress("classifying") as advance:
            for k, pred in enumerate(score(trained, items, model_ref=version.ref, batch_size=batch_size,
                                           explain=explain, progress=advance,
                                           jobs=cap_jobs(jobs, ui.warn) if jobs > 0 else fork_jobs(trained.backend))):
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
        probs = r["stance_probs"]
        read = max(probs, key=probs.get)
        stance = f"{r['stance']} {probs[r['stance']]:.2f}" + (" (unsure)" if r["abstain"] else "")
        if read != r["stance"]:  # a rule decided (the codebook's nothing_new rule, a deciding stance rule)
            stance += f"\nby rule; the model read {read} {probs[read]:.2f}"
        themes = ", ".join(f"{t} {r['theme_probs'][t]:.2f}" for t in r["themes"]) or "-"
        if explain and r.get("evidence"):
            themes += "\n" + "\n".join(f"{k}: \u201c{v[:120]}\u201d" for k, v in r["evidence"].items())
        table.add_row(who + text, stance, themes)
    Console(highlight=False).print(table)


def _print_summary_shares(summary, ref: str) -> None:
    if ui.verbosity < 0:  # --quiet: nothing would be shown, so neither the intervals (scipy.stats) nor rich's table
        return
    from rich.table import Table

    table = Table(title=f"{summary.n:,} comments, model {ref}"
                  + (f", {summary.abstained:,} unsure" if summary.abstained else ""), title_justify="left")
    for col in ("label", "count", "share", "95% interval"):
        table.add_column(col, justify="left" if col == "label" else "right")
    for label, k, share, lo, hi in summary.rows():
        table.add_row(label, f"{k:,}", f"{share:.0%}", f"{lo:.0%}–{hi:.0%}")
    ui.table(table)


@app.command()
def report(
    source: Annotated[str, typer.Argument(parser=find_source, metavar="SOURCE", 
        help="Comments to report on: a copied page, any format ingest reads, plain text, or - for stdin.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="The HTML file to write.")],
    model: Annotated[Optional[str], typer.Option(
        "--model", "-m", help="NAME@vN [default: the promoted version of 'commentary'].")] = None,
    examples: Annotated[int, typer.Option(min=0, help="Example comments shown per label.")] = 3,
    per_line: Annotated[bool, typer.Option("--per-line", help="Plain text: one comment per line.")] = False,
    input_format: Annotated[Optional[str], typer.Option(
        help="Force the input format (as ingest --format).")] = None,
    text_column: Annotated[Optional[str], typer.Option(help="Column holding the comment text.")] = None,
    codebook_file: CodebookOpt = None,
    force: ForceOpt = False,
    models_dir: ModelsDirOpt = None,
) -> None:
    """Write one self-contained HTML page: stance and theme charts, examples, the model's quality."""
    from ..classify import read_items
    from ..codebook import load_codebook
    from ..dataset import atomic_file, claim_output
    from ..ingest import ReadOptions
    from ..registry import read_metrics
    from ..report import collect, is_report_file, model_quality, render_html
    from ..training import load_model

    if output.suffix.lower() not in (".html", ".htm"):
        raise CommentaryError(f"{output}: the report is HTML", fix="name the output file *.html")
    claim_output(output, force=force, ours=is_report_file, what="an HTML report",  # before the scoring
                 fix="pass --force to replace it", folder=False, inputs=[source])
    trained, version = load_model(models_root(models_dir), model)
    items = read_items(source, fmt=input_format, per_line=per_line, options=ReadOptions(text_column=text_column),
                       warn=ui.warn)
    with ui.progress("scoring") as advance:
        data = collect(trained, items, model_ref=version.ref, per_label=examples, progress=advance)
    if data.summary.n == 0:
        raise CommentaryError(f"found no comments in {source}",
                              fix="pass a file with comment text (use --per-line for one per line)")
    data.quality = model_quality(version.manifest, read_metrics(version))
    book = load_codebook(codebook_file)
    data.descriptions = {t.id: t.description for t in book.themes}
    html = render_html(data)
    with atomic_file(output, force=force) as fh:
        fh.write(html)
    ui.good(f"wrote the report on {data.summary.n:,} comments to {output}")


def _report_name(version, real: bool, sources: list[str] | None, dataset, labels: Path | None) -> str:
    """The default report folder's name: one per model version and gold set (*dataset*, the one
    scored), so scoring a version on the real set does not replace its report on the starter test
    split, nor on a dataset of yours.

    A dataset of yours is named by its folder and a short hash of its full path (and the labels
    file's), so two folders called ``dev`` in different places, or a folder called ``real``, never
    share a report with each other or with the real set."""
    import hashlib
    import re

    from ..paths import starter_dir

    name = f"{version.name}-{version.version}"
    if real:
        return "-".join([name, "real", *sorted(set(sources or []))])
    data = Path(dataset).resolve()
    if labels is None and data == (starter_dir() / "test").resolve():
        return name
    parts, keys = [name, "on", data.name or "dataset"], [str(data)]
    if labels is not None:
        parts.append(labels.stem)
        keys.append(str(labels.resolve()))
    digest = hashlib.sha256("\n".join(keys).encode("utf-8")).hexdigest()[:8]
    return re.sub(r"[^\w.-]+", "_", "-".join(parts)).strip("._") + "-" + digest


@app.command()
def evaluate(
    dataset: Annotated[Optional[Path], typer.Argument(parser=find_input, metavar="DATASET", 
        help="Gold-labelled dataset [default: the starter corpus' test split].")] = None,
    model: Annotated[Optional[str], typer.Option(
        "--model", "-m", help="NAME@vN [default: the promoted version].")] = None,
    output: Annotated[Optional[Path], typer.Option(
        "--output", "-o", help="Folder for metrics.json, report.md, PNG plots and junit.xml "
        "[default: evaluation/<name>-<version> for the starter test split, <name>-<version>-real with --real, "
        "<name>-<version>-on-<dataset>-<hash of its path> for a dataset of yours; each replaces the model's last "
        "report on that set].")] = None,
    force: Annotated[bool, typer.Option(
        "--force", help="Replace the --output folder if it holds an earlier evaluation report (never anything else).")] = False,
    min_macro_f1: Annotated[Optional[float], typer.Option(
        min=0.0, max=1.0, help="Fail unless stance and themes macro-F1 are at least this.")] = None,
    min_f1: Annotated[Optional[list[str]], typer.Option(
        help="LABEL=X: fail unless that label's F1 is at least X (repeatable).")] = None,
    baseline: Annotated[Optional[str], typer.Option(
        help="NAME@vN to compare with on the same gold labels.")] = None,
    max_drop: Annotated[Optional[float], typer.Option(
        min=0.0, max=1.0, help="With --baseline: the most macro-F1 may fall below the baseline's.")] = None,
    labels: Annotated[Optional[Path], typer.Option(
        "--labels", parser=find_input, metavar="PATH", help="Gold labels for DATASET from a labels file (JSON Lines or CSV, as annotate and "
        "label import write them) instead of the dataset's own.")] = None,
    real: Annotated[bool, typer.Option(
        "--real", help="Score the real evaluation set (data/real/eval: real comments from several public "
        "sources, read in place from the corpora folder), source by source; gates apply to all of it.")] = False,
    corpora: Annotated[Optional[Path], typer.Option(
        help="With --real: the public corpora folder [default: $COMMENTARY_CORPORA, else ../shared/corpora].")] = None,
    source: Annotated[Optional[list[str]], typer.Option(
        help="With --real: only this source (repeatable): nyt_rfd, reddit, sfu_globe, nhs_feedback.")] = None,
    codebook_file: CodebookOpt = None,
    runtime: RuntimeOpt = None,
    models_dir: ModelsDirOpt = None,
) -> None:
    """Measure a model on gold labels; with gates, exit 1 when quality falls (for CI)."""
    from ..codebook import load_codebook
    from ..dataset import claim_output
    from ..evaluate import check_gates, is_report_folder, measure, write_reports
    from ..paths import home, starter_dir
    from ..registry import trained_on
    from ..training import load_model

    limits: dict[str, float] = {}  # options first: a typo fails before any model is loaded
    for item in min_f1 or []:
        label, sep, value = item.partition("=")
        label = label.strip()  # as classify's summary names them: stance:agree, theme:listening (themes: too)
        label = label.removeprefix("stance:").removeprefix("themes:").removeprefix("theme:")
        try:
            limits[label] = float(value)
            if not 0.0 <= limits[label] <= 1.0:
                raise ValueError(value)
        except ValueError:
            raise UsageError(f"--min-f1 {item!r} is not LABEL=NUMBER",
                             fix="write e.g. --min-f1 listening=0.5 (a number from 0 to 1)") from None
    if output is not None:  # before the scoring, not after
        claim_output(output, force=force, ours=is_report_folder, what="an evaluation report",
                     fix="pass --force to replace an earlier report there")
    book = load_codebook(codebook_file)
    by = None
    if real:
        if dataset is not None:
            raise UsageError("--real and a DATASET were both given", fix="pass one of them")
        from ..realset import combined_real

        dataset, by = combined_real(corpora, sources=source)
    elif corpora is not None or source:
        raise UsageError("--corpora and --source go with --real", fix="add --real")
    if labels is not None and (real or dataset is None):
        raise UsageError("--labels goes with a DATASET of yours", fix="pass the dataset the labels were made on")
    if max_drop is not None and baseline is None:
        raise UsageError("--max-drop needs --baseline", fix="name the model to compare with, e.g. --baseline commentary@v1")
    gold_labels = None
    if labels is not None:
        from ..label.io import read_labels_file

        gold_labels = read_labels_file(labels, book)
    dataset = dataset or starter_dir() / "test"
    root = models_root(models_dir)
    trained, version = load_model(root, model)
    known = set(trained.decisions.stance_labels) | set(trained.decisions.theme_labels)
    unknown = [label for label in limits if label not in known]
    if unknown:  # before the scoring, which can take minutes
        raise UsageError(f"--min-f1 names {unknown[0]!r}, which is not a label of {version.ref}",
                         fix=f"use one of {', '.join(sorted(known))}")
    ui.info(f"scoring {'the real evaluation set' if real else dataset} with {version.ref}"
            + (f" and {baseline}" if baseline else ""))
    metrics = measure(trained, version.ref, version.manifest["codebook"]["version"], dataset, book, by=by,
                      labels=gold_labels, seen=trained_on(version))
    if metrics.get("in_training"):
        ui.warn(f"{metrics['in_training']:,} of the {metrics['n']:,} gold comments were in {version.ref}'s training "
                "data: these figures overstate how it reads new comments")
    base_metrics = None
    if baseline:
        base_model, base_version = load_model(root, baseline)
        base_metrics = measure(base_model, base_version.ref, base_version.manifest["codebook"]["version"],
                               dataset, book, by=by, labels=gold_labels, seen=trained_on(base_version))
        if base_metrics.get("in_training"):  # a baseline scored on its own training data sets the bar too high
            ui.warn(f"{base_metrics['in_training']:,} of the {base_metrics['n']:,} gold comments were in the baseline "
                    f"{base_version.ref}'s training data: its figures, and so the --max-drop limits, are too high")
        metrics["baseline"] = {"model": base_version.ref, "stance_macro_f1": base_metrics["stance"]["macro_f1"],
                               "themes_macro_f1": base_metrics["themes"]["macro_f1"],
                               **({"in_training": base_metrics["in_training"]} if "in_training" in base_metrics else {})}
    gates = check_gates(metrics, min_macro_f1=min_macro_f1, min_f1=limits, baseline=base_metrics,
                        max_drop=max_drop)
    folder = output or home() / "evaluation" / _report_name(version, real, source, dataset, labels)
    write_reports(metrics, gates, folder, force=force or output is None)
    summary = {"model": version.ref, "stance_macro_f1": metrics["stance"]["macro_f1"],
               "themes_macro_f1": metrics["themes"]["macro_f1"], "gates_failed": sum(not g.passed for g in gates)}
    if by:
        summary["sources"] = {name: {"stance_macro_f1": g["stance"]["macro_f1"], "themes_macro_f1": g["themes"]["macro_f1"],
                                     "n": g["n"]} for name, g in metrics["groups"].items()}
    typer.echo(json.dumps(summary))
    for name, g in (metrics.get("groups") or {}).items():
        ui.info(f"{name}: stance macro-F1 {fmt(g['stance']['macro_f1'])}, themes macro-F1 "
                f"{fmt(g['themes']['macro_f1'])} on {g['n']} comments")
    ui.info(f"stance macro-F1 {fmt(metrics['stance']['macro_f1'])}, themes macro-F1 "
            f"{fmt(metrics['themes']['macro_f1'])} on {metrics['n']} comments; report in {folder}")
    failed = [g for g in gates if not g.passed]
    if failed:
        raise CommentaryError(f"{len(failed)} of {len(gates)} gates failed: "
                              + "; ".join(g.describe() for g in failed),
                              fix=f"see {folder / 'report.md'}")
    if gates:
        ui.good(f"all {len(gates)} gates passed")


@app.command()
def serve(
    model: Annotated[Optional[str], typer.Option(
        "--model", "-m", help="NAME@vN [default: the promoted version of 'commentary'].")] = None,
    host: Annotated[str, typer.Option(help="Address to listen on (127.0.0.1: this machine only).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="Port to listen on.")] = 8000,
    max_comments: Annotated[int, typer.Option(min=1, help="Most comments in one request.")] = 1000,
    max_comment_chars: Annotated[int, typer.Option(
        "--max-comment-chars", min=1, help="Refuse (413) a request with a comment longer than this many "
        "characters; an article may be ten times as long.")] = MAX_COMMENT_CHARS,
    runtime: RuntimeOpt = None,
    models_dir: ModelsDirOpt = None,
) -> None:
    """Serve a model over HTTP: POST /classify, GET /health and /model, OpenAPI docs at /docs."""
    try:
        import fastapi  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError:
        raise CommentaryError("serve needs FastAPI and uvicorn", fix="pip install 'commentary-nlp[serve]' (or '.[serve]' in a clone)") from None
    from ..api import load
    from ..serve import serve as run

    m = load(model, models_dir=models_root(models_dir))
    ui.info(f"serving {m.ref} on http://{host}:{port} (docs at /docs); Ctrl-C stops")
    run(m, host=host, port=port, max_comments=max_comments, max_chars=max_comment_chars)
