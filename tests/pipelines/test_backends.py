"""Generator backends: recipe → distilabel LLM, fault handling against the loopback fault server, the canary key,
and the real SmolLM2 paths (in process and behind ``transformers serve``)."""

from __future__ import annotations

import logging
import uuid
from pathlib import Path

import pytest

from kinject.errors import KinjectUserError
from kinject.pipelines.backends import BoundedOpenAILLM, generation_kwargs, input_batch_size, make_llm
from kinject.recipes.schema import GeneratorConfig

KEY_ENV = "KINJECT_TEST_GENERATOR_KEY"


def _openai_cfg(base_url: str, **overrides) -> GeneratorConfig:
    fields = dict(backend="openai", model="fault-model", base_url=base_url, api_key_env=KEY_ENV,
                  max_retries=2, timeout_s=30, max_concurrency=8, temperature=0.0, max_new_tokens=64)
    return GeneratorConfig(**{**fields, **overrides})


@pytest.fixture
def api_key(monkeypatch) -> str:
    key = f"sk-canary-{uuid.uuid4().hex}"
    monkeypatch.setenv(KEY_ENV, key)
    return key


# ---------------------------------------------------------------------------------------------------------------
# recipe → LLM
# ---------------------------------------------------------------------------------------------------------------


def test_composer_is_not_an_llm():
    with pytest.raises(KinjectUserError, match="generator.backend: 'composer'"):
        make_llm(GeneratorConfig(backend="composer"))


def test_missing_key_names_the_field_and_the_variable(monkeypatch):
    monkeypatch.delenv(KEY_ENV, raising=False)
    with pytest.raises(KinjectUserError) as err:
        make_llm(_openai_cfg("http://127.0.0.1:9/v1"))
    assert "generator.api_key_env" in str(err.value) and KEY_ENV in str(err.value)


def test_openai_needs_base_url(api_key):
    with pytest.raises(KinjectUserError, match="generator.base_url"):
        make_llm(_openai_cfg(None))


def test_recipe_sampling_and_limits_reach_the_llm(api_key):
    cfg = _openai_cfg("http://127.0.0.1:9/v1", temperature=0.3, top_p=0.9, max_new_tokens=77, max_concurrency=5,
                      max_retries=4, timeout_s=2.5)
    llm = make_llm(cfg)
    assert isinstance(llm, BoundedOpenAILLM)
    assert llm.generation_kwargs == {"max_new_tokens": 77, "temperature": 0.3, "top_p": 0.9}
    assert (llm.max_retries, llm.timeout, llm.max_concurrency) == (4, 2.5, 5)
    assert llm.api_key.get_secret_value() == api_key
    assert input_batch_size(cfg) == 5


def test_transformers_greedy_when_temperature_is_zero():
    cfg = GeneratorConfig(backend="transformers", model="some/model", temperature=0.0)
    assert generation_kwargs(cfg)["do_sample"] is False
    cfg = GeneratorConfig(backend="transformers", model="some/model", temperature=0.7)
    assert generation_kwargs(cfg) | {} == {"max_new_tokens": 512, "temperature": 0.7, "top_p": 0.95,
                                           "do_sample": True}


# ---------------------------------------------------------------------------------------------------------------
# faults: bounded retries, failures as None generations with a reason, the batch survives
# ---------------------------------------------------------------------------------------------------------------

# mode -> (attempts the server must see with max_retries=2, whether a text comes back)
FAULTS = {
    "ok": (1, True),
    "empty": (1, True),
    "wrong_language": (1, True),
    "malformed_json": (1, True),
    "429": (3, False),
    "500": (3, False),
}


def test_each_fault_is_retried_a_bounded_number_of_times_and_the_batch_completes(fault_server, api_key, caplog):
    # A generous timeout: on a loaded 2-core runner a healthy answer can take seconds.
    llm = make_llm(_openai_cfg(fault_server.base_url, timeout_s=30))
    llm.load()
    prompts = {mode: f"Describe the product [[fault:{mode}]] number {i}." for i, mode in enumerate(FAULTS)}
    with caplog.at_level(logging.DEBUG):
        outputs = llm.generate_outputs(
            inputs=[[{"role": "user", "content": p}] for p in prompts.values()], **llm.generation_kwargs
        )
    assert len(outputs) == len(FAULTS)  # one failure does not sink the other requests of the batch
    by_mode = dict(zip(FAULTS, outputs))
    for mode, (attempts, answered) in FAULTS.items():
        assert fault_server.count(contains=prompts[mode]) == attempts, mode
        generation = by_mode[mode]["generations"][0]
        assert (generation is not None) == answered, (mode, generation)
        assert by_mode[mode]["generation_error"] == [None if answered else
                                                     {"429": "generator_rate_limited",
                                                      "500": "generator_http_500"}[mode]]
    assert by_mode["ok"]["generations"][0] == "Describe the product  number 0."
    assert by_mode["empty"]["generations"][0] == ""
    assert by_mode["malformed_json"]["generations"][0].startswith('{"entities": [')
    assert sorted(llm.errors) == ["generator_http_500", "generator_rate_limited"]
    assert "generator_rate_limited" in caplog.text
    assert api_key not in caplog.text


