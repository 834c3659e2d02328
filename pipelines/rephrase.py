"""rephrase — WRAP (Maini et al. 2024, "Rephrasing the Web"): the whole seed document rewritten in four styles.

Styles (``corpus.rephrase.styles``, cycled over the samples of a document so each style gets an equal share):
``easy`` (simple words, as for a child), ``medium`` (a high-quality encyclopedic paraphrase), ``hard`` (terse,
scholarly) and ``qa`` (question/answer pairs that together cover the document). With an LLM each sample is one
request to ``RephraseDocument``; with the offline composer ``ComposeRephrase`` writes every fact of the document,
in document order, in the style's frame. The prompt is ``prompts/rephrase_<lang>.jinja2``; the style's
instruction is a variable of it.

Reads: planned rows (``id, doc_id, lang, document, facts, sample, variant, style``). Writes: corpus rows with
``variant`` = the style. Stats: rows and tokens per style come from the checkpoint (see ``corpus.py``).
"""

import hashlib
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from kinject.pipelines import composer
from kinject.pipelines.generation import ComposeText, GenerateText, prompt_source, render, text_pipeline
from kinject.recipes.schema import CorpusConfig, RephraseConfig

if TYPE_CHECKING:
    from distilabel.pipeline import Pipeline

__all__ = ["RephraseConfig", "RephraseDocument", "ComposeRephrase", "compose", "plan", "build_pipeline"]

# ---------------------------------------------------------------------------------------------------------------
# prompts: prompts/rephrase_<lang>.jinja2, with the style's instruction as a variable
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


def render_prompt(row: dict[str, Any], lang: str) -> str:
    """The user message for one planned row (also used by ``--dry-run`` to count input tokens)."""
    return render(f"rephrase_{lang}", instruction=STYLE_INSTRUCTIONS[lang][row["style"]], document=row["document"])


def prompt_sha(lang: str) -> str:
    """sha256 of the template and the style instructions of one language (recorded on every row)."""
    source = prompt_source(f"rephrase_{lang}") + "".join(STYLE_INSTRUCTIONS[lang].values())
    return hashlib.sha256(source.encode("utf-8")).hexdigest()


def prompts() -> dict[str, str]:
    """Every prompt of the method, by name (for the card's provenance)."""
    out = {f"rephrase_{lang}": prompt_source(f"rephrase_{lang}") for lang in STYLE_INSTRUCTIONS}
    out.update({f"style_{lang}_{style}": text
                for lang, styles in STYLE_INSTRUCTIONS.items() for style, text in styles.items()})
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


class RephraseDocument(GenerateText):
    """Rewrite a whole document in one style.

    References: Maini et al. 2024, Rephrasing the Web (WRAP).
    Input columns: ``document``, ``lang``, ``style``. Output columns: ``generation``, ``model_name``.
    """

    columns: ClassVar[tuple[str, ...]] = ("document", "lang", "style")
    render_prompt = staticmethod(render_prompt)


def compose(row: dict) -> str:
    """The composer's text for one planned row (``ComposeRephrase`` below; ``benchmarks/composer_variety.py``)."""
    rng = composer.rng_for(row["seed"], row["doc_id"], "rephrase", row["sample"])
    return composer.compose_rephrase(composer.doc_of(row), row["style"], rng)


class ComposeRephrase(ComposeText):
    """The composer's rewrite of a whole document in one style (offline; see ``composer.py``).

    Input columns: ``doc_id``, ``lang``, ``document``, ``facts``, ``style``, ``sample``, ``seed``.
    Output columns: ``generation``, ``model_name``.
    """

    columns: ClassVar[tuple[str, ...]] = ("doc_id", "lang", "document", "facts", "style", "sample", "seed")
    compose_row = staticmethod(compose)


# ---------------------------------------------------------------------------------------------------------------
# pipeline
# ---------------------------------------------------------------------------------------------------------------


def build_pipeline(
    rows: list[dict], *, llm: Any | None, checkpoint: Path, cache_dir: Path, batch_size: int, run: str = "",
    use_ray: bool = False,
) -> "Pipeline":
    """``load_variants >> rephrase_document (LLM) | compose_rephrase (composer) >> append_to_checkpoint``."""
    return text_pipeline("rephrase", rows, llm=llm, task=RephraseDocument, composer_step=ComposeRephrase,
                         checkpoint=checkpoint, cache_dir=cache_dir, batch_size=batch_size, run=run,
                         use_ray=use_ray)
