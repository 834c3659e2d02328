"""The corpus stage: seeds -> one method's pipeline -> per-row checks -> publish -> summary.

``run_corpus(recipe, method)`` reads (or builds) the seed documents, plans every (document, sample) variant,
runs the method's distilabel pipeline over the variants not yet in the checkpoint, checks every row
(``checks.py``), and publishes config ``seeds`` and config ``<method>`` (splits ``train`` and ``failures``) to
``recipe.registry.repo`` in one commit, with the provenance in the card. ``method="all"`` runs none, rephrase,
fact and graph in turn, one commit each.

**Resume.** Finished rows are appended per batch to ``.kinject/work/<repo>/<method>/<fingerprint>/rows.jsonl``
(``checkpoint.py``); the fingerprint covers the seeds, the recipe's corpus and generator sections and the sample
count, so a rerun of the same command after a kill (even SIGKILL) generates only the missing variants.

**Scale-out.** ``generator.use_ray: true`` converts each pipeline with distilabel's ``Pipeline.ray()``; run the
same command on the Ray head node (or submit it with ``ray job submit -- kinject corpus ...``) after
``pip install 'kinject[ray]'``. The checkpoint is a local file, so the last step runs where the driver runs.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import statistics
import sys
import threading
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

from kinject.errors import KinjectUserError
from kinject.recipes.schema import METHODS, Recipe

__all__ = ["run_corpus", "corpus_features", "rows_dataset", "plan_rows", "estimate"]

COMPOSER_BATCH = 500  # the composer is microseconds per row: big batches keep distilabel's per-batch cost small
LLM_BATCH = 64


def corpus_features(failures: bool = False):
    """The ``datasets.Features`` of a corpus row (docs/architecture.md, "Data contracts"); failures add
    ``reason``."""
    from datasets import Features, List, Value

    string, int64 = Value("string"), Value("int64")
    columns = {"id": string, "doc_id": string, "method": string, "variant": string, "text": string,
               "generator": string, "prompt_sha": string, "seed": int64, "input_tokens": int64,
               "output_tokens": int64, "facts_present": List(string), "lang_ok": Value("bool")}
    if failures:
        columns["reason"] = string
    return Features(columns)


def rows_dataset(rows: list[dict], features):
    """``Dataset.from_list`` that also holds for zero rows (datasets 5.2 builds an empty schema from ``[]``)."""
    from datasets import Dataset

    return Dataset.from_dict({name: [row[name] for row in rows] for name in features}, features=features)


def _module(method: str):
    from kinject.pipelines import fact, graph, rephrase

    return {"rephrase": rephrase, "fact": fact, "graph": graph}[method]


def _composer_sha() -> str:
    from kinject.pipelines import composer

    return hashlib.sha256(Path(composer.__file__).read_bytes()).hexdigest()


# ---------------------------------------------------------------------------------------------------------------
# seeds and planning
# ---------------------------------------------------------------------------------------------------------------


def _seeds(recipe: Recipe, seeds_file: str | Path | None) -> tuple[list[dict], str]:
    from kinject.pipelines.seeds import build_seeds, read_seed_file

    source = seeds_file if seeds_file is not None else recipe.seeds.path
    if source is not None:
        return read_seed_file(source), str(source)
    return build_seeds(recipe.seeds), "built"


def _check_seeds(docs: list[dict], method: str, backend: str) -> None:
    if backend == "composer" and method != "none":
        missing = [d["doc_id"] for d in docs if not d.get("facts")]
        if missing:
            raise KinjectUserError(
                f"generator.backend: the composer writes from fact tables, but {len(missing)} seed documents have "
                f"none ({', '.join(missing[:3])}{', ...' if len(missing) > 3 else ''}); give their facts or use an "
                "LLM backend (openai, transformers) that extracts them")


def plan_rows(method: str, doc: dict, n: int, recipe: Recipe, extracted: list | None = None) -> list[dict]:
    """Every planned variant of one document, as the generation step's input rows (ids included)."""
    from kinject.pipelines import composer

    cfg, gen = recipe.corpus, recipe.generator
    if method == "none":
        variants = [{"sample": i, "variant": "original"} for i in range(n)]
    elif method == "rephrase":
        variants = _module(method).plan(doc, n, cfg)
    elif method == "fact":
        facts = extracted if extracted is not None else [
            f for f in doc.get("facts") or [] if f["key"] in composer.attribute_keys(doc)]
        variants = _module(method).plan(doc, n, cfg, facts)
    else:
        variants = _module(method).plan(doc, n, cfg, extracted)
    lang = "ja" if doc["lang"] == "ja" else "en"
    if gen.backend == "composer" or method == "none":
        generator, sha = "composer", _composer_sha()
    else:
        generator, sha = gen.model, _module(method).prompt_sha(lang)
    from kinject.pipelines.checkpoint import row_id

    base = {"doc_id": doc["doc_id"], "method": method, "lang": doc["lang"], "document": doc["text"],
            "facts": [{"key": f["key"], "value": str(f["value"])} for f in doc.get("facts") or []],
            "subject": composer.subject(doc)[0], "seed": cfg.seed, "generator": generator, "prompt_sha": sha}
    return [{**base, **v, "id": row_id(doc["doc_id"], method, v["variant"], v["sample"], cfg.seed)}
            for v in variants]


