"""A distilabel LLM that answers from a script, for the corpus tests of the LLM code path (no model, no network).

Extraction prompts (they ask for JSON) get ``extraction`` (a string, or None for a failed request); every other
prompt gets a reply by ``mode``: ``echo`` (the prompt's content lines, so the values it carries come back verbatim,
like a faithful model), ``english`` (an English-only reply, the paper's failure on Japanese prompts) or ``none``
(a failed request). Importable by module path, so distilabel's worker processes can unpickle it.
"""

from __future__ import annotations

from typing import Any, Literal

from distilabel.models.llms.base import LLM


def echo_facts(prompt: str) -> str:
    """The lines of the prompt after its instruction (document, facts or entities), joined as one text."""
    body = prompt.split("\n\n", 1)[-1]
    return body.replace("\n- ", "\n").strip()


class ScriptedLLM(LLM):
    extraction: str | None = None
    mode: Literal["echo", "english", "none"] = "echo"

    @property
    def model_name(self) -> str:
        return "scripted"

    def load(self) -> None:
        super().load()

    # distilabel 1.5.3 inspects generate's signature: list keyword arguments explicitly, no **kwargs
    def generate(self, inputs: list[Any], num_generations: int = 1) -> list[dict]:
        outputs = []
        for chat in inputs:
            prompt = chat[-1]["content"]
            if "JSON" in prompt:
                text = self.extraction
            else:
                text = {"echo": echo_facts(prompt), "english": "This text is written in English only.",
                        "none": None}[self.mode]
            outputs.append({"generations": [text] * num_generations,
                            "statistics": {"input_tokens": [len(prompt)] * num_generations,
                                           "output_tokens": [len(text or "")] * num_generations}})
        return outputs
