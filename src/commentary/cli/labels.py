"""Commands over labels: annotate, and label rules, export, import, agreement, issues, attach, llm."""

from __future__ import annotations

import json
import os
from collections import Counter
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from ..errors import UsageError
from ..paths import find_input
from ._app import CodebookOpt, CommentaryError, ForceOpt, ModelsDirOpt, app, fmt, group, models_root, ui

label_app = group("label", "Labels: rules, annotation-tool export and import, agreement, likely errors.")

ModelOpt = Annotated[Optional[str], typer.Option(
    "--model", "-m", help="NAME@vN for suggestions [default: the promoted version, if any].")]
NoModelOpt = Annotated[bool, typer.Option("--no-model", help="No model suggestions.")]


def _console():
    """Tables on stdout, wide enough for their columns even when piped."""
    import sys

    from rich.console import Console

    return Console(highlight=False, width=None if sys.stdout.isatty() else 160)


def _labels_from(path: Path, book, *, per_annotator: bool = False):
    from ..dataset import read_dataset
    from ..label.io import read_labels_file

    if path.is_dir():
        labels = read_dataset(path).labels
        if not labels:
            raise CommentaryError(f"{path} has no labels", fix="pass a labels file or a labelled dataset")
        return labels
    return read_labels_file(path, book, per_annotator=per_annotator)


def _suggestions(dataset, models_dir, model: str | None, no_model: bool) -> tuple[dict[str, dict], str | None]:
    """The model's prediction for every comment of *dataset*, or nothing when there is no model."""
    from ..classify import items_from_records, score
    from ..registry import production
    from ..training import load_model

    if no_model:
        return {}, None
    root = models_root(models_dir)
    if model is None and production(root, "commentary") is None:
        ui.info("no promoted model, so no suggestions (train one with `commentary train --promote`)")
        return {}, None
    trained, version = load_model(root, model)
    ui.info(f"scoring {len(dataset.comments):,} comments with {version.ref} for its suggestions")
    items = items_from_records(dataset.articles, dataset.comments)
    with ui.progress("scoring", total=len(dataset.comments)) as advance:
        return {p["id"]: p for p in score(trained, items, model_ref=version.ref, progress=advance)}, version.ref


@app.command()
def annotate(
    dataset: Annotated[Path, typer.Argument(parser=find_input, metavar="DATASET", help="Dataset folder to label (from `commentary ingest`).")],
    annotator: Annotated[Optional[str], typer.Option(
        "--annotator", "-a", help="Your name, saved with every label [default: $USER].")] = None,
    output: Annotated[Optional[Path], typer.Option(
        "--output", "-o", help="Labels file, appended to as you go [default: "
        "$COMMENTARY_HOME/labels/<dataset>.<annotator>.jsonl].")] = None,
    order: Annotated[str, typer.Option(help="shuffle (seeded) or uncertainty (least sure first).")] = "shuffle",
    seed: Annotated[int, typer.Option(help="Seed of the shuffle.")] = 0,
    model: ModelOpt = None,
    no_model: NoModelOpt = False,
    codebook_file: CodebookOpt = None,
    models_dir: ModelsDirOpt = None,
) -> None:
    """Label comments one keystroke at a time, with the model's suggestion preselected; resumes where you stopped."""
    from ..annotate import Session, build_items, main_loop, order_queue, read_done
    from ..codebook import load_codebook
    from ..dataset import read_dataset
    from ..label.io import LabelsAppender
    from ..paths import home

    book = load_codebook(codebook_file)
    ds = read_dataset(dataset)
    who = annotator or os.environ.get("USER") or "annotator"
    out = output or home() / "labels" / f"{Path(dataset).resolve().name}.{who}.jsonl"
    with LabelsAppender(out, warn=ui.warn) as writer:  # locked first: a second session is refused here
        done = read_done(out, who, book)
        suggestions, ref = _suggestions(ds, models_dir, model, no_model)
        items = order_queue(build_items(ds.articles, ds.comments, suggestions), order, seed)
        session = Session(items, book, who, out, done=done, writer=writer)
        if not session.queue:
            ui.good(f"all {len(items)} comments are already labelled by {who} in {out}")
            return
        ui.info(f"{len(done)} of {len(items)} already labelled by {who}; saving to {out}"
                + (f"; suggestions from {ref}" if ref else ""))
        try:
            main_loop(session)
        except KeyboardInterrupt:  # what was saved is on disk: say so, not the boundary's "nothing was written"
            ui.good(f"interrupted; saved {session.saved} labels this session ({len(session.done)} of "
                    f"{len(items)} in all) to {out}")
            raise typer.Exit(130) from None
        ui.good(f"saved {session.saved} labels this session ({len(session.done)} of {len(items)} in all) to {out}")


