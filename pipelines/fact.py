"""fact — fact-based rewriting (Mecklenburg et al. 2024, "Injecting New Knowledge into LLMs via SFT"): extract a
document's atomic facts, then compose new texts, each from a sampled subset of facts in a new context and order.

With an LLM, ``ExtractFacts`` asks for the facts as JSON (one request per document; unparseable output sends
the document's samples to ``failures`` as ``unparseable_extraction``) and ``ComposeFromFacts`` writes one text per
sample. With the offline composer the facts are the seed's fact table and ``ComposeFacts`` writes the text.
Subsets (``corpus.fact.min_facts..max_facts`` facts) are dealt from a shuffled deck of the document's facts, so
every fact is covered evenly (counts differ by at most one per pass), and the order within a subset is the deal
order: deterministic from ``corpus.seed``.

Reads: planned rows (``id, doc_id, lang, document, facts, sample, variant, subset, context``). Writes: corpus
rows with ``variant`` = the subset's keys joined by ``|``. Stats: per-fact exposures (``checks.exposures``).
"""

# no `from __future__ import annotations`: distilabel finds a step's input parameter by its runtime
# `StepInput` (typing.Annotated) annotation, which a string annotation would hide
import functools
import hashlib
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
from kinject.recipes.schema import CorpusConfig, FactConfig

if TYPE_CHECKING:
    from distilabel.pipeline import Pipeline
    from distilabel.steps import StepOutput
    from distilabel.typing import ChatType

__all__ = ["FactConfig", "Fact", "ExtractFacts", "ComposeFromFacts", "ComposeFacts", "compose", "plan", "build_pipeline"]

# ---------------------------------------------------------------------------------------------------------------
# prompts (Japanese and English)
# ---------------------------------------------------------------------------------------------------------------

EXTRACT_FACTS_TEMPLATE = {
    "ja": (
        "次の文書に書かれている事実を、それ以上分けられない単位（アトミックな事実）ですべて抜き出してください。"
        "各事実は「項目名」と「値」の組にし、値は文書中の表記のまま書いてください。"
        'JSONだけを出力してください。形式: {"facts": [{"key": "項目名", "value": "値"}]}\n\n文書:\n{{ document }}'
    ),
    "en": (
        "Extract every fact stated in the following document as atomic facts (units that cannot be split further). "
        "Give each as a key and a value, the value written exactly as in the document. "
        'Output JSON only, in the form {"facts": [{"key": "...", "value": "..."}]}\n\nDocument:\n{{ document }}'
    ),
}
COMPOSE_TEMPLATE = {
    "ja": (
        "次の事実だけを使って、{{ context }}として自然な日本語の文章を書いてください。"
        "事実はこの順序で述べ、値（数値・名前・日付）は一字一句変えず、ほかの事実は加えないでください。"
        "文章だけを出力してください。\n\n主題: {{ subject }}\n事実:\n"
        "{% for fact in subset %}- {{ fact.key }}: {{ fact.value }}\n{% endfor %}"
    ),
    "en": (
        "Using only the following facts, write a natural English text as {{ context }}. "
        "State the facts in this order, copy every value (numbers, names, dates) exactly and add no other facts. "
        "Output only the text.\n\nSubject: {{ subject }}\nFacts:\n"
        "{% for fact in subset %}- {{ fact.key }}: {{ fact.value }}\n{% endfor %}"
    ),
}
# The "new context" of each composed text, drawn per sample (the composer draws its own frames from composer.py).
CONTEXTS = {
    "ja": ["社内報の記事", "講義ノート", "よくある質問への回答", "ニュース記事", "ブログ記事", "会話の一場面"],
    "en": ["a newsletter article", "lecture notes", "an answer to a frequently asked question", "a news item",
           "a blog post", "a scene of a conversation"],
}


def _lang(row: dict) -> str:
    return "ja" if row.get("lang") == "ja" else "en"


@functools.lru_cache(maxsize=None)
def _template(source: str) -> Template:
    return Template(source)


def render_extraction(doc: dict, corpus: CorpusConfig | None = None) -> str:
    """The extraction request's user message for one document."""
    return _template(EXTRACT_FACTS_TEMPLATE[_lang(doc)]).render(document=doc.get("document") or doc.get("text"))


def render_prompt(row: dict[str, Any], lang: str) -> str:
    """The composition request's user message for one planned row (also used by ``--dry-run``)."""
    return _template(COMPOSE_TEMPLATE[lang]).render(subject=row["subject"], subset=row["subset"],
                                                    context=row["context"])


def prompt_sha(lang: str) -> str:
    source = EXTRACT_FACTS_TEMPLATE[lang] + COMPOSE_TEMPLATE[lang] + "".join(CONTEXTS[lang])
    return hashlib.sha256(source.encode("utf-8")).hexdigest()


def prompts() -> dict[str, str]:
    return {**{f"extract_facts_{k}": v for k, v in EXTRACT_FACTS_TEMPLATE.items()},
            **{f"compose_{k}": v for k, v in COMPOSE_TEMPLATE.items()},
            **{f"contexts_{k}": "\n".join(v) for k, v in CONTEXTS.items()}}


