"""End to end: a corpus published to a local registry, subsets selected and published, bad input refused."""

import json
import logging
from collections import Counter
from pathlib import Path

import datasets
import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from kinject.cards.refs import DatasetRef
from kinject.cards.registry import open_registry
from kinject.cli import app
from kinject.pipelines.corpus import rows_dataset
from kinject.pipelines.selection.run import run_selection
from kinject.recipes.schema import load_recipe

from .conftest import JA_BASE

REPO = "kinject/select-test"


def _corpus_rows() -> list[dict]:
    """3 documents × 12 rows: a sentence of the document plus 40 random characters (Jaccard ≈ 0.4 between
    variants); rows 10 and 11 repeat rows 0 and 1 with their last character changed (character 5-gram Jaccard
    0.96-0.98, safely above the 0.8 threshold; a change 10 characters from the end gave 0.83 on the shortest
    sentence, where LSH caught the pair only about half the time)."""
    rng = np.random.default_rng(0)
    alphabet = [chr(c) for c in range(0x3041, 0x3097)]
    rows = []
    for d, base in enumerate(JA_BASE):
        sentences = [s + "。" for s in base.split("。") if s]
        for v in range(10):
            tail = "".join(rng.choice(alphabet, 40))
            rows.append({"id": f"d{d}-v{v}", "doc_id": f"doc{d}", "text": sentences[v % len(sentences)] + tail})
        for v in (10, 11):
            text = rows[d * 12 + v - 10]["text"]
            rows.append({"id": f"d{d}-v{v}", "doc_id": f"doc{d}", "text": text[:-1] + "漢"})
    return rows


def _write_recipe(tmp_path, **selection) -> str:
    recipe = {
        "extends": str(_root() / "recipes/cpu.yaml"),
        "registry": {"kind": "local", "root": str(tmp_path / "registry"), "cache_dir": str(tmp_path / "cache"),
                     "repo": REPO},
        "train": {"tiny": {"hidden_size": 32, "num_layers": 1, "num_heads": 2, "intermediate_size": 64}},
        "selection": selection,
    }
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe, allow_unicode=True))
    return str(path)


def _root() -> Path:
    return Path(__file__).resolve().parents[3]


