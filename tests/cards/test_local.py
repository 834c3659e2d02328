"""Local git registry: round trip, revision pinning, atomicity (raise and SIGKILL), errors, no leaked secrets."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import datasets
import pytest

from kinject.cards.local import LocalRegistry
from kinject.cards.refs import DatasetRef
from kinject.errors import KinjectUserError
from tests.cards.samples import seed_rows, seeds_table

REPO = "kinject/test-ja"


def _corpus(n: int = 4) -> datasets.Dataset:
    return datasets.Dataset.from_list(
        [{"id": f"c{i}", "doc_id": f"doc-{i % 3}", "method": "fact", "text": f"文{i}", "facts_present": ["price"]}
         for i in range(n)]
    )


def _repo_files(repo: Path) -> set[str]:
    """Every file in the bare repo outside the object store (refs, config, stray temp files)."""
    return {str(p.relative_to(repo)) for p in repo.rglob("*") if p.is_file() and "objects" not in p.parts}


def test_round_trip(registry):
    provenance = {"seeds": {"recipe": "recipes/cpu.yaml", "seed": 0, "count": 3, "path": Path("x/y.jsonl")}}
    ref = registry.publish(
        REPO, {"seeds": {"train": seeds_table()}}, provenance=provenance,
        files={"provenance/seeds/recipe.yaml": "name: cpu\n"}, message="seeds", tag="v1",
    )
    assert ref.repo_id == REPO and len(ref.revision) == 40
    assert registry.resolve(DatasetRef.parse(f"{REPO}@v1")) == ref.revision
    assert registry.resolve(DatasetRef.parse(f"{REPO}@{ref.revision[:7]}")) == ref.revision
    assert registry.load(ref, "seeds").to_list() == seed_rows()
    assert registry.configs(ref) == ["seeds"]
    kin = registry.card_data(ref)["kinject"]
    assert kin["configs"]["seeds"] == {"recipe": "recipes/cpu.yaml", "seed": 0, "count": 3, "path": "x/y.jsonl"}
    assert kin["rows"] == {"seeds": {"train": 3}}
    assert kin["toolkit"]["version"]
    assert registry.read_file(ref, "provenance/seeds/recipe.yaml") == "name: cpu\n"
    [entry] = registry.log(REPO)
    assert entry["sha"] == ref.revision and entry["tags"] == ["v1"] and entry["message"] == "seeds"
    assert entry["configs"] == ["seeds"]


def test_publish_keeps_other_configs_and_their_provenance(registry):
    first = registry.publish(REPO, {"seeds": {"train": seeds_table()}}, provenance={"seeds": {"seed": 0}}, message="s")
    second = registry.publish(
        REPO, {"fact": {"train": _corpus(), "failures": _corpus(1)}}, provenance={"fact": {"generator": "composer"}},
        results={"run-a": {"acc": 0.5}}, message="fact",
    )
    assert registry.configs(second) == ["fact", "seeds"]
    assert registry.load(second, "seeds").to_list() == seed_rows()
    assert registry.load(second, "fact", "failures").num_rows == 1
    kin = registry.card_data(second)["kinject"]
    assert kin["configs"] == {"seeds": {"seed": 0}, "fact": {"generator": "composer"}}
    third = registry.publish(REPO, {}, results={"run-b": {"acc": 0.9}}, message="results only")
    assert registry.card_data(third)["kinject"]["results"] == {"run-a": {"acc": 0.5}, "run-b": {"acc": 0.9}}
    retrained = registry.publish(REPO, {}, results={"run-a": {"acc": 0.6}}, message="run-a again")
    results = registry.card_data(retrained)["kinject"]["results"]
    assert list(results.items()) == [("run-b", {"acc": 0.9}), ("run-a", {"acc": 0.6})]  # last recorded is last
    # Republishing a config with only a train split drops its old failures split.
    fourth = registry.publish(REPO, {"fact": {"train": _corpus(2)}}, message="fact again")
    with pytest.raises(KinjectUserError, match="has no split 'failures' \\(has: train\\)"):
        registry.load(fourth, "fact", "failures")
    assert registry.load(first, "seeds").num_rows == 3  # the old revision still loads
    assert [e["message"] for e in registry.log(REPO)] == ["fact again", "run-a again", "results only", "fact", "s"]


def test_revision_pinning(registry):
    v1 = registry.publish(REPO, {"seeds": {"train": seeds_table(tag="v1")}}, message="v1", tag="v1")
    v2 = registry.publish(REPO, {"seeds": {"train": seeds_table(n=5, tag="v2")}}, message="v2", tag="v2")
    assert v1.revision != v2.revision
    for rev in (v1.revision, "v1"):
        assert registry.load(DatasetRef(repo_id=REPO, revision=rev), "seeds").to_list() == seed_rows(tag="v1")
    for rev in ("v2", "main"):
        assert registry.load(DatasetRef(repo_id=REPO, revision=rev), "seeds").to_list() == seed_rows(5, tag="v2")
    # One cache folder per sha, nothing half-written beside them.
    assert sorted(p.name for p in (registry.cache_dir / REPO).iterdir()) == sorted([v1.revision, v2.revision])


def test_user_errors_name_repo_revision_and_what_exists(registry):
    ref = registry.publish(REPO, {"seeds": {"train": seeds_table()}, "fact": {"train": _corpus()}}, message="m")
    with pytest.raises(KinjectUserError, match=rf"{REPO}@{ref.revision[:7]} has no config 'graph' \(has: fact, seeds\)"):
        registry.load(ref, "graph")
    with pytest.raises(KinjectUserError, match=rf"{REPO}@nope: no such revision"):
        registry.load(DatasetRef(repo_id=REPO, revision="nope"), "seeds")
    with pytest.raises(KinjectUserError, match="kinject/other: no such dataset repo.*has: kinject/test-ja"):
        registry.configs(DatasetRef.parse("kinject/other@main"))
    registry.publish(REPO, {"seeds": {"train": seeds_table()}}, message="m", tag="v1")
    with pytest.raises(KinjectUserError, match="already exists; tags .* never moved"):
        registry.publish(REPO, {"seeds": {"train": seeds_table()}}, message="m", tag="v1")
    with pytest.raises(KinjectUserError, match="config name"):
        registry.publish(REPO, {"bad/name": {"train": seeds_table()}}, message="m")
    with pytest.raises(KinjectUserError, match="reserved or outside"):
        registry.publish(REPO, {}, files={"../escape.txt": "x"}, message="m")


# update-ref (the ref moving last) in the fast suite; a failure at each earlier git step is a slow test.
@pytest.mark.parametrize("step", [pytest.param(s, marks=pytest.mark.slow)
                                  for s in ("hash-object", "write-tree", "commit-tree")] + ["update-ref"])
def test_raise_mid_publish_leaves_previous_revision(registry, monkeypatch, step):
    v1 = registry.publish(REPO, {"seeds": {"train": seeds_table()}}, message="v1", tag="v1")
    repo = registry.repo_path(REPO)
    before = _repo_files(repo)
    real_git = LocalRegistry._git

    def failing_git(self, repo_path, *args, **kwargs):
        if args[0] == step:
            raise RuntimeError(f"boom in {step}")
        return real_git(self, repo_path, *args, **kwargs)

    monkeypatch.setattr(LocalRegistry, "_git", failing_git)
    with pytest.raises(RuntimeError, match="boom"):
        registry.publish(REPO, {"seeds": {"train": seeds_table(tag="v2")}}, message="v2", tag="v2")
    monkeypatch.setattr(LocalRegistry, "_git", real_git)

    assert _repo_files(repo) == before
    assert registry.resolve(DatasetRef(repo_id=REPO, revision="main")) == v1.revision
    assert [e["tags"] for e in registry.log(REPO)] == [["v1"]]
    v2 = registry.publish(REPO, {"seeds": {"train": seeds_table(tag="v2")}}, message="v2", tag="v2")
    assert registry.load(DatasetRef(repo_id=REPO, revision="v2"), "seeds").to_list() == seed_rows(tag="v2")
    assert registry.load(v1, "seeds").to_list() == seed_rows(tag="v1")
    assert v2.revision != v1.revision


_KILLED_PUBLISH = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    import datasets
    from kinject.cards.local import LocalRegistry

    root, cache, marker = sys.argv[1:4]
    real_git = LocalRegistry._git

    def slow_git(self, repo, *args, **kwargs):
        if args[0] == "update-ref":  # everything is written aside; stop right before the ref moves
            Path(marker).write_text("ready")
            time.sleep(60)
        return real_git(self, repo, *args, **kwargs)

    LocalRegistry._git = slow_git
    rows = [{"doc_id": "killed", "text": "never published"}]
    LocalRegistry(root, cache).publish(
        "kinject/test-ja", {"seeds": {"train": datasets.Dataset.from_list(rows)}}, message="killed", tag="v2"
    )
    """
)


