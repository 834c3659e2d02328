"""What every method's generation shares: its prompt files, the LLM tasks and composer step built on them, the
JSON reading of an extraction, and the two pipelines (extract, generate).

A method module (``rephrase.py``, ``fact.py``, ``graph.py``) states only what differs: its prompts, how samples
are planned, which columns a prompt reads, how the composer writes a row and how an extraction is parsed. Prompts
live beside the pipelines as Jinja files, as distilabel keeps its tasks' ``templates/``:
``prompts/<method>_<lang>.jinja2`` writes a text, ``prompts/<method>_extract_<lang>.jinja2`` extracts facts or
entities from a document. ``pyproject.toml`` ships them as package data.
"""

# no `from __future__ import annotations`: distilabel finds a step's input parameter by its runtime
# `StepInput` (typing.Annotated) annotation, which a string annotation would hide
import functools
import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, ClassVar

from distilabel.steps import Step, StepInput
from distilabel.steps.tasks import Task
from jinja2 import Template

from kinject.pipelines.checkpoint import generation_pipeline
from kinject.text import lang_of

if TYPE_CHECKING:
    from distilabel.pipeline import Pipeline
    from distilabel.steps import StepOutput
    from distilabel.typing import ChatType

__all__ = ["PROMPTS_DIR", "prompt_source", "render", "GenerateText", "ComposeText", "ExtractFromDocument",
           "json_items", "extraction_pipeline", "text_pipeline"]

PROMPTS_DIR = Path(__file__).resolve().parent / "prompts"
EXTRACTION_COLUMNS = ("id", "doc_id", "extracted", "input_tokens", "output_tokens", "run")


# ---------------------------------------------------------------------------------------------------------------
# prompt files
# ---------------------------------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=None)
def prompt_source(name: str) -> str:
    """The template text of ``prompts/<name>.jinja2``, without the file's final newline (Jinja drops it too)."""
    return (PROMPTS_DIR / f"{name}.jinja2").read_text(encoding="utf-8").removesuffix("\n")


@functools.lru_cache(maxsize=None)
def _template(name: str) -> Template:
    return Template(prompt_source(name))


def render(name: str, **values: Any) -> str:
    """``prompts/<name>.jinja2`` rendered with ``values``."""
    return _template(name).render(**values)


# ---------------------------------------------------------------------------------------------------------------
# tasks: the LLM steps and the composer's counterpart
# ---------------------------------------------------------------------------------------------------------------


class _WritesText:
    """The columns of a step that writes one text per planned row (the mixin both kinds below share)."""

    columns: ClassVar[tuple[str, ...]] = ()

    @property
    def inputs(self) -> list[str]:
        return list(self.columns)

    @property
    def outputs(self) -> list[str]:
        return ["generation", "model_name"]


class GenerateText(_WritesText, Task):
    """Write one text per planned row: the user message is the method's prompt rendered for the row.

    Subclasses set ``columns`` (the input columns the prompt reads) and ``render_prompt`` (``(row, lang) ->
    str``). Output columns: ``generation`` (the stripped text, empty when the model returned nothing),
    ``model_name``.
    """

    render_prompt: ClassVar[Callable[[dict[str, Any], str], str]]

    def format_input(self, input: dict[str, Any]) -> "ChatType":
        return [{"role": "user", "content": self.render_prompt(input, lang_of(input))}]

    def format_output(self, output: str | None, input: dict[str, Any] | None = None) -> dict[str, Any]:
        return {"generation": (output or "").strip()}


class ComposeText(_WritesText, Step):
    """The offline composer's counterpart of ``GenerateText``: one text per planned row, no network.

    Subclasses set ``columns`` and ``compose_row`` (``row -> str``, see ``composer.py``).
    Output columns: ``generation``, ``model_name`` (``composer``).
    """

    compose_row: ClassVar[Callable[[dict[str, Any]], str]]

    def process(self, inputs: StepInput) -> "StepOutput":  # type: ignore[override]
        for row in inputs:
            row["generation"] = self.compose_row(row)
            row["model_name"] = "composer"
        yield inputs


class ExtractFromDocument(Task):
    """Extract a document's facts or entities as JSON, one request per document.

    Subclasses implement ``prompt(row)`` and ``parse(output)`` (a list, or None when the output does not parse).
    Input columns: ``document``, ``lang``. Output columns: ``extracted``, ``model_name``.
    """

    @property
    def inputs(self) -> list[str]:
        return ["document", "lang"]

    @property
    def outputs(self) -> list[str]:
        return ["extracted", "model_name"]

    def prompt(self, row: dict[str, Any]) -> str:
        raise NotImplementedError

    def parse(self, output: str | None) -> list | None:
        raise NotImplementedError

    def format_input(self, input: dict[str, Any]) -> "ChatType":
        return [{"role": "user", "content": self.prompt(input)}]

    def format_output(self, output: str | None, input: dict[str, Any] | None = None) -> dict[str, Any]:
        return {"extracted": self.parse(output)}


_JSON = re.compile(r"[\[{].*[\]}]", re.S)


def json_items(text: str | None, key: str) -> list | None:
    """The list under ``key`` of the JSON object in a model's output, or a bare JSON list (code fences and prose
    around it allowed); None when there is none."""
    if not text or not (found := _JSON.search(text)):
        return None
    try:
        data = json.loads(found.group(0))
    except json.JSONDecodeError:
        return None
    items = data.get(key) if isinstance(data, dict) else data
    return items if isinstance(items, list) else None


# ---------------------------------------------------------------------------------------------------------------
# pipelines
# ---------------------------------------------------------------------------------------------------------------


def _step_name(cls: type) -> str:
    """``ComposeFromFacts`` -> ``compose_from_facts``: the step's name in the pipeline and its YAML."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", cls.__name__).lower()


def extraction_pipeline(
    method: str, docs: list[dict], *, task: type[ExtractFromDocument], llm: Any, checkpoint: Path, cache_dir: Path,
    run: str = "", use_ray: bool = False, **fields: Any,
) -> "Pipeline":
    """``load_variants >> <extract task> >> append_to_checkpoint`` over the documents (LLM backends only);
    ``fields`` are the task's own (``max_entities``)."""
    def step():  # built inside the pipeline's context (see ``generation_pipeline``)
        return task(name=_step_name(task), llm=llm, **fields)

    return generation_pipeline(f"kinject-{method}-extract", docs, step, checkpoint, cache_dir=cache_dir,
                               batch_size=8, run=run, columns=EXTRACTION_COLUMNS, text_column="", use_ray=use_ray)


def text_pipeline(
    method: str, rows: list[dict], *, llm: Any | None, task: type[GenerateText], composer_step: type[ComposeText],
    checkpoint: Path, cache_dir: Path, batch_size: int, run: str = "", use_ray: bool = False,
) -> "Pipeline":
    """``load_variants >> <task> (LLM) | <composer step> (composer) >> append_to_checkpoint``."""
    def step():  # built inside the pipeline's context (see ``generation_pipeline``)
        if llm is None:
            return composer_step(name=_step_name(composer_step))
        return task(name=_step_name(task), llm=llm)

    return generation_pipeline(f"kinject-{method}", rows, step, checkpoint, cache_dir=cache_dir,
                               batch_size=batch_size, run=run, use_ray=use_ray)