@pytest.fixture
def published(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the tiny reference model caches under ./.kinject
    recipe = load_recipe(_write_recipe(tmp_path))
    registry = open_registry(recipe.registry)
    seeds = datasets.Dataset.from_list([{"doc_id": f"doc{d}", "text": t} for d, t in enumerate(JA_BASE)])
    ref = registry.publish(REPO, {"seeds": {"train": seeds}, "rephrase": {"train": datasets.Dataset.from_list(
        _corpus_rows())}, "empty": {"train": rows_dataset([], seeds.features)}},
        message="corpus")
    return tmp_path, registry, ref


def test_ppl_subsets_published_with_scores_and_parameters(published, monkeypatch):
    tmp_path, registry, source = published
    recipe = load_recipe(_write_recipe(tmp_path, perplexity={"reference_steps": 5, "keep": ["top", "bottom"]}))
    ref = run_selection(recipe, source, "rephrase", "ppl")
    assert len(registry.log(REPO)) == 2  # one commit for both subsets
    assert {"rephrase-ppl-top50", "rephrase-ppl-bottom50", "rephrase", "seeds"} <= set(registry.configs(ref))
    top = registry.load(ref, "rephrase-ppl-top50")
    bottom = registry.load(ref, "rephrase-ppl-bottom50")
    assert len(top) == len(bottom) == 18  # 6 of each document's 12
    for doc in ("doc0", "doc1", "doc2"):
        top_ppl = [p for p, d in zip(top["ppl"], top["doc_id"]) if d == doc]
        bottom_ppl = [p for p, d in zip(bottom["ppl"], bottom["doc_id"]) if d == doc]
        assert min(top_ppl) >= max(bottom_ppl)  # per document, every kept-top row outranks every kept-bottom row
    dropped = registry.load(ref, "rephrase-ppl-top50", split="dropped")
    assert set(dropped["reason"]) == {"perplexity_too_low"}
    card = registry.card_data(ref)["kinject"]["configs"]["rephrase-ppl-top50"]
    assert card["source"] == f"{REPO}@{registry.resolve(source)}"
    assert card["params"]["fraction"] == 0.5 and card["reference_model"]["kind"] == "tiny"
    stats = json.loads(registry.read_file(ref, "stats/rephrase-ppl-top50/perplexity.json"))
    assert stats["counts"] == {"total": 36, "kept": 18, "dropped": 18, "dropped_perplexity_too_low": 18}
    # same input, config and seed: same subset, the scores read back from the published revision
    again = run_selection(recipe, source, "rephrase", "ppl")
    assert list(registry.load(again, "rephrase-ppl-top50")["id"]) == list(top["id"])
    reused = registry.card_data(again)["kinject"]["configs"]["rephrase-ppl-top50"]["reference_model"]
    assert reused["scores_reused_from"].startswith(f"{REPO}@{registry.resolve(ref)} config rephrase-ppl-")
    # another fraction re-ranks the same scores: no model is loaded or trained, also from the repo's main (which
    # the publishes above moved: the scores are matched by the rows, not by the revision)
    monkeypatch.setattr("kinject.pipelines.selection.run._reference", _no_reference)
    third = load_recipe(_write_recipe(tmp_path, perplexity={"reference_steps": 5, "fraction": 0.25}))
    quarter = registry.load(run_selection(third, None, "rephrase", "ppl"), "rephrase-ppl-top25")
    assert len(quarter) == 9 and set(quarter["id"]) <= set(top["id"])
    # a different reference LM is scored afresh
    fourth = load_recipe(_write_recipe(tmp_path, perplexity={"reference_steps": 6}))
    with pytest.raises(AssertionError, match="scored again"):
        run_selection(fourth, source, "rephrase", "ppl")


def _no_reference(*args):
    raise AssertionError("scored again")


def test_d4_keeps_the_ratio_in_every_document_with_scores(published):
    tmp_path, registry, source = published
    recipe = load_recipe(_write_recipe(tmp_path, d4={"n_clusters": 2, "ratio": 0.5, "epsilon": 0.02}))
    ref = run_selection(recipe, source, "rephrase", "d4")
    subset = registry.load(ref, "rephrase-d4-50")
    assert {"cluster", "semdedup_max_sim", "proto_dist", "semdedup_cluster"} <= set(subset.column_names)
    assert Counter(subset["doc_id"]) == {"doc0": 6, "doc1": 6, "doc2": 6}  # round(0.5 * 12) of each document
    dropped = registry.load(ref, "rephrase-d4-50", split="dropped")
    reasons = dict(zip(dropped["id"], dropped["reason"]))
    for d in range(3):  # the planted one-character variants go at the MinHash stage
        assert reasons[f"d{d}-v10"] == reasons[f"d{d}-v11"] == "minhash_near_duplicate"
    assert set(reasons.values()) <= {"minhash_near_duplicate", "semdedup_near_duplicate", "prototype_easy"}
    card = registry.card_data(ref)["kinject"]["configs"]["rephrase-d4-50"]
    assert card["params"]["n_clusters"] == 2 and card["blocks"]["minhash"]["counts"]["dropped"] == 6
    assert card["blocks"]["minhash"]["notes"] == {"threshold_0.8": 3}  # the configured threshold sufficed
    assert card["kept_fraction"] == 0.5 and card["embedding"]["model"] == "char-tfidf"
    removed = sum(card["blocks"][b]["counts"]["dropped"] for b in ("minhash", "semdedup", "prototype"))
    assert removed == 18
    assert "stats/rephrase-d4-50/semdedup.json" in registry.list_files(ref)
    # same input, config and seed: the same subset
    again = registry.load(run_selection(recipe, source, "rephrase", "d4"), "rephrase-d4-50")
    assert list(again["id"]) == list(subset["id"])
    # at 10 % the target is round(0.1 * 12) = 1 row per document
    tenth = load_recipe(_write_recipe(tmp_path, d4={"n_clusters": 2, "ratio": 0.1, "epsilon": 0.02}))
    cut = registry.load(run_selection(tenth, source, "rephrase", "d4"), "rephrase-d4-10")
    assert sorted(cut["doc_id"]) == ["doc0", "doc1", "doc2"]


def _redundant_rows(distinct: int, variants: int) -> list[dict]:
    """Per document of JA_BASE: ``variants`` copies of the document's text with one character changed each
    (character 5-gram Jaccard about 0.9 between two: one near-duplicate group at threshold 0.8), then
    ``distinct`` unrelated texts."""
    rng = np.random.default_rng(1)
    alphabet = [chr(c) for c in range(0x30A1, 0x30F6)]
    rows = []
    for d, base in enumerate(JA_BASE):
        for v in range(variants):
            at = 3 + 7 * v
            rows.append({"id": f"d{d}-n{v}", "doc_id": f"doc{d}", "text": base[:at] + "漢" + base[at + 1:]})
        for v in range(distinct):
            rows.append({"id": f"d{d}-x{v}", "doc_id": f"doc{d}", "text": "".join(rng.choice(alphabet, 80))})
    return rows


def test_d4_dedup_gives_way_to_the_ratio(published):
    """16 near-duplicates and 4 distinct texts per document: at the configured thresholds MinHash would leave 5
    rows of each 20 (25 %); the thresholds rise until each document keeps exactly 10, and the card says which."""
    tmp_path, registry, source = published
    source = registry.publish(REPO, {"graph": {"train": datasets.Dataset.from_list(_redundant_rows(4, 16))}},
                              message="redundant corpus")
    recipe = load_recipe(_write_recipe(tmp_path, d4={"n_clusters": 2, "ratio": 0.5}))
    ref = run_selection(recipe, source, "graph", "d4")
    subset = registry.load(ref, "graph-d4-50")
    assert Counter(subset["doc_id"]) == {"doc0": 10, "doc1": 10, "doc2": 10}
    card = registry.card_data(ref)["kinject"]["configs"]["graph-d4-50"]
    assert card["rows_out"] == 30 and card["kept_fraction"] == 0.5
    minhash = card["blocks"]["minhash"]
    assert minhash["params"]["threshold"] == 0.8 and "threshold_0.8" not in minhash["notes"]
    assert sum(minhash["notes"].values()) == 3  # one threshold per document, each above 0.8
    assert card["blocks"]["semdedup"]["thresholds_used"]["units"] == 3
    again = registry.load(run_selection(recipe, source, "graph", "d4"), "graph-d4-50")
    assert list(again["id"]) == list(subset["id"])


def test_d4_names_the_config_by_what_it_could_keep(published, caplog):
    """Each document has 6 distinct texts among 20 rows: 50 % cannot be reached, 30 % is what is kept."""
    tmp_path, registry, source = published
    rows = []
    for row in _redundant_rows(6, 0):  # texts x0..x5 of each document: 4 copies of x0 and x1, 3 of the rest
        copies = 4 if row["id"].endswith(("x0", "x1")) else 3
        rows += [{**row, "id": f"{row['id']}-{c}"} for c in range(copies)]
    source = registry.publish(REPO, {"graph": {"train": datasets.Dataset.from_list(rows)}}, message="repeats")
    recipe = load_recipe(_write_recipe(tmp_path, d4={"n_clusters": 2, "ratio": 0.5}))
    with caplog.at_level(logging.WARNING, logger="kinject.pipelines.selection.run"):
        ref = run_selection(recipe, source, "graph", "d4")
    assert "graph-d4-30" in registry.configs(ref) and "graph-d4-50" not in registry.configs(ref)
    assert "fewer distinct texts than the ratio asks" in caplog.text and "graph-d4-30" in caplog.text
    card = registry.card_data(ref)["kinject"]["configs"]["graph-d4-30"]
    assert card["rows_out"] == 18 and card["blocks"]["minhash"]["notes"]["units_short_of_target"] == 3


def _cli(tmp_path, *args, **selection):
    return CliRunner().invoke(app, ["select", "--recipe", _write_recipe(tmp_path, **selection), *args])


@pytest.mark.parametrize(("args", "selection", "message"), [
    (["--method", "rephrase", "--by", "d4"], {"d4": {"ratio": 0}}, "selection.d4.ratio"),
    (["--method", "rephrase", "--by", "ppl"], {"perplexity": {"fraction": 1.5}}, "selection.perplexity.fraction"),
    (["--method", "graph", "--by", "ppl"], {}, "has no config 'graph'"),
    (["--method", "empty", "--by", "ppl"], {}, "is empty"),
    (["--method", "rephrase", "--by", "d4"], {"d4": {"n_clusters": 13}}, "selection.d4.n_clusters"),
    (["--method", "rephrase", "--by", "size"], {}, "--by"),
])
def test_bad_input_exits_2_and_publishes_nothing(published, args, selection, message):
    tmp_path, registry, source = published
    result = _cli(tmp_path, *args, "--from", str(source), **selection)
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert len(registry.log(REPO)) == 1


def test_nan_embeddings_exit_2_and_publish_nothing(published, monkeypatch):
    tmp_path, registry, source = published

    class NaNModel:
        def encode(self, texts, **kwargs):
            return np.full((len(texts), 8), np.nan, dtype=np.float32)

    monkeypatch.setattr("kinject.pipelines.selection.embeddings.load_embedding_model", lambda name: NaNModel())
    result = _cli(tmp_path, "--method", "rephrase", "--by", "d4", "--from", str(source),
                  d4={"n_clusters": 2, "embedding_model": "all-MiniLM-L6-v2"})
    assert result.exit_code == 2, result.output
    assert "NaN" in result.output
    assert len(registry.log(REPO)) == 1
