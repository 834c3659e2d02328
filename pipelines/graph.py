"""graph — EntiGraph (Yang et al. 2024, "Synthetic Continued Pretraining"): extract a document's entities, then
write about the relations between sampled pairs and triples of them, grounded in the document.

With an LLM, ``ExtractEntities`` asks for the entities as JSON (one request per document; unparseable output sends
the document's samples to ``failures`` as ``unparseable_extraction``) and ``RelateEntities`` writes one text per
sample with the document in the prompt. With the offline composer the entities are the document's subject and its
fact values (``composer.nodes``) and ``ComposeRelations`` writes the text. ``corpus.graph.triple_share`` of the
samples are triples, spread evenly over the samples; pairs and triples are each cycled through all combinations
in a seeded shuffle, so every entity is covered evenly. Deterministic from ``corpus.seed``.

Reads: planned rows (``id, doc_id, lang, document, facts, sample, variant, entities``). Writes: corpus rows with
``variant`` = ``pair:`` or ``triple:`` and the entity names joined by ``|``. Stats: per-fact exposures.
"""

# no `from __future__ import annotations`: distilabel finds a step's input parameter by its runtime
# `StepInput` (typing.Annotated) annotation, which a string annotation would hide
import functools
import hashlib
import itertools
import json
import random
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from distilabel.steps import Step, StepInput
from distilabel.steps.tasks import Task
from jinja2 import Template
from pydantic import BaseModel, ValidationError

from kinject.pipelines import composer
from kinject.pipelines.checkpoint import generation_pipeline
from kinject.recipes.schema import CorpusConfig, GraphConfig

if TYPE_CHECKING:
    from distilabel.pipeline import Pipeline
    from distilabel.steps import StepOutput
    from distilabel.typing import ChatType

__all__ = ["GraphConfig", "Entity", "ExtractEntities", "RelateEntities", "ComposeRelations", "compose", "plan",
           "build_pipeline"]

# ---------------------------------------------------------------------------------------------------------------
# prompts (Japanese and English)
# ---------------------------------------------------------------------------------------------------------------

EXTRACT_ENTITIES_TEMPLATE = {
    "ja": (
        "次の文書に登場する重要な実体（名前・組織・製品・数値・日付・用語など）を、最大{{ max_entities }}個、"
        "文書中の表記のまま抜き出してください。JSONだけを出力してください。"
        '形式: {"entities": [{"name": "実体", "type": "種類"}]}\n\n文書:\n{{ document }}'
    ),
    "en": (
        "List the important entities (names, organisations, products, numbers, dates, terms) in the following "
        "document, at most {{ max_entities }}, written exactly as in the document. Output JSON only, in the form "
        '{"entities": [{"name": "...", "type": "..."}]}\n\nDocument:\n{{ document }}'
    ),
}
RELATE_TEMPLATE = {
    "ja": (
        "次の文書に基づいて、{% for e in entities %}「{{ e }}」{% if not loop.last %}、{% endif %}{% endfor %}"
        "の間の関係について説明する文章を日本語で書いてください。文書に書かれていることだけを使い、"
        "数値や名前は一字一句変えないでください。文章だけを出力してください。\n\n文書:\n{{ document }}"
    ),
    "en": (
        "Based on the following document, write an English text about the relations between "
        "{% for e in entities %}\"{{ e }}\"{% if not loop.last %}, {% endif %}{% endfor %}. Use only what the "
        "document says and copy numbers and names exactly. Output only the text.\n\nDocument:\n{{ document }}"
    ),
}


def _lang(row: dict) -> str:
    return "ja" if row.get("lang") == "ja" else "en"


@functools.lru_cache(maxsize=None)
def _template(source: str) -> Template:
    return Template(source)


def render_extraction(doc: dict, corpus: CorpusConfig | None = None, max_entities: int | None = None) -> str:
    """The extraction request's user message for one document."""
    limit = max_entities or (corpus.graph.max_entities if corpus else GraphConfig().max_entities)
    return _template(EXTRACT_ENTITIES_TEMPLATE[_lang(doc)]).render(
        document=doc.get("document") or doc.get("text"), max_entities=limit)


def render_prompt(row: dict[str, Any], lang: str) -> str:
    """The relation request's user message for one planned row (also used by ``--dry-run``)."""
    return _template(RELATE_TEMPLATE[lang]).render(document=row["document"], entities=row["entities"])


def prompt_sha(lang: str) -> str:
    source = EXTRACT_ENTITIES_TEMPLATE[lang] + RELATE_TEMPLATE[lang]
    return hashlib.sha256(source.encode("utf-8")).hexdigest()


def prompts() -> dict[str, str]:
    return {**{f"extract_entities_{k}": v for k, v in EXTRACT_ENTITIES_TEMPLATE.items()},
            **{f"relate_{k}": v for k, v in RELATE_TEMPLATE.items()}}