@pytest.mark.slow  # a second Python process importing datasets
def test_sigkill_mid_publish_leaves_previous_revision(registry, tmp_path):
    v1 = registry.publish(REPO, {"seeds": {"train": seeds_table()}}, message="v1", tag="v1")
    repo = registry.repo_path(REPO)
    before = _repo_files(repo)
    marker = tmp_path / "ready"
    proc = subprocess.Popen(
        [sys.executable, "-c", _KILLED_PUBLISH, str(registry.root), str(registry.cache_dir), str(marker)],
        start_new_session=True,
        cwd=tmp_path,  # from the checkout root, `import kinject` would find the bare kinject/ folder first
    )
    try:
        deadline = time.monotonic() + 600  # a cold interpreter importing datasets is slow on a loaded machine
        while not marker.exists():
            assert proc.poll() is None, "publisher exited before reaching update-ref"
            assert time.monotonic() < deadline, "publisher never reached update-ref"
            time.sleep(0.2)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    assert proc.returncode == -signal.SIGKILL

    assert _repo_files(repo) == before
    assert registry.resolve(DatasetRef(repo_id=REPO, revision="main")) == v1.revision
    assert registry.load(DatasetRef(repo_id=REPO, revision="main"), "seeds").to_list() == seed_rows()
    # The lock died with the process: the next publish goes through, and may reuse the tag the killed one wanted.
    v2 = registry.publish(REPO, {"seeds": {"train": seeds_table(tag="v2")}}, message="v2", tag="v2")
    assert registry.resolve(DatasetRef(repo_id=REPO, revision="v2")) == v2.revision
    assert [e["message"] for e in registry.log(REPO)] == ["v2", "v1"]


