"""Write the default encoder's embeddings of a bundled dataset into the dataset folder.

    python scripts/ship_embeddings.py data/starter/train data/real/rfd_train

Training with a transformer backend copies these shards into the embedding cache
(``commentary.backends.encoder.warm_cache``), so a new machine does not spend
minutes encoding the bundled comments again: what it encodes is exactly what the
cache would hold (each comment, and each article as training reads it), keyed by
text hash under a folder named after the encoder's weights and the length limit.
Run it again after the data or the default encoder changes; stale shards are only
cache misses.
"""

from __future__ import annotations

import hashlib
import shutil
import sys
from pathlib import Path

from safetensors.numpy import save_file

from commentary.backends.encoder import EmbeddingCache, cache_dir
from commentary.backends.transformer import EmbeddingsBackend
from commentary.codebook import load_codebook
from commentary.fitting import load_training_data


def main(paths: list[str]) -> int:
    book = load_codebook()
    backend = EmbeddingsBackend()
    backend.cache_embeddings = False
    encoder = backend.encoder  # the default encoder (all-mpnet-base-v2), its weights' sha256 known now
    name = cache_dir(backend.base_model_sha256, backend.max_length).name
    for path in map(Path, paths):
        data = load_training_data(path, book, min_examples=0, themes_only=True)
        texts = sorted(set(data.inputs.texts) | {a or "" for a in data.inputs.articles})
        # through this machine's own cache: only what it lacks is encoded
        vectors = EmbeddingCache(cache_dir(backend.base_model_sha256, backend.max_length)).embed(encoder, texts)
        shard = {EmbeddingCache.key(t): vectors[i] for i, t in enumerate(texts)}
        target = path / "embeddings" / name
        if target.exists():
            shutil.rmtree(target)
        target.mkdir(parents=True)
        digest = hashlib.sha256("".join(sorted(shard)).encode()).hexdigest()[:16]
        save_file(shard, str(target / f"{digest}.safetensors"))
        print(f"{path}: {len(texts)} texts -> {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
