"""Commands over models: train, and list, show, verify, promote, diff."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer

from ..paths import find_input
from ._app import CodebookOpt, ModelsDirOpt, app, fmt, group, models_root, ui

models_app = group("models", "List, inspect, verify, promote and compare model versions.")


@app.command()
def train(
    dataset: Annotated[Optional[list[Path]], typer.Argument(parser=find_input, metavar="DATASET", 
        help="Labelled dataset folders, trained on as one [default: the starter corpus' train split and the "
        "real Room for Debate comments in data/real/rfd_train].")] = None,
    labels: Annotated[Optional[list[Path]], typer.Option(parser=find_input, metavar="PATH",
        help="Labels file (JSONL or CSV: comment_id, stance, themes) for the dataset; repeatable: people's "
        "labels win over machine (weak) ones, e.g. label llm's, where both label a comment.")] = None,
    backend: Annotated[Optional[str], typer.Option(
        help="auto (hybrid where a sentence encoder is installed, else tfidf), tfidf, hybrid, embeddings or finetune.")] = None,
    base_model: Annotated[Optional[str], typer.Option(
        help="The sentence encoder of hybrid, embeddings and finetune: a local folder, a hub id, or `static` "
        "[default: hybrid `static`, all-mpnet-base-v2 distilled into static embeddings, as good on real comments "
        "and a hundred times faster; `sentence-transformers/all-mpnet-base-v2` itself for the others].")] = None,
    config: Annotated[Optional[Path], typer.Option(
        "--config", help="TOML file of settings; options given here override it.")] = None,
    name: Annotated[Optional[str], typer.Option(help="Model name under models/.")] = None,
    seed: Annotated[Optional[int], typer.Option(help="Random seed.")] = None,
    cv_folds: Annotated[Optional[int], typer.Option(help="Cross-validation folds.")] = None,
    heldout: Annotated[Optional[Path], typer.Option(parser=find_input, metavar="PATH", 
        help="Labelled dataset to score after training [default: starter dev split, with the default data].")] = None,
    adapt: Annotated[Optional[Path], typer.Option(parser=find_input, metavar="PATH", 
        help="Unlabelled dataset of your own comments to adapt the model to.")] = None,
    adapt_method: Annotated[Optional[str], typer.Option(
        help="How --adapt uses them: self-training (add the comments the model is surest of, with its "
        "labels) or vocabulary (fit the features on them too) [default: self-training].")] = None,
    promote_it: Annotated[Optional[bool], typer.Option(
        "--promote/--no-promote", help="Promote the new version [default: only if none is promoted yet].")] = None,
    codebook_file: CodebookOpt = None,
    models_dir: ModelsDirOpt = None,
) -> None:
    """Train a stance and themes model and save it as a new immutable version."""
    from ..codebook import load_codebook
    from ..fitting import TrainConfig
    from ..label.io import read_labels_file
    from ..paths import default_training_sets, starter_dir
    from ..training import train_version

    book = load_codebook(codebook_file)
    if not dataset:
        dataset = default_training_sets()
        heldout = heldout or starter_dir() / "dev"
    settings = TrainConfig.resolve(config, {"backend": backend, "base_model": base_model, "name": name,
                                            "seed": seed, "cv_folds": cv_folds,
                                            "adapt_method": adapt_method})
    label_list = None
    if labels:
        from ..label.io import merge_label_sources

        label_list, counts = merge_label_sources([read_labels_file(p, book) for p in labels])
        if len(labels) > 1:
            ui.info("labels: " + ", ".join(f"{n:,} {k}" for k, n in counts.items()))
    ui.info(f"training {settings.backend}{_encoder_note(settings)} on {' + '.join(map(str, dataset))}")
    outcome = train_version(dataset, book, settings, models_root(models_dir), labels=label_list,
                            labels_files=list(labels or []), heldout=heldout, adapt=adapt, make_production=promote_it,
                            progress=ui.info if ui.verbosity >= 0 else None)
    _print_scores(outcome.metrics)
    ui.good(f"saved {outcome.version.ref} in {outcome.version.path}"
            + (" (promoted)" if outcome.promoted else ""))
    typer.echo(outcome.version.ref)


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
        row = [f"{head} macro-F1", fmt(metrics["cv"][head]["macro_f1"])]
        if has_heldout:
            row.append(fmt(metrics["heldout"][head]["macro_f1"]))
        table.add_row(*row, style="bold")
    ui.table(table)



def _encoder_note(settings) -> str:
    """", encoder ..." for a backend that encodes with a sentence encoder (the one it will use)."""
    if settings.backend not in ("hybrid", "embeddings", "finetune"):
        return ""
    from ..backends.encoder import describe_base_model, hybrid_default_encoder

    base = settings.base_model or (hybrid_default_encoder() if settings.backend == "hybrid" else None)
    return f", encoder {describe_base_model(base)}" if base else ""  # else the installed transformer default


@models_app.command("list")
def models_list(models_dir: ModelsDirOpt = None) -> None:
    """List every model version, marking the promoted ones."""
    from ..registry import changed_since_training, list_versions, parse_ref, production, read_metrics

    root = models_root(models_dir)
    damaged: list[tuple[str, str]] = []
    versions = list_versions(root, damaged=damaged)
    promoted = {name: production(root, name) for name in {v.name for v in versions}}  # one pointer read each
    changed = changed_since_training(versions)
    for v in versions:
        mark = "*" if promoted[v.name] == v.version else " "
        if v.ref in changed:  # its figures are not the ones training wrote: say so beside them
            mark = "!"
            ui.warn(f"{v.ref}: {changed[v.ref]}; its figures below are not to be trusted "
                    f"(`commentary models verify {v.ref}`)")
        cv = read_metrics(v).get("cv")
        cv = cv if isinstance(cv, dict) else {}  # figures are for show: a damaged file leaves them blank
        typer.echo(f"{mark} {v.ref}\t{v.manifest.get('created', '')}\t{v.manifest.get('backend', '')}\t"
                   f"stance {fmt(cv.get('stance', {}).get('macro_f1'))}\t"
                   f"themes {fmt(cv.get('themes', {}).get('macro_f1'))}")
    for ref, why in damaged:
        typer.echo(f"! {ref}\tdamaged")
        ui.warn(f"{ref}: {why}")
    name, _ = parse_ref(None)
    default = promoted[name] if name in promoted else production(root, name)
    if default:
        ui.info(f"* marks each model's promoted version; commands without --model use {name}@{default}")
    elif name in promoted:
        ui.info(f"* marks each model's promoted version; no version of {name!r} is promoted, so commands need --model")
    elif versions:
        ui.info(f"* marks each model's promoted version; there is no model named {name!r}, so commands need --model")
    elif not damaged:
        ui.info(f"no models in {root}; train one with `commentary train`")


@models_app.command("show")
def models_show(ref: Annotated[Optional[str], typer.Argument(help="NAME@vN [default: the promoted one].")] = None,
                models_dir: ModelsDirOpt = None) -> None:
    """Print a version's manifest as JSON."""
    from ..registry import changed_since_training, resolve

    version = resolve(models_root(models_dir), ref)
    for why in changed_since_training([version]).values():
        ui.warn(f"{version.ref}: {why}; what follows is not what training wrote")
    typer.echo(json.dumps(version.manifest, indent=2))


