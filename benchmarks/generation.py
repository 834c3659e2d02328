"""Generation throughput: the openai backend against a loopback server with a fixed latency, and the composer.

openai backend: rows/s through distilabel exactly as the corpus pipeline runs it (``make_llm`` → a ``Task``
with ``input_batch_size(cfg)`` → ``Task.process`` per batch), against ``tests/fault_server.py`` answering every
request after ``LATENCY_S``. With ``c`` requests in flight the ideal is ``c / LATENCY_S`` rows/s; the figure is
the measured share of that ideal at concurrency 1, 16 and 64. The latency is long (1 s, a short LLM answer) so the
client's own CPU cost per request (~2–4 ms on this class of machine) is what the ratio exposes, not sleep jitter.

composer: rows/s of the offline composer through ``run_corpus`` (plan → distilabel pipeline → checks →
publish), the embedded default's throughput.
"""

from __future__ import annotations

import os
import time

from benchmarks import figure

LATENCY_S = 1.0
CONCURRENCY = (1, 16, 64)
ROUNDS = 3  # batches per concurrency level
TARGET_RATIO = 0.8  # of the ideal concurrency/latency
KEY_ENV = "KINJECT_BENCH_API_KEY"


def _openai_rows(quick: bool) -> list[dict]:
    from distilabel.steps.tasks import TextGeneration

    from kinject.pipelines.backends import input_batch_size, make_llm
    from kinject.recipes.schema import GeneratorConfig
    from tests.fault_server import FaultServer

    latency = 0.2 if quick else LATENCY_S
    levels = (1, 4) if quick else CONCURRENCY
    rounds = 1 if quick else ROUNDS
    os.environ.setdefault(KEY_ENV, "bench")  # the loopback server takes any key
    rows = []
    with FaultServer(latency_s=latency) as server:
        for concurrency in levels:
            cfg = GeneratorConfig(backend="openai", model="bench", base_url=server.base_url, api_key_env=KEY_ENV,
                                  max_concurrency=concurrency, max_retries=0, timeout_s=60, max_new_tokens=64)
            task = TextGeneration(llm=make_llm(cfg), input_batch_size=input_batch_size(cfg), add_raw_output=False)
            task.load()
            batches = [[{"instruction": f"document {r}-{i}"} for i in range(concurrency)] for r in range(rounds)]
            list(task.process([{"instruction": "warm-up"}]))  # connection pool and event loop, not measured
            server.reset()
            started = time.perf_counter()
            done = 0
            for batch in batches:
                for out in task.process(batch):
                    done += sum(1 for row in out if row.get("generation"))
            elapsed = time.perf_counter() - started
            task.unload()
            ideal = concurrency / latency
            rows.append(figure(
                f"openai_c{concurrency}", done / elapsed, "rows/s", target=TARGET_RATIO * ideal, baseline=ideal,
                note=f"ratio = share of ideal {concurrency}/{latency:g}s; {done} rows, "
                     f"server saw {server.max_in_flight} in flight",
            ))
    return rows


def _composer_rows(quick: bool) -> list[dict]:
    try:
        from kinject.pipelines.corpus import run_corpus  # noqa: F401
    except ImportError:
        return [figure("composer", float("nan"), "rows/s", note="pipelines/corpus.py not available yet")]
    return [_composer_figure(quick)]


def _composer_figure(quick: bool) -> dict:
    import tempfile
    from pathlib import Path

    from kinject.pipelines.corpus import run_corpus
    from kinject.recipes.schema import load_recipe

    per_category, samples = (1, 20) if quick else (10, 100)
    with tempfile.TemporaryDirectory(prefix="kinject-bench-") as tmp:
        base = load_recipe(Path(__file__).resolve().parent.parent / "recipes" / "cpu.yaml")
        recipe = base.model_copy(update={
            "seeds": base.seeds.model_copy(update={"per_category": per_category, "out": Path(tmp) / "seeds.jsonl"}),
            "corpus": base.corpus.model_copy(update={"samples_per_doc": samples}),
            "registry": base.registry.model_copy(update={"root": Path(tmp) / "registry",
                                                         "cache_dir": Path(tmp) / "cache"}),
        })
        docs = per_category * len(recipe.seeds.categories)
        started = time.perf_counter()
        run_corpus(recipe, "fact")
        elapsed = time.perf_counter() - started
    n = docs * samples
    # Target: the paper's corpus (50 documents × 1,000 samples × 3 methods = 150k rows) in under 10 minutes.
    return figure("composer_fact", n / elapsed, "rows/s", target=250.0,
                  note=f"run_corpus fact, {docs} docs × {samples} samples, end to end (pipeline, checks, publish)")


def run(quick: bool = False) -> list[dict]:
    return _openai_rows(quick) + _composer_rows(quick)