def test_a_request_that_times_out_is_retried_then_recorded(fault_server, api_key):
    fault_server.timeout_sleep_s = 60  # until the client gives up (stop() wakes it at teardown)
    llm = make_llm(_openai_cfg(fault_server.base_url, timeout_s=1.0, max_retries=1))
    llm.load()
    [output] = llm.generate_outputs(inputs=[[{"role": "user", "content": "Rewrite [[fault:timeout]] this."}]])
    assert output["generations"] == [None] and output["generation_error"] == ["generator_timeout"]
    # 1 + max_retries attempts; a starved server may not have read the last one before the client gave up.
    assert 1 <= fault_server.count(mode="timeout") <= 2


def test_a_retry_that_recovers_returns_the_answer(fault_server, api_key):
    llm = make_llm(_openai_cfg(fault_server.base_url, timeout_s=30))
    llm.load()
    prompt = "Summarise [[fault:500*2]] the document."
    [output] = llm.generate_outputs(inputs=[[{"role": "user", "content": prompt}]])
    assert output["generations"] == ["Summarise  the document."]
    assert fault_server.count(contains=prompt) == 3
    assert [r.mode for r in fault_server.requests] == ["500", "500", "ok"]
    assert llm.errors == []


def test_no_retries_means_one_attempt(fault_server, api_key):
    llm = make_llm(_openai_cfg(fault_server.base_url, max_retries=0, timeout_s=30))
    llm.load()
    [output] = llm.generate_outputs(inputs=[[{"role": "user", "content": "x [[fault:429]]"}]])
    assert output["generations"] == [None]
    assert fault_server.count() == 1


def test_concurrency_is_capped_by_max_concurrency(fault_server, api_key):
    """16 requests in one batch with max_concurrency 4 and 0.3 s latency: never more than 4 in flight."""
    fault_server.latency_s = 0.3
    llm = make_llm(_openai_cfg(fault_server.base_url, max_concurrency=4, timeout_s=30))
    llm.load()
    outputs = llm.generate_outputs(inputs=[[{"role": "user", "content": f"doc {i}"}] for i in range(16)])
    assert [o["generations"][0] for o in outputs] == [f"doc {i}" for i in range(16)]
    assert 2 <= fault_server.max_in_flight <= 4


# ---------------------------------------------------------------------------------------------------------------
# end to end through run_corpus: an openai recipe against the fault server, the canary key, real SmolLM2
# ---------------------------------------------------------------------------------------------------------------

REPO = Path(__file__).resolve().parents[2]


def _english_docs(n: int) -> list[dict]:
    from kinject.pipelines.seeds import build_seeds
    from kinject.recipes.schema import SeedsConfig

    return build_seeds(SeedsConfig(lang="en", per_category=1, categories=["product", "company", "terms",
                                                                            "glossary", "procedure"][:n]))


def _recipe(tmp_path: Path, generator: GeneratorConfig, samples: int):
    from kinject.recipes.schema import load_recipe

    base = load_recipe(REPO / "recipes" / "cpu.yaml")
    return base.model_copy(update={
        "generator": generator,
        "corpus": base.corpus.model_copy(update={"samples_per_doc": samples}),
        "registry": base.registry.model_copy(update={"root": tmp_path / "registry", "cache_dir": tmp_path / "cache",
                                                     "repo": "test/backends"}),
    })


def _load(recipe, ref, split: str) -> list[dict]:
    from kinject.cards.registry import open_registry

    return open_registry(recipe.registry).load(ref, "rephrase", split=split).to_list()


def _files_containing(root: Path, needle: str) -> list[Path]:
    data = needle.encode()
    return [p for p in root.rglob("*") if p.is_file() and data in p.read_bytes()]


