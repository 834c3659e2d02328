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
import inspect
import json
import logging
import os
import signal
import statistics
import sys
import threading
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

from kinject.errors import KinjectUserError, RunInterrupted
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
                                                                            "price_output_per_mtok", "price_currency",
                                                                            "max_failed_share"})}
    return hashlib.sha256(json.dumps(state, sort_keys=True, ensure_ascii=False).encode()).hexdigest()[:16]


def work_dir(recipe: Recipe, method: str, fingerprint: str) -> Path:
    return Path(recipe.registry.root).parent / "work" / recipe.registry.repo / method / fingerprint


# ---------------------------------------------------------------------------------------------------------------
# generation with progress
# ---------------------------------------------------------------------------------------------------------------


class _Progress(threading.Thread):
    """Follow the checkpoint file and show rows/s, ETA and tokens (distilabel's run() must own the main thread,
    it installs signal handlers). Hand-written because distilabel runs each step in a child process and offers no
    progress callback: the checkpoint is the one place the parent sees finished rows. On a terminal a tqdm bar; in
    a log (not a TTY) one line when the stage ends, as tqdm's carriage returns and escape codes would fill a log."""

    def __init__(self, path: Path, total: int, desc: str) -> None:
        super().__init__(daemon=True)
        from tqdm import tqdm

        self.path, self.stop, self.desc, self.total = path, threading.Event(), desc, total
        self.tty = sys.stderr.isatty()
        self.bar = tqdm(total=total, desc=desc, unit="row", file=sys.stderr, dynamic_ncols=True, disable=not self.tty)
        self.offset = path.stat().st_size if path.exists() else 0
        self.tokens, self.done, self.started = 0, 0, time.monotonic()

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
        self.tokens += sum((r.get("input_tokens") or 0) + (r.get("output_tokens") or 0) for r in lines)
        self.done += len(lines)
        if lines:
            self.bar.set_postfix(tokens=self.tokens, refresh=False)
            self.bar.update(len(lines))

    def close(self) -> None:
        self.stop.set()
        self.join()
        self.bar.close()
        if not self.tty:
            print(f"{self.desc}: {self.done} of {self.total} rows, tokens {self.tokens:,}, "
                  f"{time.monotonic() - self.started:.1f}s", file=sys.stderr)


def _run_pipeline(pipeline, checkpoint: Path, ids: list[str], desc: str, unit: str) -> None:
    """Run a distilabel pipeline without its cache (our checkpoint resumes) and restore the root logger after.

    Ctrl-C: distilabel's SIGINT handler stops the pipeline after the batches in flight and ``run`` returns
    normally; that is turned into ``RunInterrupted`` ("N of M done"), so nothing half-generated is published.
    """
    from kinject.pipelines.checkpoint import Checkpoint
    from kinject.pipelines.workers import exit_with_parent

    os.environ.setdefault("DISTILABEL_LOG_LEVEL", "WARNING")
    exit_with_parent()
    if not sys.stderr.isatty():  # datasets' bar (distilabel builds a Distiset at the end) would write escape codes
        import datasets

        datasets.disable_progress_bars()
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    done_before = Checkpoint(checkpoint).read()
    progress = _Progress(checkpoint, sum(1 for i in ids if i not in done_before), desc)
    progress.start()
    # distilabel's SIGINT handler calls `pipeline._stop()` and resets its own `_stop_called` flag before `run`
    # returns, so the stop is observed by wrapping that method on this instance.
    stopped = threading.Event()
    stop = pipeline._stop

    def observed_stop():
        again = stopped.is_set()
        stopped.set()
        try:
            # distilabel 1.5.3's local `_stop` takes its lock and, on a repeated call (the second Ctrl-C), returns
            # without releasing it: the pipeline then deadlocks. A repeated call goes in without the lock (the
            # flag it reads is already set): the second Ctrl-C warns, the third terminates the workers.
            return stop(acquire_lock=False) if again and "acquire_lock" in inspect.signature(stop).parameters \
                else stop()
        except (BrokenPipeError, EOFError, ConnectionError):  # a later Ctrl-C, after distilabel closed its queues
            return None

    pipeline._stop = observed_stop
    sigint = signal.getsignal(signal.SIGINT)
    thread_hook = threading.excepthook

    def quiet_after_stop(args):  # the third Ctrl-C shuts distilabel's manager down under its queue threads
        if not (stopped.is_set() and issubclass(args.exc_type, (EOFError, BrokenPipeError, ConnectionError))):
            thread_hook(args)

    threading.excepthook = quiet_after_stop
    try:
        pipeline.run(use_cache=False)
    finally:
        threading.excepthook = thread_hook
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGINT, sigint)  # distilabel leaves its handler installed after run
        progress.close()
        # distilabel leaves a QueueHandler on a closed queue on the root logger: later logging would fail
        root.handlers[:] = handlers
        root.setLevel(level)
    if stopped.is_set():
        done = Checkpoint(checkpoint).read()
        raise RunInterrupted(f"interrupted: {sum(1 for i in ids if i in done)} of {len(ids)} {unit} done; "
                             "rerun the same command to resume")


