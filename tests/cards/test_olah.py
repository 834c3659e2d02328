"""Stock Hub clients read the local registry through olah (offline, loopback), by sha and by tag."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

from kinject.cards.local import LocalRegistry
from kinject.cards.olah import start_olah, stop_olah
from tests.cards.samples import seed_rows, seeds_table

REPO = "kinject/olah-ja"

# Run in a fresh interpreter: huggingface_hub reads HF_ENDPOINT once, at import.
_CLIENT = textwrap.dedent(
    """
    import json, sys
    import datasets
    from huggingface_hub import snapshot_download

    repo, sha, tag = sys.argv[1:4]
    folder = snapshot_download(repo, repo_type="dataset", revision=sha)
    out = {"files": sorted(str(p.relative_to(folder)) for p in __import__("pathlib").Path(folder).rglob("*") if p.is_file())}
    for rev in (sha, tag, "main"):
        out[rev] = datasets.load_dataset(repo, "seeds", revision=rev, split="train").to_list()
    print(json.dumps(out, ensure_ascii=False))
    """
)


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """A registry with two revisions of `seeds` (v1 tagged), served by olah on loopback for the module."""
    base = tmp_path_factory.mktemp("olah")
    registry = LocalRegistry(base / "registry", base / "cache")
    v1 = registry.publish(REPO, {"seeds": {"train": seeds_table(tag="v1")}}, message="v1", tag="v1")
    registry.publish(REPO, {"seeds": {"train": seeds_table(n=5, tag="v2")}}, message="v2")
    proc, url = start_olah(registry.root, state_dir=base / "olah-state", log_file=base / "olah.log")
    yield url, v1, base
    stop_olah(proc)


@pytest.mark.slow
def test_stock_clients_read_published_revisions(served):
    url, v1, base = served
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "HUGGINGFACE_"))}
    env.update(HF_ENDPOINT=url, HF_HOME=str(base / "hf-home"), HF_HUB_DISABLE_TELEMETRY="1", HF_HUB_DISABLE_XET="1")
    done = subprocess.run(
        [sys.executable, "-c", _CLIENT, REPO, v1.revision, "v1"], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:] + (base / "olah.log").read_text()[-3000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert "README.md" in out["files"] and "data/seeds/train-00000-of-00001.parquet" in out["files"]
    assert out[v1.revision] == seed_rows(tag="v1")
    assert out["v1"] == seed_rows(tag="v1")
    assert out["main"] == seed_rows(5, tag="v2")