# ---------------------------------------------------------------------------------------------------------------
# row contracts and parsers
# ---------------------------------------------------------------------------------------------------------------


class Entity(BaseModel):
    """One extracted entity: its name as the document writes it, and a free-form type."""

    name: str
    type: str = ""


_JSON = re.compile(r"[\[{].*[\]}]", re.S)


def _parse_entities(text: str | None) -> list[Entity] | None:
    """Distinct entities in an extraction output (``{"entities": [...]}``, a list of objects or of strings)."""
    if not text or not (found := _JSON.search(text)):
        return None
    try:
        data = json.loads(found.group(0))
    except json.JSONDecodeError:
        return None
    items = data.get("entities") if isinstance(data, dict) else data
    if not isinstance(items, list):
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


class ExtractEntities(Task):
    """Extract a document's entities as JSON.

    Input columns: ``document``, ``lang``. Output columns: ``extracted`` (list of entity names, or None when the
    output does not parse), ``model_name``. The composer's counterpart is ``composer.nodes``.
    """

    max_entities: int = 12

    @property
    def inputs(self) -> list[str]:
        return ["document", "lang"]

    @property
    def outputs(self) -> list[str]:
        return ["extracted", "model_name"]

    def format_input(self, input: dict[str, Any]) -> "ChatType":
        return [{"role": "user", "content": render_extraction(input, max_entities=self.max_entities)}]

    def format_output(self, output: str | None, input: dict[str, Any] | None = None) -> dict[str, Any]:
        entities = _parse_entities(output)
        return {"extracted": None if entities is None else [e.name for e in entities]}


class RelateEntities(Task):
    """Write about the relations between two or three entities, grounded in the document.

    Input columns: ``document``, ``lang``, ``entities``. Output columns: ``generation``, ``model_name``.
    """

    @property
    def inputs(self) -> list[str]:
        return ["document", "lang", "entities"]

    @property
    def outputs(self) -> list[str]:
        return ["generation", "model_name"]

    def format_input(self, input: dict[str, Any]) -> "ChatType":
        return [{"role": "user", "content": render_prompt(input, _lang(input))}]

    def format_output(self, output: str | None, input: dict[str, Any] | None = None) -> dict[str, Any]:
        return {"generation": (output or "").strip()}


class ComposeRelations(Step):
    """The composer's text about an entity pair or triple (offline; see ``composer.py``).

    Input columns: ``doc_id``, ``lang``, ``document``, ``facts``, ``entities``, ``sample``, ``seed``.
    Output columns: ``generation``, ``model_name``.
    """

    @property
    def inputs(self) -> list[str]:
        return ["doc_id", "lang", "document", "facts", "entities", "sample", "seed"]

    @property
    def outputs(self) -> list[str]:
        return ["generation", "model_name"]

    def process(self, inputs: StepInput) -> "StepOutput":  # type: ignore[override]
        for row in inputs:
            row["generation"] = compose(row)
            row["model_name"] = "composer"
        yield inputs


def compose(row: dict) -> str:
    """The composer's text for one planned row (the step above; ``benchmarks/composer_variety.py``)."""
    doc = composer.doc_of(row)
    by_name = {node.name: node for node in composer.nodes(doc, len(doc["facts"]) + 1)}
    rng = composer.rng_for(row["seed"], row["doc_id"], "graph", row["sample"])
    return composer.compose_relation(doc, [by_name[name] for name in row["entities"]], rng)


# ---------------------------------------------------------------------------------------------------------------
# pipelines
# ---------------------------------------------------------------------------------------------------------------


def build_extraction_pipeline(
    docs: list[dict], *, llm: Any, checkpoint: Path, cache_dir: Path, max_entities: int = 12, run: str = "",
    use_ray: bool = False,
) -> "Pipeline":
    """``load_documents >> extract_entities >> append_to_checkpoint`` (LLM backends only)."""
    def task():  # built inside the pipeline's context (see ``generation_pipeline``)
        return ExtractEntities(name="extract_entities", llm=llm, max_entities=max_entities)

    return generation_pipeline(
        "kinject-graph-extract", docs, task, checkpoint, cache_dir=cache_dir, batch_size=8, run=run,
        columns=("id", "doc_id", "extracted", "input_tokens", "output_tokens", "run"), text_column="",
        use_ray=use_ray,
    )


def build_pipeline(
    rows: list[dict], *, llm: Any | None, checkpoint: Path, cache_dir: Path, batch_size: int, run: str = "",
    use_ray: bool = False,
) -> "Pipeline":
    """``load_variants >> relate_entities (LLM) | compose_relations (composer) >> append_to_checkpoint``."""
    def step():  # built inside the pipeline's context (see ``generation_pipeline``)
        return ComposeRelations(name="compose_relations") if llm is None else RelateEntities(
            name="relate_entities", llm=llm)

    return generation_pipeline("kinject-graph", rows, step, checkpoint, cache_dir=cache_dir, batch_size=batch_size,
                               run=run, use_ray=use_ray)