# ---------------------------------------------------------------------------------------------------------------
# row contracts and parsers
# ---------------------------------------------------------------------------------------------------------------


class Fact(BaseModel):
    """One atomic fact: a key label and its value as the document writes it."""

    key: str
    value: str


_JSON = re.compile(r"[\[{].*[\]}]", re.S)


def _parse_facts(text: str | None) -> list[Fact] | None:
    """The facts in an extraction output (``{"facts": [...]}`` or a bare list, code fences allowed), or None."""
    if not text or not (found := _JSON.search(text)):
        return None
    try:
        data = json.loads(found.group(0))
    except json.JSONDecodeError:
        return None
    items = data.get("facts") if isinstance(data, dict) else data
    if not isinstance(items, list):
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
    lang = "ja" if doc.get("lang") == "ja" else "en"
    rows = []
    for i, keys in enumerate(plan_subsets(list(by_key), n, corpus.fact, rng)):
        rows.append({"sample": i, "variant": "|".join(keys), "subset": [by_key[k] for k in keys],
                     "context": rng.choice(CONTEXTS[lang])})
    return rows


# ---------------------------------------------------------------------------------------------------------------
# tasks: LLM steps and their composer counterparts
# ---------------------------------------------------------------------------------------------------------------


class ExtractFacts(Task):
    """Extract a document's atomic facts as JSON.

    Input columns: ``document``, ``lang``. Output columns: ``extracted`` (list of ``{key, value}``, or None when
    the output does not parse), ``model_name``. The composer's counterpart is the seed's fact table.
    """

    @property
    def inputs(self) -> list[str]:
        return ["document", "lang"]

    @property
    def outputs(self) -> list[str]:
        return ["extracted", "model_name"]

    def format_input(self, input: dict[str, Any]) -> "ChatType":
        return [{"role": "user", "content": render_extraction(input)}]

    def format_output(self, output: str | None, input: dict[str, Any] | None = None) -> dict[str, Any]:
        facts = _parse_facts(output)
        return {"extracted": None if facts is None else [f.model_dump() for f in facts]}


class ComposeFromFacts(Task):
    """Write a new text from a subset of facts, in a given context and order.

    Input columns: ``lang``, ``subject``, ``subset``, ``context``. Output columns: ``generation``, ``model_name``.
    """

    @property
    def inputs(self) -> list[str]:
        return ["lang", "subject", "subset", "context"]

    @property
    def outputs(self) -> list[str]:
        return ["generation", "model_name"]

    def format_input(self, input: dict[str, Any]) -> "ChatType":
        return [{"role": "user", "content": render_prompt(input, _lang(input))}]

    def format_output(self, output: str | None, input: dict[str, Any] | None = None) -> dict[str, Any]:
        return {"generation": (output or "").strip()}


class ComposeFacts(Step):
    """The composer's text from a fact subset (offline; see ``composer.py``).

    Input columns: ``doc_id``, ``lang``, ``document``, ``facts``, ``subset``, ``sample``, ``seed``.
    Output columns: ``generation``, ``model_name``.
    """

    @property
    def inputs(self) -> list[str]:
        return ["doc_id", "lang", "document", "facts", "subset", "sample", "seed"]

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
    rng = composer.rng_for(row["seed"], row["doc_id"], "fact", row["sample"])
    return composer.compose_facts(composer.doc_of(row), [fact["key"] for fact in row["subset"]], rng)


# ---------------------------------------------------------------------------------------------------------------
# pipelines
# ---------------------------------------------------------------------------------------------------------------


def build_extraction_pipeline(
    docs: list[dict], *, llm: Any, checkpoint: Path, cache_dir: Path, run: str = "", use_ray: bool = False
) -> "Pipeline":
    """``load_documents >> extract_facts >> append_to_checkpoint`` (LLM backends only)."""
    return generation_pipeline(
        "kinject-fact-extract", docs, lambda: ExtractFacts(name="extract_facts", llm=llm), checkpoint,
        cache_dir=cache_dir,
        batch_size=8, run=run, columns=("id", "doc_id", "extracted", "input_tokens", "output_tokens", "run"),
        text_column="", use_ray=use_ray,
    )


def build_pipeline(
    rows: list[dict], *, llm: Any | None, checkpoint: Path, cache_dir: Path, batch_size: int, run: str = "",
    use_ray: bool = False,
) -> "Pipeline":
    """``load_variants >> compose_from_facts (LLM) | compose_facts (composer) >> append_to_checkpoint``."""
    def step():  # built inside the pipeline's context (see ``generation_pipeline``)
        return ComposeFacts(name="compose_facts") if llm is None else ComposeFromFacts(name="compose_from_facts",
                                                                                      llm=llm)

    return generation_pipeline("kinject-fact", rows, step, checkpoint, cache_dir=cache_dir, batch_size=batch_size,
                               run=run, use_ray=use_ray)
