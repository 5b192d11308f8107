"""classify --engine ray on a local Ray cluster (started here, stopped at the end): the predictions of the
local path, Parquet shards with a manifest written last, and a cluster that is not there said in one line."""

from __future__ import annotations

import json
import time

import pytest

ray = pytest.importorskip("ray")
pq = pytest.importorskip("pyarrow.parquet")

from commentary.codebook import load_codebook  # noqa: E402
from commentary.fitting import TrainConfig  # noqa: E402
from commentary.training import train_version  # noqa: E402


@pytest.fixture(scope="module")
def models(small, tmp_path_factory):
    root = tmp_path_factory.mktemp("ray") / "models"
    train_version(small, load_codebook(), TrainConfig(backend="tfidf", cv_folds=2), root)
    yield root
    if ray.is_initialized():
        ray.shutdown()


def predictions(folder):
    manifest = json.loads((folder / "manifest.json").read_text())
    rows = [r for shard in manifest["shards"] for r in pq.read_table(folder / shard["file"]).to_pylist()]
    return manifest, {r["id"]: r for r in rows}


def test_a_ray_job_gives_the_local_predictions_as_shards_with_a_manifest(cli, small, models, tmp_path):
    import hashlib

    local = cli("classify", small, "--format", "jsonl", "--models-dir", models)
    assert local.exit_code == 0, local.stderr
    expected = {r["id"]: r for r in map(json.loads, local.stdout.splitlines())}
    out = tmp_path / "scored"
    res = cli("classify", small, "--engine", "ray", "--workers", "2", "--batch-size", "40", "-o", out,
              "--models-dir", models)
    assert res.exit_code == 0, res.stderr
    manifest, got = predictions(out)
    assert manifest["rows"] == len(expected) == len(got) and manifest["model"] == "commentary@v1"
    assert len(manifest["shards"]) >= 1
    assert all(hashlib.sha256((out / s["file"]).read_bytes()).hexdigest() == s["sha256"] for s in manifest["shards"])
    for cid, want in expected.items():  # the same scoring, article joined by id, as the local path
        row = got[cid]
        assert (row["stance"], list(row["themes"]), row["abstain"]) == (want["stance"], want["themes"], want["abstain"])
        assert json.loads(row["stance_probs"]) == want["stance_probs"]
        assert json.loads(row["theme_probs"]) == want["theme_probs"]
    # an existing output is refused without --force, and --force replaces only a predictions folder
    assert cli("classify", small, "--engine", "ray", "-o", out, "--models-dir", models).exit_code == 1
    other = tmp_path / "mine"
    other.mkdir()
    (other / "notes.txt").write_text("keep me")
    res = cli("classify", small, "--engine", "ray", "-o", other, "--force", "--models-dir", models)
    assert res.exit_code == 1 and (other / "notes.txt").read_text() == "keep me"


def test_json_lines_shards_in_a_folder_get_the_ids_and_labels_of_the_local_path(cli, small, models, tmp_path):
    from commentary.dataset import read_dataset

    ds = read_dataset(small)
    shards = tmp_path / "in"
    shards.mkdir()
    half = len(ds.comments) // 2
    expected = {}
    for k, part in enumerate((ds.comments[:half], ds.comments[half:])):
        shard = shards / f"part-{k}.jsonl"
        shard.write_text("".join(json.dumps({"comment_id": f"x{c.id}", "body": c.text}) + "\n" for c in part))
        local = cli("classify", shard, "--format", "jsonl", "--models-dir", models)
        expected.update({r["id"]: r for r in map(json.loads, local.stdout.splitlines())})
    res = cli("classify", shards, "--engine", "ray", "-o", tmp_path / "out", "--models-dir", models)
    assert res.exit_code == 0, res.stderr
    manifest, got = predictions(tmp_path / "out")
    assert manifest["rows"] == len(ds.comments) and set(got) == set(expected)  # ingest's ids, file by file
    assert all(got[i]["source_id"] == expected[i]["source_id"] and got[i]["stance"] == expected[i]["stance"]
               and list(got[i]["themes"]) == expected[i]["themes"] for i in expected)


def test_a_job_that_fails_in_its_actors_is_one_line_and_writes_nothing(cli, models, tmp_path):
    shards = tmp_path / "in"
    shards.mkdir()
    (shards / "a.jsonl").write_text("".join(json.dumps({"id": i, "score": i}) + "\n" for i in range(20)))
    res = cli("classify", shards, "--engine", "ray", "-o", tmp_path / "out", "--models-dir", models)
    lines = res.stderr.strip().splitlines()
    assert res.exit_code == 1 and "unexpected" not in lines[-1] and "text" in lines[-1], res.stderr
    assert not (tmp_path / "out").exists() and not list(tmp_path.glob(".out*"))  # no partial output, no leftovers


def test_a_cluster_that_is_not_there_is_one_line_within_30_seconds(cli, small, models, tmp_path):
    if ray.is_initialized():  # the local cluster of the tests above is not the one asked for
        ray.shutdown()
    start = time.monotonic()
    res = cli("classify", small, "--engine", "ray", "--ray-address", "127.0.0.1:9", "-o", tmp_path / "o",
              "--models-dir", models)
    lines = res.stderr.strip().splitlines()
    assert res.exit_code == 1 and "no Ray cluster answers at 127.0.0.1:9" in lines[-1], res.stderr
    assert time.monotonic() - start < 30 and not (tmp_path / "o").exists()
