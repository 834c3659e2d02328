"""The teaching world: many fictional documents, disjoint from the target set, that a tiny base model learns first.

The paper continues an instruct model that already answers questions about what it has read; CPT only adds the new
documents. A tiny model trained from scratch has to learn that skill from the target set's few dozen documents, and
memorises their QA pairs instead (Allen-Zhu & Li 2024 learn extraction from thousands of individuals). The teaching
world supplies those individuals: documents from the same builder (``seeds.build_seeds``), rewritten by the
composer in all three method shapes in equal shares (no method is favoured by the base), with their QA pairs.
``trainers/base.py`` pretrains the base on it; every study condition then continues from that base.

**Disjointness** (``check_disjoint`` enforces it, the tests check it):

- *Names*: every target text and fact value is reserved in the builder's ``NameBook``, so no invented teaching name
  equals, contains or hides in them; no target name appears in any teaching text or question.
- *Identifying values*: a teaching document never states a target document's value for the same key when that key
  has a large value space (dates, prices, years, codes: ``DISTINCT_VALUES_MIN`` or more distinct values in 300 draws
  of the builder's sampler). Keys with a small space (ages from five choices, places from a pool of twelve) share their
  vocabulary, as a pretrained model knows the words; excluding them would leave the teaching world two places and
  teach a prior that points away from the target's answers.

The world is built offline by the composer whatever the recipe's generator: it is the base's fixed curriculum,
not a corpus under study. Output revision: configs ``seeds`` (teaching documents, seed schema) and ``texts``
(``doc_id, method, text``), with the build's provenance on the ``texts`` config.
"""

from __future__ import annotations

import functools
import hashlib
import json
import random
from collections import defaultdict
from typing import Iterable, Sequence

from kinject.errors import KinjectUserError
from kinject.pipelines import fact, graph, rephrase
from kinject.pipelines.names import NameBook, name_alphabet
from kinject.pipelines.seed_templates import template_texts
from kinject.pipelines.seed_values import ValueSampler, pool_values
from kinject.pipelines.seeds import build_seeds, seed_features
from kinject.recipes.schema import CorpusConfig, Recipe, SeedsConfig, TeachingConfig

__all__ = ["TeachingConfig", "build_teaching_world", "teaching_texts", "check_disjoint", "alphabet", "run_teaching"]

DISTINCT_VALUES_MIN = 25
_SPACE_DRAWS = 300
METHODS = {"rephrase": rephrase, "fact": fact, "graph": graph}
_OVERDRAW = 4  # documents built per kept one: some are dropped for sharing an identifying value with the target


@functools.cache
def _sampled_values(lang: str) -> dict[str, frozenset[str]]:
    """key → the distinct values of ``_SPACE_DRAWS`` draws per category from the builder's value sampler."""
    rng = random.Random(0)
    sampler = ValueSampler(rng, NameBook(rng, lang), lang)
    values: dict[str, set[str]] = defaultdict(set)
    for draw in sampler.by_category.values():
        for _ in range(_SPACE_DRAWS):
            for key, value in draw().items():
                values[key].add(value)
    return {key: frozenset(seen) for key, seen in values.items()}


def identifying_keys(lang: str) -> set[str]:
    """Fact keys whose value space is large: ``DISTINCT_VALUES_MIN`` or more distinct values among the sampled
    ones (names, dates, prices, years; not ages or pool words)."""
    return {"name"} | {key for key, seen in _sampled_values(lang).items() if len(seen) >= DISTINCT_VALUES_MIN}


def _shares_identifying_value(doc: dict, target_values: dict[str, set[str]], keys: set[str]) -> bool:
    return any(f["key"] in keys and f["value"] in target_values.get(f["key"], ()) for f in doc["facts"])


def build_teaching_world(cfg: TeachingConfig, lang: str, target: Sequence[dict]) -> list[dict]:
    """``cfg.per_category`` documents per category, disjoint from ``target`` (see the module docstring)."""
    reserved = [d["text"] for d in target] + [f["value"] for d in target for f in d.get("facts") or []]
    built = build_seeds(SeedsConfig(lang=lang, per_category=cfg.per_category * _OVERDRAW, seed=cfg.seed),
                        reserved=reserved)
    keys = identifying_keys(lang)
    target_values: dict[str, set[str]] = defaultdict(set)
    for doc in target:
        for f in doc.get("facts") or []:
            target_values[f["key"]].add(f["value"])
    kept: dict[str, list[dict]] = defaultdict(list)
    for doc in built:
        if len(kept[doc["category"]]) < cfg.per_category and not _shares_identifying_value(doc, target_values, keys):
            kept[doc["category"]].append({**doc, "doc_id": f"teach-{doc['doc_id']}"})
    for category, docs in kept.items():
        if len(docs) < cfg.per_category:
            raise KinjectUserError(
                f"base.teaching.per_category: only {len(docs)} {category} documents are disjoint from the target set "
                f"(asked {cfg.per_category}); lower it or change base.teaching.seed"
            )
    world = [doc for docs in kept.values() for doc in docs]
    check_disjoint(world, target, lang)
    return world


