"""fact — fact-based rewriting (Mecklenburg et al. 2024, "Injecting New Knowledge into LLMs via SFT"): extract a
document's atomic facts, then compose new texts, each from a sampled subset of facts in a new context and order.

With an LLM, ``ExtractFacts`` asks for the facts as JSON (one request per document; unparseable output sends
the document's samples to ``failures`` as ``unparseable_extraction``) and ``ComposeFromFacts`` writes one text per
sample. With the offline composer the facts are the seed's fact table and ``ComposeFacts`` writes the text.
Subsets (``corpus.fact.min_facts..max_facts`` facts) are dealt from a shuffled deck of the document's facts, so
every fact is covered evenly (counts differ by at most one per pass), and the order within a subset is the deal
order: deterministic from ``corpus.seed``.

Prompts: ``prompts/fact_extract_<lang>.jinja2`` (extraction) and ``prompts/fact_<lang>.jinja2`` (composition).

Reads: planned rows (``id, doc_id, lang, document, facts, sample, variant, subset, context``). Writes: corpus
rows with ``variant`` = the subset's keys joined by ``|``. Stats: per-fact exposures (``checks.exposures``).
"""

import hashlib
import random
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import BaseModel, ValidationError

from kinject.pipelines import composer
from kinject.pipelines.generation import (
    ComposeText, ExtractFromDocument, GenerateText, extraction_pipeline, json_items, prompt_source, render,
    text_pipeline,
)
from kinject.recipes.schema import CorpusConfig, FactConfig
from kinject.text import lang_of

if TYPE_CHECKING:
    from distilabel.pipeline import Pipeline

__all__ = ["FactConfig", "Fact", "ExtractFacts", "ComposeFromFacts", "ComposeFacts", "compose", "plan",
           "build_pipeline"]

# ---------------------------------------------------------------------------------------------------------------
# prompts: prompts/fact_extract_<lang>.jinja2 and prompts/fact_<lang>.jinja2
# ---------------------------------------------------------------------------------------------------------------

# The "new context" of each composed text, drawn per sample (the composer draws its own frames from composer.py).
CONTEXTS = {
    "ja": ["社内報の記事", "講義ノート", "よくある質問への回答", "ニュース記事", "ブログ記事", "会話の一場面"],
    "en": ["a newsletter article", "lecture notes", "an answer to a frequently asked question", "a news item",
           "a blog post", "a scene of a conversation"],
}


def render_extraction(doc: dict, corpus: CorpusConfig | None = None) -> str:
    """The extraction request's user message for one document."""
    return render(f"fact_extract_{lang_of(doc)}", document=doc.get("document") or doc.get("text"))


def render_prompt(row: dict[str, Any], lang: str) -> str:
    """The composition request's user message for one planned row (also used by ``--dry-run``)."""
    return render(f"fact_{lang}", subject=row["subject"], subset=row["subset"], context=row["context"])


def prompt_sha(lang: str) -> str:
    source = prompt_source(f"fact_extract_{lang}") + prompt_source(f"fact_{lang}") + "".join(CONTEXTS[lang])
    return hashlib.sha256(source.encode("utf-8")).hexdigest()


def prompts() -> dict[str, str]:
    return {**{f"extract_facts_{k}": prompt_source(f"fact_extract_{k}") for k in CONTEXTS},
            **{f"compose_{k}": prompt_source(f"fact_{k}") for k in CONTEXTS},
            **{f"contexts_{k}": "\n".join(v) for k, v in CONTEXTS.items()}}


# ---------------------------------------------------------------------------------------------------------------
# row contracts and parsers
# ---------------------------------------------------------------------------------------------------------------


class Fact(BaseModel):
    """One atomic fact: a key label and its value as the document writes it."""

    key: str
    value: str


def _parse_facts(text: str | None) -> list[Fact] | None:
    """The facts in an extraction output (``{"facts": [...]}`` or a bare list, code fences allowed), or None."""
    if (items := json_items(text, "facts")) is None:
        return None
    try:
        facts = [Fact(key=str(item["key"]).strip(), value=str(item["value"]).strip()) for item in items]
    except (KeyError, TypeError, ValidationError):
        return None
    facts = [fact for fact in facts if fact.key and fact.value]
    return facts or None


# ---------------------------------------------------------------------------------------------------------------
# variant planning (pure, deterministic)
# ---------------------------------------------------------------------------------------------------------------


