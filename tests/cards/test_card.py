"""Cards: front matter that huggingface_hub parses and datasets resolves; a body a person can use."""

from __future__ import annotations

import datasets
from huggingface_hub import DatasetCard

from kinject.cards.card import render_card
from kinject.cards.layout import plan_publish
from tests.cards.samples import seed_rows, seeds_table

REPO = "kinject/card-ja"
PROVENANCE = {
    "seeds": {"recipe": "recipes/cpu.yaml", "count": 3},
    "fact": {
        "method": "fact",
        "generator": {"backend": "composer", "model": "composer", "revision": None},
        "seed_revision": "kinject/card-ja@abc1234",
        "prompts": {"fact_ja": "9f" * 32},
        "sampling": {"temperature": 0.7, "samples_per_doc": 4},
        "tokens": 1234,
        "exposures": {"price": 4, "name": 2, "date": 0},
    },
}


def _publish_all(registry):
    corpus = datasets.Dataset.from_list([{"id": f"c{i}", "text": f"文{i}"} for i in range(4)])
    registry.publish(REPO, {"seeds": {"train": seeds_table()}}, provenance={"seeds": PROVENANCE["seeds"]}, message="s")
    return registry.publish(
        REPO, {"fact": {"train": corpus, "failures": corpus.select([0])}}, provenance={"fact": PROVENANCE["fact"]},
        results={"tiny-fact": {"accuracy_final": 0.625, "steps_to_85": None, "model": "tiny", "curve": [[1, 0.1]]}},
        files={"results/tiny-fact/curve.png": b"\x89PNG fake", "provenance/fact/pipeline.yaml": "steps: []\n"},
        message="fact", tag="v1",
    )


def test_card_parses_and_configs_resolve_with_datasets(registry):
    ref = _publish_all(registry)
    folder = registry.materialise(REPO, ref.revision)
    card = DatasetCard.load(folder / "README.md")
    assert [c["config_name"] for c in card.data.configs] == ["fact", "seeds"]
    assert card.data.to_dict()["kinject"]["configs"] == PROVENANCE
    assert card.data.to_dict()["kinject"]["rows"] == {"seeds": {"train": 3}, "fact": {"train": 4, "failures": 1}}
    # Stock datasets reads the configs from the card's front matter.
    assert datasets.load_dataset(str(folder), "seeds", split="train").to_list() == seed_rows()
    failures = datasets.load_dataset(str(folder), "fact", split="failures")
    assert failures.to_list() == [{"id": "c0", "text": "文0"}]


def test_card_body_tells_a_person_what_and_how(registry):
    ref = _publish_all(registry)
    body = registry.read_file(ref, "README.md").split("\n---\n", 1)[1]
    assert f'load_dataset("{REPO}", "seeds", revision="v1")' in body  # the tag being published
    assert "| `fact` | train: 4, failures: 1 | fact |" in body
    assert "| `fact` | 3 | 0 | 2 | 4 | 1 |" in body  # exposures per fact: facts, min, median, max, never stated
    assert "| tiny-fact | 0.625 |  | tiny |" in body  # nested curve stays in the front matter
    assert "![tiny-fact: accuracy vs exposures](results/tiny-fact/curve.png)" in body
    assert "[`provenance/fact/pipeline.yaml`](provenance/fact/pipeline.yaml)" in body
    assert "| prompts | {fact_ja: " in body and "| seed_revision | kinject/card-ja@abc1234 |" in body


def test_card_rerenders_with_resolved_sha_and_without_optional_sections():
    plan = plan_publish(REPO, {}, {"seeds": {"train": seeds_table()}}, provenance=None, results=None, files=None)
    text = render_card(REPO, plan.card_data, set(plan.files), revision="f" * 40)
    assert f'revision="{"f" * 40}"' in text
    assert "## Results" not in text and "## Exposures per fact" not in text
    assert "No provenance recorded." in text
    assert DatasetCard(text).data.to_dict()["kinject"]["rows"] == {"seeds": {"train": 3}}
