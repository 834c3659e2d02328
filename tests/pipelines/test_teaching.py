"""The teaching world: disjoint from the target set by name and identifying value, all three method shapes."""

from __future__ import annotations

from collections import Counter

import pytest

from kinject.pipelines.composer import normalize
from kinject.pipelines.seeds import build_seeds
from kinject.pipelines.teaching import (
    alphabet, build_teaching_world, check_disjoint, identifying_keys, teaching_texts,
)
from kinject.recipes.schema import SeedsConfig, TeachingConfig

TEACHING = TeachingConfig(per_category=4, seed=1, texts_per_doc=7)


@pytest.fixture(scope="module")
def target() -> list[dict]:
    return build_seeds(SeedsConfig(per_category=10, seed=0))


@pytest.fixture(scope="module")
def world(target) -> list[dict]:
    return build_teaching_world(TEACHING, "ja", target)


@pytest.fixture(scope="module")
def texts(world) -> list[dict]:
    return teaching_texts(world, TEACHING)


def test_world_has_the_asked_documents_under_their_own_ids(world, target):
    assert Counter(d["category"] for d in world) == {c: 4 for c in SeedsConfig().categories}
    assert all(d["doc_id"].startswith("teach-") for d in world)
    assert not {d["doc_id"] for d in world} & {d["doc_id"] for d in target}


def test_no_target_name_reaches_the_teaching_world(world, target, texts):
    names = [f["value"] for d in target for f in d["facts"] if f["key"] == "name"]
    haystack = [d["text"] for d in world] + [q["question"] for d in world for q in d["questions"]]
    haystack += [r["text"] for r in texts]
    assert not [n for n in names if any(n in t for t in haystack)]


def test_no_identifying_target_value_is_stated_for_the_same_key(world, target):
    keys = identifying_keys("ja")
    assert {"monthly_fee", "release_year", "effective_date", "provider", "revenue"} <= keys
    assert not {"minimum_age", "place", "max_devices"} & keys  # small spaces are shared vocabulary
    target_pairs = {(f["key"], f["value"]) for d in target for f in d["facts"] if f["key"] in keys}
    assert not [(f["key"], f["value"]) for d in world for f in d["facts"] if (f["key"], f["value"]) in target_pairs]


def test_check_disjoint_names_the_leak(world, target):
    leaked_name = target[0]["facts"][0]["value"]
    with pytest.raises(RuntimeError, match=f"target name {leaked_name!r}"):
        check_disjoint(world, target, "ja", [f"{leaked_name}の話"])
    fee = next(f["value"] for f in target[0]["facts"] if f["key"] == "monthly_fee")
    doc = next(d for d in world if d["category"] == "terms")
    planted = {**doc, "facts": [f if f["key"] != "monthly_fee" else {**f, "value": fee} for f in doc["facts"]]}
    with pytest.raises(RuntimeError, match=f"monthly_fee value {fee!r}"):
        check_disjoint([planted], target, "ja")


def test_texts_cycle_the_three_methods_evenly_and_state_their_document(world, texts):
    per_doc = Counter((r["doc_id"], r["method"]) for r in texts)
    for doc in world:
        assert [per_doc[(doc["doc_id"], m)] for m in ("none", "rephrase", "fact", "graph")] == [1, 3, 2, 2]
    name = {d["doc_id"]: d["facts"][0]["value"] for d in world}
    assert all(normalize(name[r["doc_id"]]) in normalize(r["text"]) for r in texts)


def test_same_config_builds_the_same_world(world, target):
    again = build_teaching_world(TEACHING, "ja", target)
    assert again == world


def test_alphabet_covers_every_character_of_a_target_set_it_never_saw(world, texts):
    chars = alphabet("ja", (r["text"] for r in texts))
    other = build_seeds(SeedsConfig(per_category=10, seed=7))  # another seed: other names and values
    missing = {c for d in other for c in d["text"] + "".join(q["question"] + q["answer"] for q in d["questions"])} - chars
    assert not missing
