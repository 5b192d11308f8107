"""Run a training end to end: load and check data, fit, score held-out data, write a version."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .backends.base import Inputs
from .card import write_card
from .codebook import Codebook
from .dataset import file_sha256, read_dataset
from .fitting import TrainConfig, fit, load_training_data, load_training_sets, predict_and_score
from .model import TrainedModel
from .registry import (
    Version,
    package_versions,
    production,
    promote,
    resolve,
    verify,
    write_training_texts,
    write_version,
)

__all__ = ["TrainOutcome", "train_version", "load_model", "evaluate_on"]


@dataclass
class TrainOutcome:
    version: Version
    metrics: dict[str, Any]
    promoted: bool


def evaluate_on(model: TrainedModel, dataset_path: Path, codebook: Codebook) -> dict[str, Any]:
    """Score a model on a labelled dataset (its labels.parquet)."""

    return _scores_on(model, load_training_data(dataset_path, codebook, min_examples=0), dataset_path)


def _scores_on(model: TrainedModel, data, source) -> dict[str, Any]:
    out, _ = predict_and_score(model, data)
    out.update(source=str(source), n=len(data.ids))
    return out


def train_version(dataset: Path | list[Path], codebook: Codebook, config: TrainConfig, models_root: Path, *,
                  labels=None, labels_files: list[Path] | None = None, heldout: Path | None = None,
                  adapt: Path | None = None, make_production: bool | None = None,
                  progress: Callable[[str], None] | None = None) -> TrainOutcome:
    """Train on *dataset* (one folder, or several trained on as one) and write an immutable version.
    *labels_files* name the files *labels* were read from, for the manifest and the card."""
    from .registry import check_name, check_writable

    say = progress or (lambda _m: None)
    # What would fail at the end is checked first, not after minutes of training.
    check_name(config.name)
    check_writable(models_root)
    held = load_training_data(heldout, codebook, min_examples=0) if heldout is not None else None
    datasets = [Path(d) for d in dataset] if isinstance(dataset, (list, tuple)) else [Path(dataset)]
    say(f"loading {', '.join(map(str, datasets))}")
    if config.backend in ("hybrid", "embeddings"):
        from .backends.encoder import warm_cache

        if warm_cache(datasets):
            say("embeddings that ship with the data copied into the cache")
    data = load_training_sets(datasets, codebook, labels=labels, min_examples=config.min_examples)
    unlabelled = None
    if adapt is not None:
        extra = read_dataset(adapt)
        unlabelled = Inputs([c.text for c in extra.comments])
        say(f"adapting to {len(unlabelled)} unlabelled comments from {adapt}")
    result = fit(data, config, unlabelled=unlabelled, progress=say)
    metrics = result.metrics
    if held is not None:
        say(f"scoring held-out {heldout}")
        metrics["heldout"] = _scores_on(result.model, held, heldout)
    backend = result.model.backend
    manifest = {
        "commentary_version": package_versions()["commentary"],
        "backend": config.backend,
        "base_model": getattr(backend, "base_model_id", None),
        "base_model_sha256": getattr(backend, "base_model_sha256", None),
        "codebook": {"version": codebook.version, "sha256": codebook.sha256, "name": codebook.name},
        "config": config.to_dict(),
        "training_data": {"source": data.source, "sha256": data.sha256, "n": len(data.ids),
                          "weak": data.weak, "adapt": str(adapt) if adapt else None, "parts": data.parts,
                          "annotators": data.annotators,
                          "labels_files": [{"path": str(p), "sha256": file_sha256(Path(p))} for p in labels_files or []]},
        "labels": {"stance": data.stance_labels, "themes": data.theme_labels},
        "packages": package_versions(),
        "seed": config.seed,
    }

    def build(folder: Path) -> None:
        saved = result.model.save(folder, config.backend)
        (folder / "backend.json").write_text(json.dumps(saved, indent=2) + "\n")
        (folder / "config.json").write_text(json.dumps(config.to_dict(), indent=2) + "\n")
        (folder / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
        write_training_texts(folder, data.inputs.texts)  # so evaluate can say when gold comments were trained on

    def card(folder: Path, full: dict[str, Any]) -> None:
        write_card(folder, full, metrics, result.model.decisions.thresholds)

    say("writing the version")
    version = write_version(models_root, config.name, build, manifest, card=card)
    if make_production is None:
        make_production = production(models_root, config.name) is None
    if make_production:
        promote(models_root, version.ref)
    return TrainOutcome(version, metrics, make_production)


def load_model(models_root: Path, ref: str | None = None) -> tuple[TrainedModel, Version]:
    """Resolve, verify every file, then build the model (never the other way round)."""
    version = resolve(models_root, ref)
    verify(version)
    saved = json.loads((version.path / "backend.json").read_text())
    return TrainedModel.load(version.path, saved["backend"], saved["settings"]), version
