"""Model cards, generated from a version's manifest and metrics."""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["write_card", "render_card"]


def _f(x) -> str:
    return "n/a" if x is None else f"{x:.3f}"


def _table(per_label: dict[str, dict[str, float]], extra: dict[str, float] | None = None) -> str:
    rows = ["| label | precision | recall | F1 | support |" + (" threshold |" if extra else ""),
            "|---|---|---|---|---|" + ("---|" if extra else "")]
    for lab, m in per_label.items():
        row = f"| {lab} | {m['precision']:.2f} | {m['recall']:.2f} | {m['f1']:.2f} | {m['support']} |"
        if extra:
            row += f" {extra.get(lab, 0.5):.3f} |"
        rows.append(row)
    return "\n".join(rows)


def render_card(manifest: dict[str, Any], metrics: dict[str, Any], thresholds: dict[str, float]) -> str:
    """The model card as Markdown."""
    from .backends.encoder import describe_base_model

    cv = metrics["cv"]
    lines = [
        f"# Model card: {manifest['name']}@{manifest['version']}",
        "",
        f"Trained {manifest['created']} with commentary {manifest['packages']['commentary']} "
        f"(backend `{manifest['backend']}`, base model {describe_base_model(manifest.get('base_model'), '`')}), "
        f"codebook {manifest['codebook']['version']}, seed {manifest['config']['seed']}.",
        "",
        "## Intended use",
        "",
        "Label comments posted under articles and blog posts with one stance toward the article "
        "(agree, disagree, mixed, neutral) and any of the codebook's themes, to summarise what "
        "commenters say. Not for judging individuals. Check a sample by hand before relying on "
        "shares; the model abstains when unsure.",
        "",
        "## Training data",
        "",
        f"{metrics['n_train']} labelled comments from `{manifest['training_data']['source']}` "
        + "".join(f"with the labels of `{f['path']}` (sha256 `{f['sha256'][:16]}…`) "
                  for f in manifest["training_data"].get("labels_files") or [])
        + f"(sha256 `{manifest['training_data']['sha256'][:16]}…`)"
        + (f", {manifest['training_data']['weak']} of them weak (machine) labels, from rules or a language model" if
           manifest["training_data"].get("weak") else "") + ".",
        *([""] + [f"- `{p['source']}`: {p['n']} comments" for p in manifest["training_data"]["parts"]]
          if len(manifest["training_data"].get("parts") or []) > 1 else []),
        *(["", "Labels by who or what made them: " + ", ".join(
            f"`{who}` {n}" for who, n in manifest["training_data"]["annotators"].items()) + "."]
          if len(manifest["training_data"].get("annotators") or {}) > 1 else []),
        "",
        f"## Cross-validated scores ({cv['folds']} folds, grouped by article)",
        "",
        f"Stance macro-F1 **{cv['stance']['macro_f1']:.3f}**, accuracy {cv['stance']['accuracy']:.3f}, "
        f"calibration error {cv['stance']['ece']:.3f} (before calibration "
        f"{cv['stance']['ece_uncalibrated']:.3f}).",
        "",
        _table(cv["stance"]["per_label"]),
        "",
        f"Themes macro-F1 **{_f(cv['themes']['macro_f1'])}**, micro-F1 {_f(cv['themes']['micro_f1'])}; "
        "thresholds chosen on the same out-of-fold probabilities, so these are slightly optimistic.",
        "",
        _table(cv["themes"]["per_label"], thresholds),
        "",
        f"Abstains on {cv['abstain']['rate']:.0%} of comments; stance accuracy on the rest "
        f"{cv['abstain']['accuracy_kept']:.3f} (all: {cv['abstain']['accuracy_all']:.3f}).",
    ]
    if metrics.get("heldout"):
        h = metrics["heldout"]
        lines += ["", f"## Held-out scores (`{h['source']}`, {h['n']} comments)", "",
                  f"Stance macro-F1 **{h['stance']['macro_f1']:.3f}**; themes macro-F1 "
                  f"**{_f(h['themes']['macro_f1'])}**."]
    lines += ["", "## Limitations", "",
              "Trained on the data above only; comments from other sites, topics or periods will "
              "score lower (see docs/quality.md for transfer to real comment corpora). Sarcasm and "
              "replies to other commenters are the commonest errors.", "",
              "## Files", "", "Every file's sha256 is in `manifest.json`; loading refuses a changed file.", ""]
    return "\n".join(lines)


def card_metadata(manifest: dict[str, Any], metrics: dict[str, Any]) -> str:
    """The Hugging Face model-card front matter (YAML), with the scores in the model-index form."""
    from huggingface_hub import EvalResult, ModelCardData

    ref = f"{manifest['name']}@{manifest['version']}"

    def short(source: str | None) -> str:  # folder names only: a card leaves the machine, its paths do not
        return " + ".join(Path(p.strip()).name for p in str(source or "dataset").split(" + "))

    results = []
    for split, scores, name in [("cross-validation", metrics.get("cv"), manifest["training_data"]["source"]),
                                ("held-out", metrics.get("heldout"), (metrics.get("heldout") or {}).get("source"))]:
        if not scores:
            continue
        for head in ("stance", "themes"):
            value = scores[head]["macro_f1"]
            if value is not None:
                results.append(EvalResult(task_type="text-classification", task_name="stance and themes of comments",
                                          dataset_type="commentary-dataset", dataset_name=short(name),
                                          dataset_split=split, metric_type="f1",
                                          metric_name=f"{head} macro-F1", metric_value=round(float(value), 4)))
    base = manifest.get("base_model")
    data = ModelCardData(
        model_name=ref, language="en", license="mit", library_name="commentary",
        pipeline_tag="text-classification",
        tags=["commentary", "stance-detection", "comments", f"backend-{manifest['backend']}"],
        base_model=base if base and "/" in base and not base.startswith(("/", ".", "~")) else None,
        eval_results=results or None,
    )
    return data.to_yaml()


def write_card(folder: Path, manifest: dict[str, Any], metrics: dict[str, Any],
               thresholds: dict[str, float]) -> None:
    """README.md: the Hugging Face front matter, then the card; parsed back by huggingface_hub to check it."""
    from huggingface_hub import ModelCard

    content = f"---\n{card_metadata(manifest, metrics)}\n---\n\n{render_card(manifest, metrics, thresholds)}"
    ModelCard(content)  # raises if the front matter is not what hubs read
    (folder / "README.md").write_text(content)