def _llm(recipe: Recipe):
    from kinject.pipelines.backends import make_llm

    return make_llm(recipe.generator)


def _extract(method: str, docs: list[dict], recipe: Recipe, llm, work: Path, run: str) -> tuple[dict[str, Any], int]:
    """LLM backends, fact/graph: extraction per document, checkpointed like the rows.

    Returns (doc_id -> finished extraction row, requests sent by this run).
    """
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
        _run_pipeline(pipeline, ckpt.path, [d["doc_id"] for d in docs], f"{method}: extract", "documents extracted")
        done = ckpt.read()
    return dict(done), len(todo)


def _generate(method: str, rows: list[dict], recipe: Recipe, llm, work: Path, run: str) -> int:
    """Generate the planned rows that are not in the checkpoint; return the requests sent.

    The pipeline's YAML (the card's ``provenance/<method>/pipeline.yaml``) is kept in the work folder, so a
    rerun with nothing left to generate still publishes it.
    """
    from kinject.pipelines.checkpoint import Checkpoint

    ckpt = Checkpoint(work / "rows.jsonl")
    done = ckpt.read()
    todo = [row for row in rows if row["id"] not in done]
    if not todo:
        return 0
    if method == "none":  # the baseline repeats the document: nothing is generated, so no output tokens
        ckpt.append({"id": r["id"], "doc_id": r["doc_id"], "method": method, "variant": r["variant"],
                     "sample": r["sample"], "text": r["document"], "generator": "composer",
                     "prompt_sha": r["prompt_sha"], "seed": r["seed"], "input_tokens": 0,
                     "output_tokens": 0, "run": run} for r in todo)
        return 0
    batch = recipe.corpus.batch_size or (COMPOSER_BATCH if llm is None else LLM_BATCH)
    pipeline = _module(method).build_pipeline(todo, llm=llm, checkpoint=ckpt.path, cache_dir=work / "distilabel",
                                              batch_size=batch, run=run, use_ray=recipe.generator.use_ray)
    import yaml

    from kinject.redact import redact_urls

    (work / "pipeline.yaml").write_text(
        redact_urls(yaml.safe_dump(pipeline.dump(), sort_keys=False, allow_unicode=True)), encoding="utf-8")
    _run_pipeline(pipeline, ckpt.path, [r["id"] for r in rows], f"{method}: generate", "rows")
    return 0 if llm is None else len(todo)


# ---------------------------------------------------------------------------------------------------------------
# one method, end to end
# ---------------------------------------------------------------------------------------------------------------


def _failure_row(doc: dict, method: str, recipe: Recipe, variant: str, reason: str, text: str = "",
                 tokens: tuple[int, int] = (0, 0), row_id: str | None = None) -> dict:
    """A failures-split row for something that produced no text of its own (an extraction, a request)."""
    return {"id": row_id or f"{doc['doc_id']}-{variant}", "doc_id": doc["doc_id"], "method": method,
            "variant": variant, "text": text, "generator": recipe.generator.model,
            "prompt_sha": _module(method).prompt_sha("ja" if doc["lang"] == "ja" else "en"),
            "seed": recipe.corpus.seed, "input_tokens": tokens[0], "output_tokens": tokens[1], "reason": reason}


