"""graph — EntiGraph (Yang et al. 2024, "Synthetic Continued Pretraining"): extract a document's entities, then
write about the relations between sampled pairs and triples of them, grounded in the document.

With an LLM, ``ExtractEntities`` asks for the entities as JSON (one request per document; unparseable output sends
the document's samples to ``failures`` as ``unparseable_extraction``) and ``RelateEntities`` writes one text per
sample with the document in the prompt. With the offline composer the entities are the document's subject and its
fact values (``composer.nodes``) and ``ComposeRelations`` writes the text. ``corpus.graph.triple_share`` of the
samples are triples, spread evenly over the samples; pairs and triples are each cycled through all combinations
in a seeded shuffle, so every entity is covered evenly. Deterministic from ``corpus.seed``.

Prompts: ``prompts/graph_extract_<lang>.jinja2`` (extraction) and ``prompts/graph_<lang>.jinja2`` (relations).

Reads: planned rows (``id, doc_id, lang, document, facts, sample, variant, entities``). Writes: corpus rows with
``variant`` = ``pair:`` or ``triple:`` and the entity names joined by ``|``. Stats: per-fact exposures.
"""

import hashlib
import itertools
import random
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import BaseModel, ValidationError

from kinject.pipelines import composer
from kinject.pipelines.generation import (
    ComposeText, ExtractFromDocument, GenerateText, extraction_pipeline, json_items, prompt_source, render,
    text_pipeline,
)
from kinject.recipes.schema import CorpusConfig, GraphConfig
from kinject.text import lang_of

if TYPE_CHECKING:
    from distilabel.pipeline import Pipeline

__all__ = ["GraphConfig", "Entity", "ExtractEntities", "RelateEntities", "ComposeRelations", "compose", "plan",
           "build_pipeline"]

LANGS = ("ja", "en")

# ---------------------------------------------------------------------------------------------------------------
# prompts: prompts/graph_extract_<lang>.jinja2 and prompts/graph_<lang>.jinja2
# ---------------------------------------------------------------------------------------------------------------


def render_extraction(doc: dict, corpus: CorpusConfig | None = None, max_entities: int | None = None) -> str:
    """The extraction request's user message for one document."""
    limit = max_entities or (corpus.graph.max_entities if corpus else GraphConfig().max_entities)
    return render(f"graph_extract_{lang_of(doc)}", document=doc.get("document") or doc.get("text"),
                  max_entities=limit)


def render_prompt(row: dict[str, Any], lang: str) -> str:
    """The relation request's user message for one planned row (also used by ``--dry-run``)."""
    return render(f"graph_{lang}", document=row["document"], entities=row["entities"])


def prompt_sha(lang: str) -> str:
    source = prompt_source(f"graph_extract_{lang}") + prompt_source(f"graph_{lang}")
    return hashlib.sha256(source.encode("utf-8")).hexdigest()


def prompts() -> dict[str, str]:
    return {**{f"extract_entities_{k}": prompt_source(f"graph_extract_{k}") for k in LANGS},
            **{f"relate_{k}": prompt_source(f"graph_{k}") for k in LANGS}}


# ---------------------------------------------------------------------------------------------------------------
# row contracts and parsers
# ---------------------------------------------------------------------------------------------------------------


class Entity(BaseModel):
    """One extracted entity: its name as the document writes it, and a free-form type."""

    name: str
    type: str = ""


def _parse_entities(text: str | None) -> list[Entity] | None:
    """Distinct entities in an extraction output (``{"entities": [...]}``, a list of objects or of strings)."""
    if (items := json_items(text, "entities")) is None:
        return None
    out: list[Entity] = []
    try:
        for item in items:
            entity = Entity(name=item.strip()) if isinstance(item, str) else Entity(
                name=str(item["name"]).strip(), type=str(item.get("type") or ""))
            if entity.name and entity.name not in {e.name for e in out}:
                out.append(entity)
    except (KeyError, TypeError, AttributeError, ValidationError):
        return None
    return out if len(out) >= 2 else None


# ---------------------------------------------------------------------------------------------------------------
# variant planning (pure, deterministic)
# ---------------------------------------------------------------------------------------------------------------


def plan_groups(names: list[str], n: int, triple_share: float, rng: random.Random) -> list[list[str]]:
    """n entity groups: triples at evenly spread samples (``triple_share``), pairs elsewhere, each kind cycled
    through all its combinations in a seeded shuffle."""
    pairs = rng.sample(list(itertools.combinations(names, 2)), len(list(itertools.combinations(names, 2))))
    triples = list(itertools.combinations(names, 3))
    triples = rng.sample(triples, len(triples))
    groups, n_pairs, n_triples = [], 0, 0
    for i in range(n):
        is_triple = bool(triples) and int((i + 1) * triple_share) > int(i * triple_share)
        if is_triple:
            groups.append(list(triples[n_triples % len(triples)]))
            n_triples += 1
        else:
            groups.append(list(pairs[n_pairs % len(pairs)]))
            n_pairs += 1
    return groups