def _fingerprint(method: str, docs: list[dict], n: int, recipe: Recipe) -> str:
    state = {"method": method, "n": n, "docs": docs, "corpus": recipe.corpus.model_dump(mode="json"),
             "generator": recipe.generator.model_dump(mode="json", exclude={"price_input_per_mtok",
                                                                            "price_output_per_mtok"})}
    return hashlib.sha256(json.dumps(state, sort_keys=True, ensure_ascii=False).encode()).hexdigest()[:16]


def work_dir(recipe: Recipe, method: str, fingerprint: str) -> Path:
    return Path(recipe.registry.root).parent / "work" / recipe.registry.repo / method / fingerprint


# ---------------------------------------------------------------------------------------------------------------
# generation with progress
# ---------------------------------------------------------------------------------------------------------------


class _Progress(threading.Thread):
    """Follow the checkpoint file and show rows/s, ETA and tokens (distilabel's run() must own the main thread,
    it installs signal handlers). Hand-written because distilabel runs each step in a child process and offers no
    progress callback: the checkpoint is the one place the parent sees finished rows."""

    def __init__(self, path: Path, total: int, desc: str) -> None:
        super().__init__(daemon=True)
        from tqdm import tqdm

        self.path, self.stop = path, threading.Event()
        self.bar = tqdm(total=total, desc=desc, unit="row", file=sys.stderr, dynamic_ncols=True)
        self.offset = path.stat().st_size if path.exists() else 0
        self.tokens = 0

    def run(self) -> None:
        while not self.stop.wait(0.5):
            self._poll()
        self._poll()

    def _poll(self) -> None:
        if not self.path.exists():
            return
        with open(self.path, "rb") as f:
            f.seek(self.offset)
            data = f.read()
        end = data.rfind(b"\n") + 1
        self.offset += end
        lines = [json.loads(line) for line in data[:end].splitlines() if line.strip()]
        self.tokens += sum(r.get("input_tokens", 0) + r.get("output_tokens", 0) for r in lines)
        if lines:
            self.bar.set_postfix(tokens=self.tokens, refresh=False)
            self.bar.update(len(lines))

    def close(self) -> None:
        self.stop.set()
        self.join()
        self.bar.close()


def _run_pipeline(pipeline, checkpoint: Path, total: int, desc: str) -> None:
    """Run a distilabel pipeline without its cache (our checkpoint resumes) and restore the root logger after."""
    os.environ.setdefault("DISTILABEL_LOG_LEVEL", "WARNING")
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    progress = _Progress(checkpoint, total, desc)
    progress.start()
    try:
        pipeline.run(use_cache=False)
    finally:
        progress.close()
        # distilabel leaves a QueueHandler on a closed queue on the root logger: later logging would fail
        root.handlers[:] = handlers
        root.setLevel(level)


def _llm(recipe: Recipe):
    from kinject.pipelines.backends import make_llm

    return make_llm(recipe.generator)