def teaching_texts(world: Sequence[dict], cfg: TeachingConfig) -> list[dict]:
    """Each document's own text plus ``texts_per_doc`` composer rewrites, cycling rephrase, fact and graph."""
    corpus = CorpusConfig(samples_per_doc=cfg.texts_per_doc, seed=cfg.seed)
    rows = []
    for doc in world:
        rows.append({"doc_id": doc["doc_id"], "method": "none", "text": doc["text"]})
        share = {m: cfg.texts_per_doc // 3 + (i < cfg.texts_per_doc % 3) for i, m in enumerate(METHODS)}
        base = {"doc_id": doc["doc_id"], "lang": doc["lang"], "document": doc["text"], "facts": doc["facts"],
                "seed": cfg.seed}
        for method, module in METHODS.items():
            for planned in module.plan(doc, share[method], corpus):
                rows.append({"doc_id": doc["doc_id"], "method": method, "text": module.compose({**base, **planned})})
    return rows


def check_disjoint(world: Sequence[dict], target: Sequence[dict], lang: str, texts: Iterable[str] = ()) -> None:
    """Raise if a target name, or a target's identifying value for the same key, reaches the teaching world."""
    names = {f["value"] for d in target for f in d.get("facts") or [] if f["key"] == "name"}
    keys = identifying_keys(lang)
    target_values = {(f["key"], f["value"]) for d in target for f in d.get("facts") or [] if f["key"] in keys}
    haystack = [d["text"] for d in world] + [q["question"] for d in world for q in d["questions"]] + list(texts)
    for name in names:
        if hit := next((t for t in haystack if name in t), None):
            raise RuntimeError(f"target name {name!r} is in the teaching world: {hit[:80]!r}")
    for doc in world:
        for f in doc["facts"]:
            if (f["key"], f["value"]) in target_values:
                raise RuntimeError(f"{doc['doc_id']}: states the target's {f['key']} value {f['value']!r}")


def alphabet(lang: str, texts: Iterable[str]) -> set[str]:
    """Every character the document builder can write in ``lang`` plus those of ``texts``: the base tokenizer
    keeps each as a token, so a target document from the same builder never meets ``<unk>``."""
    chars = set(name_alphabet(lang))
    sampled = (value for values in _sampled_values(lang).values() for value in values)
    for text in (*template_texts(lang), *pool_values(lang), *sampled, *texts):
        chars.update(text)
    chars.update(chr(c) for c in range(0x20, 0x7F))  # ASCII: digits, units, model codes
    return chars


def run_teaching(recipe: Recipe, target: Sequence[dict]):
    """Build the teaching world for ``target`` and publish it to ``base.data_repo``; returns its ``DatasetRef``."""
    from kinject.cards.registry import open_registry
    from kinject.pipelines.corpus import rows_dataset
    from kinject.recipes.schema import recipe_to_yaml

    cfg = recipe.base.teaching
    world = build_teaching_world(cfg, recipe.seeds.lang, target)
    texts = teaching_texts(world, cfg)
    check_disjoint(world, target, recipe.seeds.lang, (r["text"] for r in texts))
    from datasets import Features, Value

    string = Value("string")
    tables = {
        "seeds": {"train": rows_dataset([{k: d[k] for k in seed_features()} for d in world], seed_features())},
        "texts": {"train": rows_dataset(texts, Features({"doc_id": string, "method": string, "text": string}))},
    }
    target_sha = hashlib.sha256(json.dumps(list(target), sort_keys=True, ensure_ascii=False).encode()).hexdigest()
    provenance = {
        "teaching": cfg.model_dump(mode="json"),
        "documents": len(world),
        "texts": len(texts),
        "disjoint_from": {"documents": len(target), "sha256": target_sha},
        "identifying_keys": sorted(identifying_keys(recipe.seeds.lang)),
        "alphabet": "".join(sorted(alphabet(recipe.seeds.lang, (r["text"] for r in texts)))),
    }
    return open_registry(recipe.registry).publish(
        recipe.base.data_repo, tables, provenance={"texts": provenance},
        files={"provenance/texts/recipe.yaml": recipe_to_yaml(recipe)},
        message=f"teaching world: {len(world)} documents, {len(texts)} texts (seed {cfg.seed})",
    )