@label_app.command("rules")
def label_rules(
    dataset: Annotated[Optional[Path], typer.Argument(parser=find_input, metavar="DATASET", help="Dataset folder to apply the rules to.")] = None,
    rules_file: Annotated[Optional[Path], typer.Option(
        "--rules", "-r", help="Rules file [default: the one shipped with commentary].")] = None,
    output: Annotated[Optional[Path], typer.Option(
        "--output", "-o", help="Write the combined weak labels here (JSONL), for `train --labels`.")] = None,
    combine_with: Annotated[str, typer.Option(
        "--combine", help="majority or label-model.")] = "label-model",
    gold: Annotated[Optional[Path], typer.Option(
        help="Gold labels to measure each rule against [default: the dataset's own labels, if any].")] = None,
    write: Annotated[Optional[Path], typer.Option(
        "--write", help="Write a copy of the rules file to edit, and stop.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    codebook_file: CodebookOpt = None,
    force: ForceOpt = False,
) -> None:
    """Apply labelling rules: weak labels, and each rule's coverage, overlaps, conflicts and accuracy."""
    from ..codebook import load_codebook
    from ..dataset import atomic_file, claim_output, read_dataset, starts_like
    from ..label.io import is_labels_file, write_labels_jsonl
    from ..label.rules import apply_rules, combine, default_rules_path, load_rules, rule_report

    if write is not None:
        shipped = default_rules_path().read_text(encoding="utf-8")
        claim_output(write, force=force, ours=lambda p: starts_like(p, shipped), what="a rules file", folder=False)
        with atomic_file(write, force=force) as fh:
            fh.write(shipped)
        ui.good(f"wrote {write}; edit it and pass --rules {write}")
        return
    if dataset is None and rules_file is None:
        raise CommentaryError("give a dataset folder to apply the rules to", fix="commentary label rules data/my-comments")
    book = load_codebook(codebook_file)
    rules = load_rules(rules_file, book)  # refuses a file that does not parse, or names labels the codebook lacks
    if rules.codebook_version and rules.codebook_version != book.version:
        ui.warn(f"{rules.path} was written for codebook {rules.codebook_version}; this is {book.version}")
    if dataset is None:  # a rules file alone: check it, and say what it holds
        counts = Counter(r.label for r in rules.rules)
        deciding = sum(r.decides for r in rules.rules)
        ui.good(f"{rules.path}: {len(rules.rules)} rules, all valid for codebook {book.version} ("
                + ", ".join(f"{k} {n}" for k, n in sorted(counts.items()))
                + (f"; {deciding} deciding stance rules" if deciding else "") + ")")
        ui.info(f"apply them to a dataset to see each rule's coverage and accuracy: "
                f"`commentary label rules DATASET --rules {rules_file}`")
        return
    if output is not None:  # before the work: weak labels replace only weak labels from rules
        claim_output(output, force=force, ours=lambda p: is_labels_file(p, "rules:"),
                     what="a file of weak labels from rules", folder=False, inputs=[gold])
    ds = read_dataset(dataset)
    gold_labels = _labels_from(gold, book) if gold else ds.labels
    gold_map = {lab.comment_id: lab for lab in gold_labels}
    votes = apply_rules(rules, ds.comments)
    report = rule_report(votes, gold_map or None)
    combined = combine(votes, book, combine_with, gold=gold_map or None)
    summary: dict[str, Any] = {"comments": len(ds.comments), "weak_labels": len(combined.labels),
                               "no_stance": combined.no_stance, "themes": combined.themes_given,
                               "combine": combine_with}
    scored = [lab for lab in combined.labels if lab.comment_id in gold_map]
    if scored:
        summary["stance_accuracy_on_gold"] = sum(gold_map[lab.comment_id].stance == lab.stance
                                                 for lab in scored) / len(scored)
        tp = sum(len(set(lab.themes) & set(gold_map[lab.comment_id].themes)) for lab in scored)
        fp = sum(len(set(lab.themes) - set(gold_map[lab.comment_id].themes)) for lab in scored)
        summary["theme_precision_on_gold"] = tp / (tp + fp) if tp + fp else None
    if output is not None:
        with atomic_file(output, force=force) as fh:
            write_labels_jsonl(combined.labels, fh)
    if as_json:
        typer.echo(json.dumps({"rules": report, "summary": summary}, indent=2))
    else:
        from rich.table import Table

        table = Table(title=f"{len(rules.rules)} rules on {len(ds.comments):,} comments ({rules.path})",
                      title_justify="left")
        for col in ("rule", "label", "fired", "coverage", "overlaps", "conflicts", "accuracy"):
            table.add_column(col, justify="left" if col in ("rule", "label") else "right")
        for r in report:
            acc = "n/a" if r["accuracy"] is None else f"{r['accuracy']:.0%} of {r['gold_fired']}"
            table.add_row(r["rule"], r["label"], f"{r['fired']:,}", f"{r['coverage']:.1%}",
                          f"{r['overlaps']:.1%}", f"{r['conflicts']:.1%}", acc)
        _console().print(table)
    ui.info(f"{combine_with}: {len(combined.labels):,} comments get a weak label; {combined.no_stance:,} get "
            "none (no stance rule fired or the vote was split)"
            + (f"; stance right on {summary['stance_accuracy_on_gold']:.0%} of {len(scored)} with gold labels"
               if scored else ""))
    if output is not None and combined.labels:
        ui.good(f"wrote {len(combined.labels):,} weak labels to {output}; train on them with "
                f"`commentary train {dataset} --labels {output}`")
    elif output is not None:
        ui.warn(f"wrote an empty {output}: no rule gave any comment a label, so there is nothing to train on; "
                "add rules for these comments (`--write` a copy of the rules to edit)")


@label_app.command("export")
def label_export(
    dataset: Annotated[Path, typer.Argument(parser=find_input, metavar="DATASET", help="Dataset folder whose comments are to be labelled.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="File (or folder, for argilla) to write.")],
    to: Annotated[str, typer.Option("--to", help="label-studio, argilla or csv.")] = "label-studio",
    labels: Annotated[Optional[Path], typer.Option(
        parser=find_input, metavar="PATH", help="Labels already given, exported as annotations [default: the dataset's own].")] = None,
    model: ModelOpt = None,
    no_model: NoModelOpt = False,
    codebook_file: CodebookOpt = None,
    models_dir: ModelsDirOpt = None,
    force: ForceOpt = False,
) -> None:
    """Export comments as annotation tasks, with the model's predictions as pre-annotations."""
    from ..codebook import load_codebook
    from ..dataset import read_dataset
    from ..label.io import join_labels
    from ..label.tools import export_tasks, tasks_from

    book = load_codebook(codebook_file)
    ds = read_dataset(dataset)
    # labels keyed by the source's own ids travel too, as they do to train and evaluate; a labels file
    # covering more comments than this dataset (a whole corpus's, exported split by split) gives its share
    def elsewhere(n: int) -> None:
        ui.info(f"{n:,} labels in {labels} are for comments not in {dataset}; left out")

    given = join_labels(_labels_from(labels, book, per_annotator=True), ds.comments, str(dataset),
                        skip_missing=elsewhere) if labels else ds.labels
    suggestions, ref = _suggestions(ds, models_dir, model, no_model)
    written = export_tasks(tasks_from(ds.articles, ds.comments, given, suggestions), to, output, book, force=force)
    ui.good(f"wrote {len(ds.comments):,} tasks for {to} ({len(given):,} existing labels"
            + (f", suggestions from {ref}" if ref else "") + f") to {', '.join(map(str, written))}")


@label_app.command("import")
def label_import(
    source: Annotated[Path, typer.Argument(parser=find_input, metavar="SOURCE", help="The tool's export: Label Studio JSON, an Argilla folder or CSV.")],
    dataset: Annotated[Path, typer.Option("--dataset", "-d", help="The dataset the tasks came from.")],
    output: Annotated[Path, typer.Option(
        "--output", "-o", help="Labels file (JSONL) to add the labels to; existing labels are kept.")],
    from_tool: Annotated[str, typer.Option("--from", help="label-studio, argilla or csv.")] = "label-studio",
    annotator: Annotated[Optional[str], typer.Option(help="Annotator name where the export has none.")] = None,
    codebook_file: CodebookOpt = None,
) -> None:
    """Import finished annotations, checked against the codebook and the dataset; never overwrites a label."""
    from ..codebook import load_codebook
    from ..dataset import atomic_file, read_dataset
    from ..label.io import read_labels_file, write_labels_jsonl
    from ..label.tools import import_labels, merge_labels

    if output.suffix.lower() != ".jsonl":  # it is written as JSON Lines: a labels CSV would become unreadable
        said = output.suffix or "a name without an extension"
        raise UsageError(f"{output}: labels are kept as JSON Lines, and {said} says otherwise",
                         fix=f"name a .jsonl file, e.g. -o {output.with_suffix('.jsonl')}")
    book = load_codebook(codebook_file)
    ds = read_dataset(dataset)
    new = import_labels(source, from_tool, book, dataset_ids={c.id for c in ds.comments}, annotator=annotator,
                        warn=ui.warn)
    existing = read_labels_file(output, book, per_annotator=True) if output.exists() else []
    merged = merge_labels(existing, new, str(output))
    with atomic_file(output, force=True) as fh:
        write_labels_jsonl(merged, fh)
    people = sorted({lab.annotator or "?" for lab in new})
    ui.good(f"imported {len(new):,} labels ({len(merged) - len(existing):,} new) from {len(people)} annotator(s) "
            f"({', '.join(people[:5])}) into {output}")


@label_app.command("attach")
def label_attach(
    dataset: Annotated[Path, typer.Argument(parser=find_input, metavar="DATASET", help="Dataset folder the labels were made on.")],
    labels: Annotated[Path, typer.Argument(parser=find_input, metavar="LABELS", help="Labels file (JSON Lines or CSV: from annotate, label import).")],
    output: Annotated[Path, typer.Option("--output", "-o", help="New dataset folder: the comments with these labels.")],
    force: ForceOpt = False,
    codebook_file: CodebookOpt = None,
) -> None:
    """Write a copy of DATASET that carries LABELS, for evaluate, train and CI gates."""
    from ..codebook import load_codebook
    from ..dataset import read_dataset, write_dataset
    from ..label.io import join_labels, read_labels_file

    book = load_codebook(codebook_file)
    ds = read_dataset(dataset)
    given = join_labels(read_labels_file(labels, book), ds.comments, str(dataset))
    info = {k: v for k, v in ds.manifest.items() if k not in ("format", "format_version", "created", "files",
                                                              "content_sha256")}
    write_dataset(output, ds.articles, ds.comments, labels=given, force=force,
                  info={**info, "labels_from": str(labels)})
    ui.good(f"wrote {output}: {len(ds.comments):,} comments, {len(given):,} labelled")


class AnswerFormat(StrEnum):
    schema = "schema"
    json = "json"
    text = "text"


@label_app.command("llm")
def label_llm(
    dataset: Annotated[Path, typer.Argument(parser=find_input, metavar="DATASET",
                                            help="Dataset folder whose comments are to be labelled.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Labels file to write (JSON Lines).")],
    base_url: Annotated[Optional[str], typer.Option(
        help="OpenAI-compatible endpoint, e.g. http://127.0.0.1:8080/v1 [default: $COMMENTARY_LLM_BASE_URL].")] = None,
    model: Annotated[Optional[str], typer.Option(
        "--model", help="Model name at the endpoint [default: $COMMENTARY_LLM_MODEL].")] = None,
    api_key: Annotated[Optional[str], typer.Option(
        help="API key [default: $COMMENTARY_LLM_API_KEY]; never written anywhere.")] = None,
    concurrency: Annotated[int, typer.Option(min=1, max=64, help="Requests in flight at once.")] = 4,
    max_retries: Annotated[int, typer.Option(min=0, max=20, help="Retries on 429, 5xx and time-outs.")] = 4,
    timeout: Annotated[float, typer.Option(min=1, help="Seconds to wait for one answer.")] = 60.0,
    price: Annotated[Optional[float], typer.Option(help="Price per 1,000 tokens, to show the cost so far.")] = None,
    answer_format: Annotated[AnswerFormat, typer.Option(
        "--answer-format",
        help="How the answer's form is asked for: 'schema' constrains decoding to the codebook's labels (a JSON "
             "schema), 'json' asks for any JSON object, 'text' only prompts. A server that refuses one is asked "
             "the next way.")] = AnswerFormat.schema,
    force: ForceOpt = False,
    codebook_file: CodebookOpt = None,
) -> None:
    """Label comments by the codebook through a language model; answers are cached, failures left unlabelled."""
    from ..codebook import load_codebook
    from ..dataset import atomic_file, claim_output, read_dataset
    from ..label.io import is_labels_file
    from ..label.llm import Endpoint, label_with_llm, llm_items
    from ..paths import cache_root

    claim_output(output, force=force, ours=lambda p: is_labels_file(p, "llm:"),
                 what="a file of labels from a language model", folder=False)
    book = load_codebook(codebook_file)
    endpoint = Endpoint.from_env(base_url, model, api_key, timeout=timeout, price_per_1k_tokens=price)
    ds = read_dataset(dataset)
    items = llm_items(ds.articles, ds.comments)
    ui.info(f"labelling {len(items):,} comments with {endpoint.model} at {endpoint.base_url}")
    with ui.progress("labelling", total=len(items)) as advance:
        last = {"n": 0}

        def step(counts: dict[str, float]) -> None:
            n = counts["done"] + counts["cached"] + counts["failed"]
            cost = f", cost {counts['cost']:.4f}" if "cost" in counts else ""
            advance(n - last["n"], note=f"{counts['done']:,} labelled, {counts['cached']:,} cached, "
                                        f"{counts['failed']:,} failed, {counts['tokens']:,} tokens{cost}")
            last["n"] = n

        run = label_with_llm(items, book, endpoint, cache_dir=cache_root() / "llm", concurrency=concurrency,
                             max_retries=max_retries, answer_format=answer_format.value, progress=step)
    if run.answer_format != answer_format.value:
        ui.warn(f"the server refused --answer-format {answer_format.value}; answers were asked for as "
                f"'{run.answer_format}' instead")
    if run.stopped is not None and not run.labels:
        raise run.stopped
    with atomic_file(output, force=True) as fh:
        for lab in run.labels:
            fh.write(json.dumps({**lab.to_dict(), **run.extras.get(lab.comment_id, {})}, ensure_ascii=False) + "\n")
    for cid, why in [kv for kv in run.failed.items() if not kv[1].startswith("not asked")][:10]:
        ui.warn(f"{cid}: not labelled ({why})")
    cost = f", cost {run.cost:.4f}" if run.cost is not None else ""
    ui.good(f"wrote {len(run.labels):,} labels to {output} ({run.cached:,} from the cache, {run.requests:,} "
            f"requests, {run.tokens:,} tokens{cost}); {len(run.failed):,} failed and are left unlabelled")
    if run.stopped is not None:
        raise run.stopped
    if run.failed:
        raise typer.Exit(1 if not run.labels else 0)


@label_app.command("agreement")
def label_agreement(
    files: Annotated[list[Path], typer.Argument(parser=find_input, metavar="FILES", 
        help="Two or more annotators' labels (files or labelled datasets), or one file holding several annotators.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the figures and the disagreements as JSON.")] = False,
    codebook_file: CodebookOpt = None,
) -> None:
    """Agreement for stance and each theme: Cohen's kappa for two annotators, Krippendorff's alpha for more."""
    from rich.table import Table

    from ..codebook import load_codebook
    from ..dataset import file_sha256
    from ..label.agreement import multi_agreement, pairwise_agreement

    seen_files: dict[str, Path] = {}
    for p in files:  # the same labels twice would agree with themselves perfectly
        key = file_sha256(p) if p.is_file() else str(p.resolve())
        if key in seen_files:
            raise UsageError(f"{seen_files[key]} and {p} hold the same labels", fix="pass each annotator's labels once")
        seen_files[key] = p
    book = load_codebook(codebook_file)
    names: list[str] = []
    sets: list[list] = []
    for p in files:  # a file is one annotator, or, where its labels name several, one each
        by: dict[str, list] = {}
        for lab in _labels_from(p, book, per_annotator=True):
            by.setdefault(lab.annotator or p.stem, []).append(lab)
        many = len(by) > 1
        for who, labels in by.items():
            names.append(who if many or len(files) == 1 else p.stem)
            sets.append(labels)
    if len(set(names)) < len(names):
        raise UsageError(f"two sets of labels are both {next(n for n in names if names.count(n) > 1)!r}",
                         fix="give each annotator a name of their own (the annotator field, or the file's name)")
    if len(sets) < 2:
        raise CommentaryError("agreement needs two or more annotators", fix="pass two or more label files")
    for name, labels in zip(names, sets):
        if len({lab.comment_id for lab in labels}) != len(labels):
            raise CommentaryError(f"{name} labels some comments twice", fix="one label per comment per annotator")
    multi = multi_agreement(sets, names, book)
    pair = pairwise_agreement(sets[0], sets[1], book) if len(sets) == 2 else None
    if as_json:  # the same statistic as the table: Cohen's kappa for two annotators, alpha for more
        out = multi.to_dict()
        out["statistic"] = "cohen_kappa" if pair else "krippendorff_alpha"
        if pair:
            out["stance"]["kappa"] = pair.stance_kappa
            for t, m in pair.themes.items():
                out["themes"][t]["kappa"] = m["kappa"]
        typer.echo(json.dumps(out, indent=2))
        return
    stat = "Cohen's kappa" if pair else "Krippendorff's alpha"
    table = Table(title=f"{len(sets)} annotators ({', '.join(names)}) on {multi.n} shared comments",
                  title_justify="left")
    for col in ("label", stat, "agreement"):
        table.add_column(col, justify="left" if col == "label" else "right")
    table.add_row("stance", fmt(pair.stance_kappa if pair else multi.stance_alpha),
                  f"{multi.stance_agreement:.1%}", style="bold")
    for theme, m in multi.themes.items():
        table.add_row(theme, fmt(pair.themes[theme]["kappa"] if pair else m["alpha"]), f"{m['agreement']:.1%}")
    _console().print(table)
    unused = [t for t, m in multi.themes.items() if (pair.themes[t]["kappa"] if pair else m["alpha"]) is None]
    if unused:
        ui.info(f"n/a: {', '.join(unused)} (every annotator gave the same answer on every comment, so "
                f"agreement beyond chance is undefined)")
    ui.info(f"{len(multi.disagreements)} comments differ; --json lists them for adjudication")


@label_app.command("issues")
def label_issues(
    dataset: Annotated[Optional[Path], typer.Argument(parser=find_input, metavar="DATASET", 
        help="Labelled dataset [default: the starter corpus' train split].")] = None,
    labels: Annotated[Optional[Path], typer.Option(parser=find_input, metavar="PATH", help="Labels file joined by comment id.")] = None,
    top: Annotated[int, typer.Option(help="How many to list (worst first).")] = 20,
    backend: Annotated[str, typer.Option(help="Backend for the cross-validated probabilities.")] = "tfidf",
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="Write all of them as JSONL.")] = None,
    codebook_file: CodebookOpt = None,
    force: ForceOpt = False,
) -> None:
    """Likely mislabelled comments, by confident learning on cross-validated probabilities, for review."""
    from rich.table import Table

    from ..codebook import load_codebook
    from ..dataset import atomic_file, claim_output
    from ..fitting import TrainConfig, load_training_data
    from ..label.io import read_labels_file
    from ..label.issues import find_label_issues, is_issues_file
    from ..paths import starter_dir

    if output is not None:  # before the cross-validation
        claim_output(output, force=force, ours=is_issues_file, what="a file of likely label errors", folder=False,
                     inputs=[labels])
    book = load_codebook(codebook_file)
    dataset = dataset or starter_dir() / "train"
    given = read_labels_file(labels, book) if labels else None
    data = load_training_data(dataset, book, labels=given)
    ui.info(f"cross-validating a {backend} model on {len(data.ids):,} comments")
    issues = find_label_issues(data, TrainConfig(backend=backend), progress=ui.debug)
    if output is not None:
        with atomic_file(output, force=force) as fh:
            for issue in issues:
                fh.write(json.dumps(issue.to_dict(), ensure_ascii=False) + "\n")
    for kind in ("stance", "themes"):
        mine = [i for i in issues if i.kind == kind]
        table = Table(title=f"{len(mine)} likely {kind} label errors in {len(data.ids)} comments "
                      f"(worst {min(top, len(mine))})", title_justify="left", show_lines=True)
        for col in ("comment", "given", "model says", "quality"):
            table.add_column(col, overflow="fold")
        for issue in mine[:top]:
            text = issue.text if len(issue.text) <= 200 else issue.text[:197] + "..."
            show = (lambda v: ", ".join(v) or "none") if kind == "themes" else str
            table.add_row(f"{issue.comment_id}: {text}", show(issue.given), show(issue.suggested), f"{issue.quality:.3f}")
        _console().print(table)
    if output is not None:
        ui.good(f"wrote {len(issues)} to {output}")