def _extract(method: str, docs: list[dict], recipe: Recipe, llm, work: Path, run: str) -> dict[str, Any]:
    """LLM backends, fact/graph: extraction per document, checkpointed like the rows. doc_id -> list or None."""
    from kinject.pipelines.checkpoint import Checkpoint

    ckpt = Checkpoint(work / "extract.jsonl")
    done = ckpt.read()
    todo = [{"id": d["doc_id"], "doc_id": d["doc_id"], "document": d["text"], "lang": d["lang"]}
            for d in docs if d["doc_id"] not in done]
    if todo:
        module = _module(method)
        kwargs = {"max_entities": recipe.corpus.graph.max_entities} if method == "graph" else {}
        pipeline = module.build_extraction_pipeline(todo, llm=llm, checkpoint=ckpt.path, cache_dir=work / "distilabel",
                                                    run=run, use_ray=recipe.generator.use_ray, **kwargs)
        _run_pipeline(pipeline, ckpt.path, len(todo), f"{method}: extract")
        done = ckpt.read()
    return {doc_id: row for doc_id, row in done.items()}


def _generate(method: str, rows: list[dict], recipe: Recipe, llm, work: Path, run: str) -> Any:
    """Generate the planned rows that are not in the checkpoint; return the pipeline (for its YAML) or None."""
    from kinject.pipelines.checkpoint import Checkpoint, estimate_tokens

    ckpt = Checkpoint(work / "rows.jsonl")
    done = ckpt.read()
    todo = [row for row in rows if row["id"] not in done]
    if not todo:
        return None
    if method == "none":  # the baseline repeats the document: nothing to generate, no pipeline needed
        ckpt.append({"id": r["id"], "doc_id": r["doc_id"], "method": method, "variant": r["variant"],
                     "sample": r["sample"], "text": r["document"], "generator": "composer",
                     "prompt_sha": r["prompt_sha"], "seed": r["seed"], "input_tokens": 0,
                     "output_tokens": estimate_tokens(r["document"]), "run": run} for r in todo)
        return None
    batch = recipe.corpus.batch_size or (COMPOSER_BATCH if llm is None else LLM_BATCH)
    pipeline = _module(method).build_pipeline(todo, llm=llm, checkpoint=ckpt.path, cache_dir=work / "distilabel",
                                              batch_size=batch, run=run, use_ray=recipe.generator.use_ray)
    _run_pipeline(pipeline, ckpt.path, len(todo), f"{method}: generate")
    return pipeline


# ---------------------------------------------------------------------------------------------------------------
# one method, end to end
# ---------------------------------------------------------------------------------------------------------------


def _build_rows(method: str, docs: list[dict], n: int, recipe: Recipe, llm, work: Path, run: str):
    """(planned rows, extraction failure rows, extraction tokens)."""
    extracted: dict[str, Any] = {}
    failures: list[dict] = []
    tokens = [0, 0]
    if llm is not None and method in ("fact", "graph"):
        extracted = _extract(method, docs, recipe, llm, work, run)
    planned = []
    for doc in docs:
        got = extracted.get(doc["doc_id"])
        if got is not None:
            tokens[0] += got.get("input_tokens") or 0
            tokens[1] += got.get("output_tokens") or 0
            if got.get("extracted") is None:
                failures.append({"id": f"{doc['doc_id']}-extract", "doc_id": doc["doc_id"], "method": method,
                                 "variant": "extraction", "text": "", "generator": recipe.generator.model,
                                 "prompt_sha": _module(method).prompt_sha("ja" if doc["lang"] == "ja" else "en"),
                                 "seed": recipe.corpus.seed, "input_tokens": got.get("input_tokens") or 0,
                                 "output_tokens": got.get("output_tokens") or 0, "reason": "unparseable_extraction"})
                continue
        planned += plan_rows(method, doc, n, recipe, None if got is None else got["extracted"])
    return planned, failures, tokens