@pytest.mark.slow
def test_openai_recipe_completes_records_faults_and_never_writes_the_key(
    fault_server, api_key, tmp_path, caplog, capfd
):
    from kinject.pipelines.corpus import run_corpus
    from kinject.pipelines.seeds import write_seeds

    fault_server.api_key = api_key  # a request without the key gets 401: the key must reach the server
    fault_server.timeout_sleep_s = 60  # until the client gives up
    faults = {1: "429", 2: "timeout", 3: "wrong_language", 4: "empty"}
    docs = _english_docs(5)
    for i, mode in faults.items():
        docs[i]["text"] += f" [[fault:{mode}]]"
    seeds = write_seeds(docs, tmp_path / "seeds.jsonl")
    # 4 of the 10 requests get no answer: allowed here, so the run publishes them as failures with their reason
    recipe = _recipe(tmp_path, _openai_cfg(fault_server.base_url, max_retries=1, timeout_s=8, max_failed_share=0.5),
                     samples=2)

    with caplog.at_level(logging.INFO):
        ref = run_corpus(recipe, "rephrase", seeds_file=seeds)

    kept, failures = _load(recipe, ref, "train"), _load(recipe, ref, "failures")
    assert {r["doc_id"] for r in kept} == {docs[0]["doc_id"]} and len(kept) == 2
    assert all(r["lang_ok"] and "name" in r["facts_present"] for r in kept)
    reasons = {}
    for row in failures:
        reasons.setdefault(row["doc_id"], set()).add(row["reason"])
    # A request that failed after its retries is no finished row: it reaches failures with the backend's reason
    # (and the next run retries it).
    assert reasons[docs[1]["doc_id"]] == {"generator_rate_limited"}
    assert reasons[docs[2]["doc_id"]] == {"generator_timeout"}
    assert reasons[docs[3]["doc_id"]] == {"wrong_language"}
    assert reasons[docs[4]["doc_id"]] == {"empty"}
    assert len(failures) == 8
    # Bounded retries: 2 samples x (1 + max_retries) attempts for the failing documents, 1 per sample otherwise.
    assert fault_server.count(contains="[[fault:429]]") == 4
    assert 2 <= fault_server.count(contains="[[fault:timeout]]") <= 4
    assert fault_server.count(contains="[[fault:empty]]") == 2

    out, err = capfd.readouterr()
    assert api_key not in caplog.text + out + err
    assert _files_containing(tmp_path, api_key) == []
    assert fault_server.count() > 0


@pytest.fixture
def parent_used_openmp():
    """This process has run a two-thread torch op, as a study or an earlier test has before it generates."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    square = torch.randn(512, 512)
    (square @ square).exp().sum()
    yield
    torch.set_num_threads(threads)


@pytest.mark.slow
@pytest.mark.timeout(600)  # a forked child that inherits a used OpenMP pool hangs instead of failing
def test_smollm2_in_process_on_two_english_documents(smollm2_dir, tmp_path, parent_used_openmp):
    from kinject.pipelines.checks import REASONS
    from kinject.pipelines.corpus import run_corpus
    from kinject.pipelines.seeds import write_seeds

    seeds = write_seeds(_english_docs(2), tmp_path / "seeds.jsonl")
    generator = GeneratorConfig(backend="transformers", model="smollm2", temperature=0.0, max_new_tokens=48)
    recipe = _recipe(tmp_path, generator, samples=2)
    ref = run_corpus(recipe, "rephrase", seeds_file=seeds)  # distilabel forks the step that loads SmolLM2

    kept, failures = _load(recipe, ref, "train"), _load(recipe, ref, "failures")
    rows = kept + failures
    assert len(rows) == 4  # every sample is accounted for, kept or failed
    assert all(r["output_tokens"] > 0 for r in rows), "SmolLM2 wrote nothing"
    assert all(r["generator"] == "smollm2" for r in rows)  # the recipe's name, not this machine's cache path
    # 135M parameters rewrite poorly: whatever it wrote is either usable (English, within bounds) or has a reason.
    assert all(r["reason"].split(":")[0] in REASONS for r in failures)
    assert all(r["lang_ok"] and r["text"].strip() for r in kept)


@pytest.mark.slow
def test_openai_recipe_against_a_real_server(openai_server, tmp_path, monkeypatch):
    from kinject.pipelines.corpus import run_corpus
    from kinject.pipelines.seeds import write_seeds

    monkeypatch.setenv(KEY_ENV, "none")  # transformers serve takes any key
    seeds = write_seeds(_english_docs(2), tmp_path / "seeds.jsonl")
    generator = _openai_cfg(openai_server.base_url, model=openai_server.model, timeout_s=120, max_retries=1,
                            max_new_tokens=32)
    recipe = _recipe(tmp_path, generator, samples=1)
    ref = run_corpus(recipe, "rephrase", seeds_file=seeds)

    kept, failures = _load(recipe, ref, "train"), _load(recipe, ref, "failures")
    assert len(kept) + len(failures) == 2
    assert all(r["output_tokens"] > 0 for r in kept + failures), "the server answered nothing"
    assert not any(r["reason"].startswith("generator_") for r in failures), openai_server.log.read_text()[-2000:]