def _extracted_facts(doc: dict, method: str, recipe: Recipe, facts: list[dict]) -> tuple[list[dict], list[dict]]:
    """(facts whose value the document states, failure rows ``extracted_value_not_in_document`` for the rest)."""
    from kinject.pipelines.checks import normalize

    text = normalize(doc["text"])
    kept, failures = [], []
    for fact in facts:
        if normalize(str(fact["value"])) in text:
            kept.append(fact)
        else:
            failures.append(_failure_row(doc, method, recipe, f"extraction:{fact['key']}",
                                         "extracted_value_not_in_document", f"{fact['key']}: {fact['value']}"))
    return kept, failures


def _build_rows(method: str, docs: list[dict], n: int, recipe: Recipe, llm, work: Path, run: str):
    """(planned rows, failure rows known before generation, extraction tokens, extraction requests sent).

    A document whose extraction request failed for transport reasons gets no plan and one failure row with the
    reason; its extraction is retried by the next run.
    """
    from kinject.pipelines.checkpoint import transport_failures

    extracted: dict[str, Any] = {}
    failures: list[dict] = []
    tokens = [0, 0]
    requests = 0
    transport: dict[str, str] = {}
    extracting = llm is not None and method in ("fact", "graph")
    if extracting:
        extracted, requests = _extract(method, docs, recipe, llm, work, run)
        transport = transport_failures(work / "extract.jsonl", run)
    planned = []
    for doc in docs:
        got = extracted.get(doc["doc_id"])
        if extracting and got is None:
            failures.append(_failure_row(doc, method, recipe, "extraction",
                                         transport.get(doc["doc_id"], "generator_not_answered")))
            continue
        facts = None
        if got is not None:
            got_tokens = (got.get("input_tokens") or 0, got.get("output_tokens") or 0)
            tokens[0] += got_tokens[0]
            tokens[1] += got_tokens[1]
            if got.get("extracted") is None:
                failures.append(_failure_row(doc, method, recipe, "extraction", "unparseable_extraction",
                                             tokens=got_tokens))
                continue
            facts = got["extracted"]
            if method == "fact":
                facts, wrong = _extracted_facts(doc, method, recipe, facts)
                failures += wrong
        for row in plan_rows(method, doc, n, recipe, facts):
            if row.get("reason"):  # planning found nothing to write about (e.g. graph: too_few_entities)
                failures.append({k: row[k] for k in ("id", "doc_id", "method", "variant", "generator", "prompt_sha",
                                                     "seed", "reason")} | {"text": "", "input_tokens": 0,
                                                                           "output_tokens": 0})
            else:
                planned.append(row)
    return planned, failures, tokens, requests, transport


def _published(recipe: Recipe, registry):
    """(main's DatasetRef pinned to its sha, its card's front matter), or (None, {}) for a repo not yet published."""
    from kinject.cards.refs import DatasetRef

    try:
        sha = registry.resolve(DatasetRef(repo_id=recipe.registry.repo, revision="main"))
    except KinjectUserError:  # no such repo or no revision yet
        return None, {}
    ref = DatasetRef(repo_id=recipe.registry.repo, revision=sha)
    return ref, registry.card_data(ref)


def _check_transport(method: str, requests: int, transport: dict[str, str], share: float) -> None:
    """Publish nothing when more than ``generator.max_failed_share`` of this run's requests failed to get an answer."""
    if requests and len(transport) / requests > share:
        reasons = ", ".join(f"{k} {v}" for k, v in Counter(transport.values()).most_common())
        raise KinjectUserError(
            f"{method}: {len(transport)} of {requests} requests failed ({reasons}); more than "
            f"generator.max_failed_share ({share:g}), so nothing was published; rerun to retry them")