def _run_method(recipe: Recipe, method: str, docs: list[dict], seeds_source: str, n: int):
    from kinject.cards.registry import open_registry
    from kinject.pipelines import checks
    from kinject.pipelines.checkpoint import Checkpoint
    from kinject.pipelines.seeds import seed_features
    from kinject.recipes.schema import recipe_to_yaml

    fingerprint = _fingerprint(method, docs, n, recipe)
    work = work_dir(recipe, method, fingerprint)
    work.mkdir(parents=True, exist_ok=True)
    run = uuid.uuid4().hex[:12]
    llm = None if recipe.generator.backend == "composer" or method == "none" else _llm(recipe)
    planned, extraction_failures, extraction_tokens = _build_rows(method, docs, n, recipe, llm, work, run)
    pipeline = _generate(method, planned, recipe, llm, work, run)

    finished = Checkpoint(work / "rows.jsonl").read()
    missing = [row["id"] for row in planned if row["id"] not in finished]
    if missing:
        raise RuntimeError(f"{len(missing)} planned rows are not in {work / 'rows.jsonl'} after generation")
    by_doc = {d["doc_id"]: d for d in docs}
    generated = [{k: v for k, v in finished[row["id"]].items() if k not in ("sample", "run")} for row in planned]
    kept, failures, reasons = checks.check_rows(extraction_failures + generated, by_doc, dedup=method != "none",
                                                min_chars=recipe.corpus.min_chars, max_chars=recipe.corpus.max_chars)
    exposures = checks.exposures(kept, {d: by_doc[d] for d in by_doc if by_doc[d].get("facts")})
    counts = list(exposures.values()) or [0]
    tokens_in = sum(r["input_tokens"] for r in generated) + extraction_tokens[0]
    tokens_out = sum(r["output_tokens"] for r in generated) + extraction_tokens[1]
    module_prompts = {} if method == "none" else _module(method).prompts()
    provenance = {
        "method": method,
        "corpus": recipe.corpus.model_dump(mode="json", exclude={m for m in ("rephrase", "fact", "graph")
                                                                 if m != method}),
        "samples_per_doc": n,
        "generator": {"backend": recipe.generator.backend if method != "none" else "none",
                      "model": recipe.generator.model, "revision": recipe.generator.revision,
                      "temperature": recipe.generator.temperature, "top_p": recipe.generator.top_p,
                      "max_new_tokens": recipe.generator.max_new_tokens},
        "composer_sha256": _composer_sha(),
        "prompts": {name: {"sha256": hashlib.sha256(text.encode()).hexdigest(), "text": text}
                    for name, text in module_prompts.items()},
        "seeds": {"source": seeds_source, "config": "seeds", "documents": len(docs),
                  "sha256": hashlib.sha256(json.dumps(docs, sort_keys=True, ensure_ascii=False).encode()).hexdigest()},
        "rows": len(kept), "failures": len(failures), "failures_by_reason": dict(sorted(reasons.items())),
        "tokens": {"input": tokens_in, "output": tokens_out,
                   "estimated": recipe.generator.backend == "composer" or method == "none"},
        "exposures": exposures,
        "exposures_summary": {"min": min(counts), "median": statistics.median(counts), "max": max(counts)},
        "fingerprint": fingerprint,
    }
    files = {f"provenance/{method}/recipe.yaml": recipe_to_yaml(recipe)}
    if pipeline is not None:
        import yaml

        files[f"provenance/{method}/pipeline.yaml"] = yaml.safe_dump(pipeline.dump(), sort_keys=False,
                                                                     allow_unicode=True)
    seeds_ds = rows_dataset([{k: d.get(k, []) for k in seed_features()} for d in docs], seed_features())
    tables = {
        "seeds": {"train": seeds_ds},
        method: {"train": rows_dataset(kept, corpus_features()),
                 "failures": rows_dataset(failures, corpus_features(failures=True))},
    }
    ref = open_registry(recipe.registry).publish(
        recipe.registry.repo, tables, provenance={method: provenance}, files=files,
        message=f"corpus {method}: {len(kept)} rows, {len(failures)} failures ({n} samples x {len(docs)} documents)",
    )
    _summary(method, provenance)
    return ref


def _summary(method: str, prov: dict) -> None:
    reasons = ", ".join(f"{k} {v}" for k, v in prov["failures_by_reason"].items()) or "none"
    ex = prov["exposures_summary"]
    tokens = prov["tokens"]
    print(f"{method}: {prov['rows']} rows, {prov['failures']} failures ({reasons}); tokens in {tokens['input']:,} "
          f"out {tokens['output']:,}{' (estimated)' if tokens['estimated'] else ''}; exposures per fact "
          f"min {ex['min']} median {ex['median']} max {ex['max']}", file=sys.stderr)


# ---------------------------------------------------------------------------------------------------------------
# dry run
# ---------------------------------------------------------------------------------------------------------------


