"""rephrase — WRAP (Maini et al. 2024, "Rephrasing the Web"): the whole seed document rewritten in four styles.

Styles (``corpus.rephrase.styles``, cycled over the samples of a document so each style gets an equal share):
``easy`` (simple words, as for a child), ``medium`` (a high-quality encyclopedic paraphrase), ``hard`` (terse,
scholarly) and ``qa`` (question/answer pairs that together cover the document). With an LLM each sample is one
request to ``RephraseDocument``; with the offline composer ``ComposeRephrase`` writes every fact of the document,
in document order, in the style's frame.

Reads: planned rows (``id, doc_id, lang, document, facts, sample, variant, style``). Writes: corpus rows with
``variant`` = the style. Stats: rows and tokens per style come from the checkpoint (see ``corpus.py``).
"""

# no `from __future__ import annotations`: distilabel finds a step's input parameter by its runtime
# `StepInput` (typing.Annotated) annotation, which a string annotation would hide
import functools
import hashlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

from distilabel.steps import Step, StepInput
from distilabel.steps.tasks import Task
from jinja2 import Template

from kinject.pipelines import composer
from kinject.pipelines.checkpoint import generation_pipeline
from kinject.recipes.schema import CorpusConfig, RephraseConfig

if TYPE_CHECKING:
    from distilabel.pipeline import Pipeline
    from distilabel.steps import StepOutput
    from distilabel.typing import ChatType

__all__ = ["RephraseConfig", "RephraseDocument", "ComposeRephrase", "compose", "plan", "build_pipeline"]

# ---------------------------------------------------------------------------------------------------------------
# prompts (Japanese and English): one template, the style's instruction is a variable
# ---------------------------------------------------------------------------------------------------------------

STYLE_INSTRUCTIONS = {
    "ja": {
        "easy": "小さな子どもにもわかる、やさしい言葉と短い文で書き直してください。",
        "medium": "百科事典の記事のような、正確で読みやすい文章に言い換えてください。",
        "hard": "専門家向けの、簡潔で学術的な文体で書き直してください。",
        "qa": "内容をすべて網羅する「質問と回答」の組の形式に書き直してください。",
    },
    "en": {
        "easy": "Rewrite it in simple words and short sentences that a small child could understand.",
        "medium": "Paraphrase it as a clear, high-quality encyclopedia entry.",
        "hard": "Rewrite it in a terse, scholarly style for experts.",
        "qa": "Rewrite it as question-and-answer pairs that together cover all of its content.",
    },
}
REPHRASE_TEMPLATE = {
    "ja": (
        "次の文書を書き直してください。{{ instruction }}\n"
        "名前・数値・日付などの事実はすべて正確に残し、新しい事実は加えないでください。"
        "日本語で、書き直した文章だけを出力してください。\n\n文書:\n{{ document }}"
    ),
    "en": (
        "Rewrite the following document. {{ instruction }}\n"
        "Keep every fact (names, numbers, dates) exactly and add no new facts. "
        "Write in English and output only the rewritten text.\n\nDocument:\n{{ document }}"
    ),
}


@functools.lru_cache(maxsize=None)
def _template(source: str) -> Template:
    return Template(source)


def render_prompt(row: dict[str, Any], lang: str) -> str:
    """The user message for one planned row (also used by ``--dry-run`` to count input tokens)."""
    return _template(REPHRASE_TEMPLATE[lang]).render(instruction=STYLE_INSTRUCTIONS[lang][row["style"]],
                                                     document=row["document"])


def prompt_sha(lang: str) -> str:
    """sha256 of the template and the style instructions of one language (recorded on every row)."""
    source = REPHRASE_TEMPLATE[lang] + "".join(STYLE_INSTRUCTIONS[lang].values())
    return hashlib.sha256(source.encode("utf-8")).hexdigest()


def prompts() -> dict[str, str]:
    """Every prompt of the method, by name (for the card's provenance)."""
    out = {f"rephrase_{lang}": REPHRASE_TEMPLATE[lang] for lang in REPHRASE_TEMPLATE}
    out.update({f"style_{lang}_{s}": text for lang, styles in STYLE_INSTRUCTIONS.items() for s, text in styles.items()})
    return out


# ---------------------------------------------------------------------------------------------------------------
# variant planning (pure, deterministic)
# ---------------------------------------------------------------------------------------------------------------


def plan(doc: dict, n: int, corpus: CorpusConfig) -> list[dict[str, Any]]:
    """One variant per sample: the styles cycled in recipe order (no randomness needed)."""
    styles = corpus.rephrase.styles
    return [{"sample": i, "variant": styles[i % len(styles)], "style": styles[i % len(styles)]} for i in range(n)]


# ---------------------------------------------------------------------------------------------------------------
# tasks: the LLM step and its composer counterpart
# ---------------------------------------------------------------------------------------------------------------


def _clean(output: str | None) -> str:
    return (output or "").strip()


class RephraseDocument(Task):
    """Rewrite a whole document in one style.

    References: Maini et al. 2024, Rephrasing the Web (WRAP).
    Input columns: ``document``, ``lang``, ``style``. Output columns: ``generation``, ``model_name``.
    """

    @property
    def inputs(self) -> list[str]:
        return ["document", "lang", "style"]

    @property
    def outputs(self) -> list[str]:
        return ["generation", "model_name"]

    def format_input(self, input: dict[str, Any]) -> "ChatType":
        return [{"role": "user", "content": render_prompt(input, "ja" if input["lang"] == "ja" else "en")}]

    def format_output(self, output: str | None, input: dict[str, Any] | None = None) -> dict[str, Any]:
        return {"generation": _clean(output)}


class ComposeRephrase(Step):
    """The composer's rewrite of a whole document in one style (offline; see ``composer.py``).

    Input columns: ``doc_id``, ``lang``, ``document``, ``facts``, ``style``, ``sample``, ``seed``.
    Output columns: ``generation``, ``model_name``.
    """

    @property
    def inputs(self) -> list[str]:
        return ["doc_id", "lang", "document", "facts", "style", "sample", "seed"]

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
    rng = composer.rng_for(row["seed"], row["doc_id"], "rephrase", row["sample"])
    return composer.compose_rephrase(composer.doc_of(row), row["style"], rng)


# ---------------------------------------------------------------------------------------------------------------
# pipeline
# ---------------------------------------------------------------------------------------------------------------


def build_pipeline(
    rows: list[dict], *, llm: Any | None, checkpoint: Path, cache_dir: Path, batch_size: int, run: str = "",
    use_ray: bool = False,
) -> "Pipeline":
    """``load_variants >> rephrase_document (LLM) | compose_rephrase (composer) >> append_to_checkpoint``."""
    def step():  # built inside the pipeline's context (see ``generation_pipeline``)
        return ComposeRephrase(name="compose_rephrase") if llm is None else RephraseDocument(
            name="rephrase_document", llm=llm)

    return generation_pipeline("kinject-rephrase", rows, step, checkpoint, cache_dir=cache_dir,
                               batch_size=batch_size, run=run, use_ray=use_ray)