@models_app.command("verify")
def models_verify(ref: Annotated[Optional[str], typer.Argument(help="NAME@vN [default: the promoted one].")] = None,
                  models_dir: ModelsDirOpt = None) -> None:
    """Check every file of a version against its sha256, then load it (skops archives through the type audit)."""
    from ..registry import manifest_recorded, resolve, verify
    from ..training import load_model

    version = resolve(models_root(models_dir), ref)
    verify(version)
    if not manifest_recorded(version):
        ui.warn(f"{version.ref} has no entry in {version.path.parent / 'index.json'} (a version folder copied on its "
                "own?): its files match its manifest, but nothing vouches for the manifest itself")
    model, _ = load_model(models_root(models_dir), version.ref)
    audit = getattr(model.backend, "audit", None)
    if audit is not None:
        audit(version.path)
    ui.good(f"{version.ref}: all {len(version.manifest['files'])} files match their sha256, and it loads")


@models_app.command("promote")
def models_promote(ref: Annotated[str, typer.Argument(help="NAME@vN to promote.")],
                   models_dir: ModelsDirOpt = None) -> None:
    """Make a version the default for classify and evaluate."""
    from ..registry import promote

    version = promote(models_root(models_dir), ref)
    ui.good(f"promoted {version.ref}")


@models_app.command("diff")
def models_diff(a: Annotated[str, typer.Argument(help="First NAME@vN.")],
                b: Annotated[str, typer.Argument(help="Second NAME@vN.")],
                models_dir: ModelsDirOpt = None) -> None:
    """Compare two versions: settings, training data and per-label scores side by side."""
    from rich.console import Console
    from rich.table import Table

    from ..registry import changed_since_training, resolve

    root = models_root(models_dir)
    va, vb = resolve(root, a), resolve(root, b)
    for ref, why in changed_since_training([va, vb]).items():
        ui.warn(f"{ref}: {why}; its column is not what training wrote")
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
    if fa["data.sha256"] != fb["data.sha256"]:  # cross-validated on other comments: not like for like
        ui.warn(f"{va.ref} and {vb.ref} were trained, and cross-validated, on different data: their F1 are on "
                f"different comments; compare them on one gold set with `commentary evaluate DATASET --model "
                f"{vb.ref} --baseline {va.ref}`")