def estimate(recipe: Recipe, method: str, docs: list[dict], n: int) -> dict[str, Any]:
    """Requests, input/output tokens and cost of one method, without generating anything.

    LLM input tokens come from the prompts rendered for real (fact/graph planned from the seed's fact table, as
    the extraction is not known yet); output tokens are ``max_new_tokens`` per request (an upper bound). For the
    composer, output tokens are the measured average of a sample of composed texts; it sends no requests.
    """
    from kinject.pipelines.checkpoint import estimate_tokens

    gen = recipe.generator
    rows = [row for doc in docs for row in plan_rows(method, doc, n, recipe)]
    if gen.backend == "composer" or method == "none":
        probe = _compose_probe(method, rows[:: max(1, len(rows) // 200)])
        avg = statistics.mean(estimate_tokens(t) for t in probe) if probe else 0
        return {"method": method, "requests": {"extraction": 0, "generation": 0}, "rows": len(rows),
                "input_tokens": 0, "output_tokens": round(avg * len(rows)), "output_basis": "measured composer "
                "average", "cost": 0.0}
    module = _module(method)
    lang_of = {d["doc_id"]: ("ja" if d["lang"] == "ja" else "en") for d in docs}
    tokens_in = sum(estimate_tokens(module.render_prompt(row, lang_of[row["doc_id"]])) for row in rows)
    extraction = len(docs) if method in ("fact", "graph") else 0
    if extraction:
        tokens_in += sum(estimate_tokens(module.render_extraction(d, recipe.corpus)) for d in docs)
    requests = extraction + len(rows)
    tokens_out = requests * gen.max_new_tokens
    cost = tokens_in / 1e6 * gen.price_input_per_mtok + tokens_out / 1e6 * gen.price_output_per_mtok
    return {"method": method, "requests": {"extraction": extraction, "generation": len(rows)}, "rows": len(rows),
            "input_tokens": tokens_in, "output_tokens": tokens_out, "output_basis": "max_new_tokens per request",
            "cost": round(cost, 4)}


def _compose_probe(method: str, rows: list[dict]) -> list[str]:
    from kinject.pipelines import composer

    if method == "none":
        return [row["document"] for row in rows]
    texts = []
    for row in rows:
        doc, rng = composer.doc_of(row), composer.rng_for(row["seed"], row["doc_id"], method, row["sample"])
        if method == "rephrase":
            texts.append(composer.compose_rephrase(doc, row["style"], rng))
        elif method == "fact":
            texts.append(composer.compose_facts(doc, [f["key"] for f in row["subset"]], rng))
        else:
            by_name = {node.name: node for node in composer.nodes(doc, len(doc["facts"]) + 1)}
            texts.append(composer.compose_relation(doc, [by_name[e] for e in row["entities"]], rng))
    return texts


# ---------------------------------------------------------------------------------------------------------------
# entry point
# ---------------------------------------------------------------------------------------------------------------


def run_corpus(recipe: Recipe, method: str, seeds_file: str | Path | None = None, samples: int | None = None,
               dry_run: bool = False):
    """Generate, check and publish the corpus of ``method`` (or ``all``); return the last ``DatasetRef``.

    With ``dry_run`` print the requests, tokens and cost per method, write nothing and return None.
    """
    methods = list(METHODS) if method == "all" else [method]
    if method != "all" and method not in METHODS:
        raise KinjectUserError(f"--method: expected one of {', '.join(METHODS)} or all, got {method!r}")
    if samples is not None and samples < 1:
        raise KinjectUserError(f"--samples: must be >= 1, got {samples}")
    n = samples or recipe.corpus.samples_per_doc
    docs, source = _seeds(recipe, seeds_file)
    for m in methods:
        _check_seeds(docs, m, recipe.generator.backend)
    if dry_run:
        gen = recipe.generator
        print(f"dry run: {len(docs)} documents x {n} samples; generator {gen.backend}"
              f"{' ' + gen.model if gen.model else ''}; prices per Mtok in {gen.price_input_per_mtok} "
              f"out {gen.price_output_per_mtok}")
        for m in methods:
            est = estimate(recipe, m, docs, n)
            req = est["requests"]
            print(f"{m}: requests {req['extraction'] + req['generation']:,} (extraction {req['extraction']:,}, "
                  f"generation {req['generation']:,}); rows {est['rows']:,}; input tokens ~{est['input_tokens']:,}; "
                  f"output tokens ~{est['output_tokens']:,} ({est['output_basis']}); cost ~{est['cost']:.4f}")
        return None
    ref = None
    started = time.monotonic()
    for m in methods:
        ref = _run_method(recipe, m, docs, source, n)
    print(f"corpus: {', '.join(methods)} in {time.monotonic() - started:.1f}s", file=sys.stderr)
    return ref