def test_canary_secrets_never_written(registry, monkeypatch, capfd, caplog):
    canary_token, canary_key = "hf_CANARYcanary0123456789", "sk-CANARYkey0123456789"
    monkeypatch.setenv("HF_TOKEN", canary_token)
    monkeypatch.setenv("OPENAI_API_KEY", canary_key)
    ref = registry.publish(
        REPO, {"seeds": {"train": seeds_table()}}, provenance={"seeds": {"generator": {"base_url": "http://x"}}},
        files={"provenance/seeds/recipe.yaml": "generator:\n  api_key_env: OPENAI_API_KEY\n"}, message="m",
    )
    registry.load(ref, "seeds")
    registry.log(REPO)
    # A caller that passes the secret itself is refused, and the message names the variable, not the value.
    with pytest.raises(KinjectUserError, match=r"provenance/fact/pipeline.yaml: holds the value of \$OPENAI_API_KEY") as err:
        registry.publish(
            REPO, {"fact": {"train": _corpus()}}, files={"provenance/fact/pipeline.yaml": f"api_key: {canary_key}\n"},
            message="m",
        )
    assert canary_key not in str(err.value)
    repo = registry.repo_path(REPO)
    blobs = subprocess.run(
        ["git", "--git-dir", str(repo), "cat-file", "--batch-all-objects", "--batch"], capture_output=True, check=True
    ).stdout
    files = b"".join(p.read_bytes() for root in (repo, registry.cache_dir) for p in root.rglob("*") if p.is_file())
    captured = capfd.readouterr()
    for canary in (canary_token, canary_key):
        assert canary.encode() not in blobs + files
        assert canary not in captured.out + captured.err + caplog.text