def plan(doc: dict, n: int, corpus: CorpusConfig, entities: list[str] | None = None) -> list[dict[str, Any]]:
    """One variant per sample: an entity pair or triple (from the extraction, or the composer's nodes)."""
    if entities is None:
        entities = [node.name for node in composer.nodes(doc, corpus.graph.max_entities)]
    entities = entities[: corpus.graph.max_entities]
    if len(entities) < 2:  # no pair to relate: every sample of the document goes to failures
        return [{"sample": i, "variant": "too_few_entities", "entities": entities, "reason": "too_few_entities"}
                for i in range(n)]
    rng = composer.rng_for(corpus.seed, doc["doc_id"], "graph-plan", 0)
    rows = []
    for i, group in enumerate(plan_groups(entities, n, corpus.graph.triple_share, rng)):
        kind = "triple" if len(group) == 3 else "pair"
        rows.append({"sample": i, "variant": f"{kind}:" + "|".join(group), "entities": group})
    return rows


# ---------------------------------------------------------------------------------------------------------------
# tasks: LLM steps and their composer counterparts
# ---------------------------------------------------------------------------------------------------------------


class ExtractEntities(ExtractFromDocument):
    """Extract a document's entities as JSON.

    Input columns: ``document``, ``lang``. Output columns: ``extracted`` (list of entity names, or None when the
    output does not parse), ``model_name``. The composer's counterpart is ``composer.nodes``.
    """

    max_entities: int = 12

    def prompt(self, row: dict[str, Any]) -> str:
        return render_extraction(row, max_entities=self.max_entities)

    def parse(self, output: str | None) -> list | None:
        entities = _parse_entities(output)
        return None if entities is None else [e.name for e in entities]


class RelateEntities(GenerateText):
    """Write about the relations between two or three entities, grounded in the document.

    Input columns: ``document``, ``lang``, ``entities``. Output columns: ``generation``, ``model_name``.
    """

    columns: ClassVar[tuple[str, ...]] = ("document", "lang", "entities")
    render_prompt = staticmethod(render_prompt)


def compose(row: dict) -> str:
    """The composer's text for one planned row (``ComposeRelations`` below; ``benchmarks/composer_variety.py``)."""
    doc = composer.doc_of(row)
    by_name = {node.name: node for node in composer.nodes(doc, len(doc["facts"]) + 1)}
    rng = composer.rng_for(row["seed"], row["doc_id"], "graph", row["sample"])
    return composer.compose_relation(doc, [by_name[name] for name in row["entities"]], rng)


class ComposeRelations(ComposeText):
    """The composer's text about an entity pair or triple (offline; see ``composer.py``).

    Input columns: ``doc_id``, ``lang``, ``document``, ``facts``, ``entities``, ``sample``, ``seed``.
    Output columns: ``generation``, ``model_name``.
    """

    columns: ClassVar[tuple[str, ...]] = ("doc_id", "lang", "document", "facts", "entities", "sample", "seed")
    compose_row = staticmethod(compose)


# ---------------------------------------------------------------------------------------------------------------
# pipelines
# ---------------------------------------------------------------------------------------------------------------


def build_extraction_pipeline(
    docs: list[dict], *, llm: Any, checkpoint: Path, cache_dir: Path, max_entities: int = 12, run: str = "",
    use_ray: bool = False,
) -> "Pipeline":
    """``load_variants >> extract_entities >> append_to_checkpoint`` (LLM backends only)."""
    return extraction_pipeline("graph", docs, task=ExtractEntities, llm=llm, checkpoint=checkpoint,
                               cache_dir=cache_dir, run=run, use_ray=use_ray, max_entities=max_entities)


def build_pipeline(
    rows: list[dict], *, llm: Any | None, checkpoint: Path, cache_dir: Path, batch_size: int, run: str = "",
    use_ray: bool = False,
) -> "Pipeline":
    """``load_variants >> relate_entities (LLM) | compose_relations (composer) >> append_to_checkpoint``."""
    return text_pipeline("graph", rows, llm=llm, task=RelateEntities, composer_step=ComposeRelations,
                         checkpoint=checkpoint, cache_dir=cache_dir, batch_size=batch_size, run=run,
                         use_ray=use_ray)
