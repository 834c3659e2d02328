"""Hub registry: the calls and payloads at the HTTP boundary (a loopback fake Hub), plus a live test with a token."""

from __future__ import annotations

import json
import os
import socket
import uuid

import datasets
import huggingface_hub.constants
import pytest

from kinject.cards.hf import HfRegistry
from kinject.cards.refs import DatasetRef
from kinject.errors import KinjectUserError
from tests.cards.fake_hub import FakeHub
from tests.cards.samples import seed_rows, seeds_table

REPO = "kinject/hub-ja"
CANARY = "hf_CANARYhubtoken0123456789"


def _commit_ops(request: dict) -> tuple[dict, dict[str, bytes], set[str]]:
    import base64

    lines = [json.loads(line) for line in request["body"].splitlines() if line.strip()]
    header = next(x["value"] for x in lines if x["key"] == "header")
    added = {x["value"]["path"]: base64.b64decode(x["value"]["content"]) for x in lines if x["key"] == "file"}
    return header, added, {x["value"]["path"] for x in lines if x["key"] == "deletedFile"}


@pytest.fixture
def hub(monkeypatch):
    monkeypatch.setenv("HF_TOKEN", CANARY)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    with FakeHub() as fake:
        yield fake


def test_publish_is_one_commit_then_tag_and_token_only_in_auth_header(hub):
    registry = HfRegistry(private=True, endpoint=hub.url)
    corpus = datasets.Dataset.from_list([{"id": f"c{i}", "text": f"文{i}"} for i in range(3)])
    v1 = registry.publish(
        REPO, {"seeds": {"train": seeds_table()}}, provenance={"seeds": {"seed": 0}},
        files={"provenance/seeds/recipe.yaml": "name: cpu\n"}, message="seeds", tag="v1",
    )
    v2 = registry.publish(REPO, {"fact": {"train": corpus, "failures": corpus.select([0])}}, message="fact")
    v3 = registry.publish(REPO, {"fact": {"train": corpus}}, message="fact again")

    create = json.loads(next(r for r in hub.requests if r["path"] == "/api/repos/create")["body"])
    assert (create["organization"], create["name"], create["type"], create["visibility"]) == (
        "kinject", "hub-ja", "dataset", "private"
    )
    commits = [r for r in hub.requests if r["path"] == f"/api/datasets/{REPO}/commit/main"]
    assert len(commits) == 3  # one commit per publish
    header, added, deleted = _commit_ops(commits[0])
    assert header["summary"] == "seeds" and header["parentCommit"]  # the repo's initial commit
    assert set(added) == {"README.md", "data/seeds/train-00000-of-00001.parquet", "provenance/seeds/recipe.yaml"}
    assert not deleted
    header, added, deleted = _commit_ops(commits[2])
    assert header["parentCommit"] == v2.revision
    assert deleted == {"data/fact/failures-00000-of-00001.parquet"}
    tags = [r for r in hub.requests if "/tag/" in r["path"]]
    assert [(r["path"], json.loads(r["body"])) for r in tags] == [
        (f"/api/datasets/{REPO}/tag/{v1.revision}", {"tag": "v1", "message": "seeds"})
    ]
    # The token is sent as a bearer header and nowhere else: not in any request body, uploaded file or URL.
    assert {(r["method"], r["path"], r["headers"].get("authorization")) for r in hub.requests} == {
        (r["method"], r["path"], f"Bearer {CANARY}") for r in hub.requests
    }
    assert not any(CANARY.encode() in r["body"] or CANARY in r["path"] for r in hub.requests)
    assert not any(CANARY.encode() in c for r in commits for c in _commit_ops(r)[1].values())

    # Read side through the same HTTP API.
    assert registry.resolve(DatasetRef(repo_id=REPO, revision="v1")) == v1.revision
    assert registry.configs(v2) == ["fact", "seeds"]
    assert registry.card_data(v3)["kinject"]["rows"] == {"seeds": {"train": 3}, "fact": {"train": 3}}
    assert registry.read_file(v1, "provenance/seeds/recipe.yaml") == "name: cpu\n"
    log = registry.log(REPO)
    assert [(e["message"], e["tags"]) for e in log] == [
        ("fact again", []), ("fact", []), ("seeds", ["v1"]), ("initial commit", [])
    ]
    with pytest.raises(KinjectUserError, match="already exists"):
        registry.publish(REPO, {"seeds": {"train": seeds_table()}}, message="again", tag="v1")
    with pytest.raises(KinjectUserError, match="no such revision"):
        registry.resolve(DatasetRef(repo_id=REPO, revision="v9"))


def _hub_reachable() -> bool:
    try:
        socket.create_connection(("huggingface.co", 443), timeout=3).close()
        return True
    except OSError:
        return False


@pytest.mark.live_hub
@pytest.mark.skipif(not os.environ.get("HF_TOKEN"), reason="needs HF_TOKEN")
def test_live_publish_and_load_by_tag_and_sha():
    if not _hub_reachable():
        pytest.skip("huggingface.co is not reachable")
    registry = HfRegistry(private=True)
    repo_id = f"{registry.api.whoami()['name']}/kinject-live-{uuid.uuid4().hex[:8]}"
    try:
        v1 = registry.publish(repo_id, {"seeds": {"train": seeds_table()}}, message="v1", tag="v1")
        registry.publish(repo_id, {"seeds": {"train": seeds_table(tag="v2")}}, message="v2")
        for rev in ("v1", v1.revision):
            assert registry.load(DatasetRef(repo_id=repo_id, revision=rev), "seeds").to_list() == seed_rows()
    finally:
        registry.api.delete_repo(repo_id, repo_type="dataset", missing_ok=True)