def _check_not_empty(method: str, repo: str, docs: list[dict], kept: list[dict], failures: list[dict]) -> None:
    """Never publish a config with 0 rows (it would replace the published one); warn about empty documents."""
    kept_docs = Counter(r["doc_id"] for r in kept)
    empty = [d["doc_id"] for d in docs if not kept_docs[d["doc_id"]]]
    if not empty:
        return
    by_doc: dict[str, Counter] = {}
    for row in failures:
        by_doc.setdefault(row["doc_id"], Counter())[row["reason"].split(":", 1)[0]] += 1
    detail = "; ".join(f"{d} ({', '.join(f'{k} {v}' for k, v in (by_doc.get(d) or Counter()).most_common())}"
                       f"{'' if by_doc.get(d) else 'no rows planned'})" for d in empty[:10])
    detail += f"; and {len(empty) - 10} more" if len(empty) > 10 else ""
    if not kept:
        raise KinjectUserError(
            f"{method}: 0 rows passed the checks, so nothing was published ({repo} keeps its previous {method!r}); "
            f"documents: {detail}")
    print(f"warning: {method}: {len(empty)} documents have no row: {detail}", file=sys.stderr)


def _run_method(recipe: Recipe, method: str, docs: list[dict], seeds_source: str, n: int):
    from kinject.cards.refs import DatasetRef
    from kinject.cards.registry import open_registry
    from kinject.cards.seed_set import check_publish_seeds, revision_seeds_sha, seeds_sha
    from kinject.pipelines import checks
    from kinject.pipelines.checkpoint import Checkpoint, transport_failures
    from kinject.pipelines.seeds import seed_features
    from kinject.recipes.schema import recipe_to_yaml

    registry = open_registry(recipe.registry)
    head, front = _published(recipe, registry)
    seed_sha = seeds_sha(docs)
    if head is not None:  # before spending anything on generation
        check_publish_seeds(f"{recipe.registry.repo}@main", front, seed_sha)
    fingerprint = _fingerprint(method, docs, n, recipe)
    work = work_dir(recipe, method, fingerprint)
    work.mkdir(parents=True, exist_ok=True)
    run = uuid.uuid4().hex[:12]
    llm = None if recipe.generator.backend == "composer" or method == "none" else _llm(recipe)
    planned, early_failures, extraction_tokens, extraction_requests, extraction_transport = _build_rows(
        method, docs, n, recipe, llm, work, run)
    requests = extraction_requests + _generate(method, planned, recipe, llm, work, run)

    transport = transport_failures(work / "rows.jsonl", run)
    _check_transport(method, requests, {**extraction_transport, **transport}, recipe.generator.max_failed_share)
    finished = Checkpoint(work / "rows.jsonl").read()
    missing = [row["id"] for row in planned if row["id"] not in finished and row["id"] not in transport]
    if missing:
        raise RuntimeError(f"{len(missing)} planned rows are not in {work / 'rows.jsonl'} after generation")
    by_doc = {d["doc_id"]: d for d in docs}
    generated = [{k: v for k, v in finished[row["id"]].items() if k not in ("sample", "run")}
                 for row in planned if row["id"] in finished]
    unanswered = [{**{k: row[k] for k in ("id", "doc_id", "method", "variant", "generator", "prompt_sha", "seed")},
                   "text": "", "input_tokens": 0, "output_tokens": 0, "reason": transport[row["id"]]}
                  for row in planned if row["id"] in transport]
    kept, failures, reasons = checks.check_rows(early_failures + generated + unanswered, by_doc,
                                                dedup=method != "none", min_chars=recipe.corpus.min_chars,
                                                max_chars=recipe.corpus.max_chars)
    _check_not_empty(method, recipe.registry.repo, docs, kept, failures)
    exposures = checks.exposures(kept, {d: by_doc[d] for d in by_doc if by_doc[d].get("facts")})
    counts = list(exposures.values()) or [0]
    tokens_in = sum(r["input_tokens"] for r in generated) + extraction_tokens[0]
    tokens_out = sum(r["output_tokens"] for r in generated) + extraction_tokens[1]
    module_prompts = {} if method == "none" else _module(method).prompts()
    seeds_provenance = {"source": seeds_source, "documents": len(docs), "sha256": seed_sha}
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
        "seeds": {**seeds_provenance, "config": "seeds"},
        "rows": len(kept), "failures": len(failures), "failures_by_reason": dict(sorted(reasons.items())),
        "tokens": {"input": tokens_in, "output": tokens_out,
                   "estimated": recipe.generator.backend == "composer" or method == "none"},
        "exposures": exposures,
        "exposures_summary": {"min": min(counts), "median": statistics.median(counts), "max": max(counts)},
        "fingerprint": fingerprint,
    }
    files = {f"provenance/{method}/recipe.yaml": recipe_to_yaml(recipe)}
    if (work / "pipeline.yaml").is_file():
        files[f"provenance/{method}/pipeline.yaml"] = (work / "pipeline.yaml").read_text(encoding="utf-8")
    # What this publish would write, as one digest: equal to the published one means nothing changed.
    provenance["content_sha256"] = hashlib.sha256(json.dumps(
        [provenance, kept, failures, files], sort_keys=True, ensure_ascii=False, default=str).encode()).hexdigest()
    published = ((front.get("kinject") or {}).get("configs") or {}).get(method) or {}
    if (head is not None and published.get("content_sha256") == provenance["content_sha256"]
            and revision_seeds_sha(front) == seed_sha):
        print(f"{method}: nothing changed since {head.repo_id}@{head.revision[:12]} (no new revision)", file=sys.stderr)
        return DatasetRef(repo_id=head.repo_id, revision=head.revision)
    seeds_ds = rows_dataset([{k: d.get(k, []) for k in seed_features()} for d in docs], seed_features())
    tables = {
        "seeds": {"train": seeds_ds},
        method: {"train": rows_dataset(kept, corpus_features()),
                 "failures": rows_dataset(failures, corpus_features(failures=True))},
    }
    ref = registry.publish(
        recipe.registry.repo, tables, provenance={method: provenance, "seeds": seeds_provenance}, files=files,
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
    the extraction is not known yet); output tokens are at most ``max_new_tokens`` per request (an upper bound,
    so the cost is one too). For the composer, output tokens are the measured average of a sample of composed
    texts; it sends no requests. ``none`` generates nothing.
    """
    from kinject.pipelines.checkpoint import estimate_tokens

    gen = recipe.generator
    rows = [row for doc in docs for row in plan_rows(method, doc, n, recipe) if not row.get("reason")]
    if method == "none":  # the documents repeated: nothing is generated
        return {"method": method, "requests": {"extraction": 0, "generation": 0}, "rows": len(rows),
                "input_tokens": 0, "output_tokens": 0, "output_basis": "nothing generated", "cost": 0.0}
    if gen.backend == "composer":
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
            "input_tokens": tokens_in, "output_tokens": tokens_out, "output_basis": f"max_new_tokens {gen.max_new_tokens} per request",
            "cost": round(cost, 4)}


def _dry_run_line(est: dict[str, Any], currency: str) -> str:
    req = est["requests"]
    if est["method"] == "none":
        return f"none: rows {est['rows']:,} (the documents repeated); nothing generated, no requests, no cost"
    if not req["extraction"] + req["generation"]:
        return (f"{est['method']}: rows {est['rows']:,}; no requests (composer); output tokens ~{est['output_tokens']:,} "
                f"({est['output_basis']}); no cost")
    return (f"{est['method']}: requests {req['extraction'] + req['generation']:,} (extraction {req['extraction']:,}, "
            f"generation {req['generation']:,}); rows {est['rows']:,}; input tokens ~{est['input_tokens']:,}; "
            f"output tokens at most {est['output_tokens']:,} ({est['output_basis']}); "
            f"cost at most {est['cost']:.4f} {currency}")


def _compose_probe(method: str, rows: list[dict]) -> list[str]:
    from kinject.pipelines import composer

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
        llm = gen.backend != "composer"
        print(f"dry run: {len(docs)} documents x {n} samples; generator {gen.backend}"
              f"{' ' + gen.model if gen.model else ''}" + (
                  f"; prices per million tokens: input {gen.price_input_per_mtok} {gen.price_currency}, output "
                  f"{gen.price_output_per_mtok} {gen.price_currency}" if llm else ""))
        for m in methods:
            print(_dry_run_line(estimate(recipe, m, docs, n), gen.price_currency))
        return None
    ref = None
    started = time.monotonic()
    for m in methods:
        ref = _run_method(recipe, m, docs, source, n)
    print(f"corpus: {', '.join(methods)} in {time.monotonic() - started:.1f}s", file=sys.stderr)
    return ref