def plan_subsets(keys: list[str], n: int, cfg: FactConfig, rng: random.Random) -> list[list[str]]:
    """n subsets of ``min_facts..max_facts`` distinct keys, dealt from a deck reshuffled when it runs out."""
    if not keys:
        return [[] for _ in range(n)]
    deck: list[str] = []
    subsets = []
    for _ in range(n):
        size = min(rng.randint(cfg.min_facts, cfg.max_facts), len(keys))
        subset: list[str] = []
        while len(subset) < size:
            if not deck:
                deck = rng.sample(keys, len(keys))
            fresh = [j for j in range(len(deck)) if deck[j] not in subset]
            if not fresh:  # what is left of the deck is already in this subset: start a new pass
                deck = []
                continue
            subset.append(deck.pop(fresh[-1]))
        subsets.append(subset)
    return subsets


def plan(doc: dict, n: int, corpus: CorpusConfig, facts: list[dict] | None = None) -> list[dict[str, Any]]:
    """One variant per sample: a fact subset (in its order) and a context, from the seed's or extracted facts."""
    facts = facts if facts is not None else doc.get("facts") or []
    by_key = {f["key"]: {"key": f["key"], "value": str(f["value"])} for f in facts}
    rng = composer.rng_for(corpus.seed, doc["doc_id"], "fact-plan", 0)
    lang = lang_of(doc)
    rows = []
    for i, keys in enumerate(plan_subsets(list(by_key), n, corpus.fact, rng)):
        rows.append({"sample": i, "variant": "|".join(keys), "subset": [by_key[k] for k in keys],
                     "context": rng.choice(CONTEXTS[lang])})
    return rows


# ---------------------------------------------------------------------------------------------------------------
# tasks: LLM steps and their composer counterparts
# ---------------------------------------------------------------------------------------------------------------


class ExtractFacts(ExtractFromDocument):
    """Extract a document's atomic facts as JSON.

    Input columns: ``document``, ``lang``. Output columns: ``extracted`` (list of ``{key, value}``, or None when
    the output does not parse), ``model_name``. The composer's counterpart is the seed's fact table.
    """

    def prompt(self, row: dict[str, Any]) -> str:
        return render_extraction(row)

    def parse(self, output: str | None) -> list | None:
        facts = _parse_facts(output)
        return None if facts is None else [f.model_dump() for f in facts]


class ComposeFromFacts(GenerateText):
    """Write a new text from a subset of facts, in a given context and order.

    Input columns: ``lang``, ``subject``, ``subset``, ``context``. Output columns: ``generation``, ``model_name``.
    """

    columns: ClassVar[tuple[str, ...]] = ("lang", "subject", "subset", "context")
    render_prompt = staticmethod(render_prompt)


def compose(row: dict) -> str:
    """The composer's text for one planned row (``ComposeFacts`` below; ``benchmarks/composer_variety.py``)."""
    rng = composer.rng_for(row["seed"], row["doc_id"], "fact", row["sample"])
    return composer.compose_facts(composer.doc_of(row), [fact["key"] for fact in row["subset"]], rng)


class ComposeFacts(ComposeText):
    """The composer's text from a fact subset (offline; see ``composer.py``).

    Input columns: ``doc_id``, ``lang``, ``document``, ``facts``, ``subset``, ``sample``, ``seed``.
    Output columns: ``generation``, ``model_name``.
    """

    columns: ClassVar[tuple[str, ...]] = ("doc_id", "lang", "document", "facts", "subset", "sample", "seed")
    compose_row = staticmethod(compose)


# ---------------------------------------------------------------------------------------------------------------
# pipelines
# ---------------------------------------------------------------------------------------------------------------


def build_extraction_pipeline(
    docs: list[dict], *, llm: Any, checkpoint: Path, cache_dir: Path, run: str = "", use_ray: bool = False
) -> "Pipeline":
    """``load_variants >> extract_facts >> append_to_checkpoint`` (LLM backends only)."""
    return extraction_pipeline("fact", docs, task=ExtractFacts, llm=llm, checkpoint=checkpoint, cache_dir=cache_dir,
                               run=run, use_ray=use_ray)


def build_pipeline(
    rows: list[dict], *, llm: Any | None, checkpoint: Path, cache_dir: Path, batch_size: int, run: str = "",
    use_ray: bool = False,
) -> "Pipeline":
    """``load_variants >> compose_from_facts (LLM) | compose_facts (composer) >> append_to_checkpoint``."""
    return text_pipeline("fact", rows, llm=llm, task=ComposeFromFacts, composer_step=ComposeFacts,
                         checkpoint=checkpoint, cache_dir=cache_dir, batch_size=batch_size, run=run,
                         use_ray=use_ray)
