"""The corpus stage end to end on the local registry: structure per method, exposures, checks, dry run, resume
after SIGKILL, a user's seed file, and a canary API key that must never be written."""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from kinject.cards.registry import open_registry
from kinject.errors import KinjectUserError
from kinject.pipelines import composer
from kinject.pipelines.corpus import estimate, plan_rows, run_corpus, work_dir
from kinject.recipes.schema import load_recipe
from tests.pipelines.test_composer import EN, JA

CANARY = "sk-canary-4f7c1e9b"
REPO_ROOT = Path(__file__).resolve().parents[2]


def _recipe(tmp_path: Path, **corpus) -> Path:
    """A recipe on the cpu.yaml defaults with 2 documents per category and the registry under tmp_path."""
    path = tmp_path / "recipe.yaml"
    lines = [f"extends: {REPO_ROOT / 'recipes' / 'cpu.yaml'}", "name: test", "seeds:", "  per_category: 2",
             "registry:", f"  root: {tmp_path / 'kinject' / 'registry'}", f"  cache_dir: {tmp_path / 'cache'}",
             "  repo: test/corpus", "corpus:", "  samples_per_doc: 40"]
    lines += [f"  {key}: {value}" for key, value in corpus.items()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


# Three distilabel runs (rephrase, fact, graph) and four publishes: minutes on two cores, so the tests built on
# them are slow; the fast suite still runs the corpus stage end to end (user seed file, canary key).
PUBLISHED_ALL = pytest.mark.slow


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    """All four methods, 10 documents x 40 samples, published once for the structural tests."""
    tmp = tmp_path_factory.mktemp("all")
    recipe = load_recipe(_recipe(tmp))
    ref = run_corpus(recipe, "all")
    return recipe, ref, open_registry(recipe.registry)


_LOADED: dict = {}


def _rows(published, method, split="train"):
    """The published rows, loaded once per module (a load materialises the revision and reads its parquet)."""
    _, ref, registry = published
    if (ref, method, split) not in _LOADED:
        _LOADED[(ref, method, split)] = registry.load(ref, method, split).to_list()
    return _LOADED[(ref, method, split)]


@pytest.mark.parametrize("method", ["none", "rephrase", "fact", "graph"])
@PUBLISHED_ALL
def test_every_document_has_exactly_n_rows_and_unique_ids(published, method):
    rows, failures = _rows(published, method), _rows(published, method, "failures")
    per_doc = Counter(r["doc_id"] for r in rows + failures)
    assert len(per_doc) == 10 and set(per_doc.values()) == {40}
    ids = [r["id"] for r in rows + failures]
    assert len(ids) == len(set(ids))
    assert {r["method"] for r in rows} == {method}
    if method == "none":  # the baseline repeats the document by definition: no duplicate removal
        assert not failures and len({r["text"] for r in rows}) == 10
    else:
        assert len(failures) <= 0.05 * len(rows + failures), Counter(f["reason"] for f in failures)
    assert all(r["lang_ok"] and r["text"] for r in rows)


@PUBLISHED_ALL
def test_method_structures(published):
    rephrase = _rows(published, "rephrase")
    styles = Counter(r["variant"] for r in rephrase)
    assert set(styles) == {"easy", "medium", "hard", "qa"}
    fact = _rows(published, "fact")
    sizes = Counter(len(r["variant"].split("|")) for r in fact)
    assert set(sizes) <= {2, 3, 4} and len(sizes) == 3
    graph = _rows(published, "graph")
    kinds = Counter(r["variant"].split(":")[0] for r in graph)
    assert kinds.keys() == {"pair", "triple"} and abs(kinds["pair"] - kinds["triple"]) <= 0.2 * len(graph)


@PUBLISHED_ALL
def test_fact_and_graph_rows_state_their_variant(published):
    seeds = {d["doc_id"]: d for d in _rows(published, "seeds")}
    for row in _rows(published, "fact"):
        assert set(row["variant"].split("|")) <= set(row["facts_present"]), row
    for row in _rows(published, "graph"):
        doc = seeds[row["doc_id"]]
        names = row["variant"].split(":", 1)[1].split("|")
        keys = {str(f["value"]): f["key"] for f in doc["facts"]}
        assert {keys[n] for n in names if n in keys} <= set(row["facts_present"]), row


@pytest.mark.parametrize(
    "method, at_least", [("rephrase", 30), ("fact", 8), ("graph", 6)]
)
@PUBLISHED_ALL
def test_every_fact_exposed_at_least_k_times(published, method, at_least):
    recipe, ref, registry = published
    card = registry.card_data(ref)["kinject"]["configs"][method]
    exposures = card["exposures"]
    assert len(exposures) == 10 * 9  # every fact of every document is listed, zeros included
    assert min(exposures.values()) >= at_least, sorted(exposures.items(), key=lambda kv: kv[1])[:3]
    assert card["exposures_summary"]["min"] == min(exposures.values())
    counted = Counter(f"{r['doc_id']}/{k}" for r in _rows(published, method) for k in r["facts_present"])
    assert counted == Counter({k: v for k, v in exposures.items() if v})


@PUBLISHED_ALL
def test_no_value_altered_and_provenance(published):
    recipe, ref, registry = published
    for method in ("rephrase", "fact", "graph"):
        failures = _rows(published, method, "failures")
        assert not [f for f in failures if f["reason"].startswith("value_contradiction")]
    card = registry.card_data(ref)["kinject"]["configs"]["graph"]
    assert card["rows"] == len(_rows(published, "graph"))
    assert card["generator"]["backend"] == "composer"
    assert card["prompts"] and all(len(p["sha256"]) == 64 for p in card["prompts"].values())
    assert "graph" in card["corpus"] and "fact" not in card["corpus"]
    files = registry.list_files(ref)
    assert "provenance/graph/recipe.yaml" in files and "provenance/graph/pipeline.yaml" in files
    assert "compose_relations" in registry.read_file(ref, "provenance/graph/pipeline.yaml")
    assert set(registry.configs(ref)) >= {"seeds", "none", "rephrase", "fact", "graph"}


def test_dry_run_numbers_and_writes_nothing(tmp_path, capsys):
    path = _recipe(tmp_path)
    text = path.read_text() + ("generator:\n  backend: openai\n  model: m\n  base_url: http://127.0.0.1:9/v1\n"
                               "  max_new_tokens: 100\n  price_input_per_mtok: 2.0\n  price_output_per_mtok: 8.0\n")
    path.write_text(text)
    recipe = load_recipe(path)
    assert run_corpus(recipe, "graph", samples=5, dry_run=True) is None
    out = capsys.readouterr().out
    from kinject.pipelines.seeds import build_seeds

    docs = build_seeds(recipe.seeds)
    est = estimate(recipe, "graph", docs, 5)
    assert est["requests"] == {"extraction": 10, "generation": 50}
    assert est["output_tokens"] == 60 * 100
    assert est["input_tokens"] > 50 * 100  # the document is in every relate prompt
    assert est["cost"] == pytest.approx(round(est["input_tokens"] * 2e-6 + est["output_tokens"] * 8e-6, 4))
    assert f"requests 60 (extraction 10, generation 50)" in out
    # the output bound is max_new_tokens per request: an upper bound, and so is the cost; the unit is named
    assert f"output tokens at most {est['output_tokens']:,} (max_new_tokens 100 per request)" in out
    assert f"cost at most {est['cost']:.4f} USD" in out and "input 2.0 USD, output 8.0 USD" in out
    assert not (tmp_path / "kinject").exists()  # no registry, no work dir


def test_composer_dry_run_measures_output(tmp_path, capsys):
    recipe = load_recipe(_recipe(tmp_path))
    run_corpus(recipe, "fact", samples=20, dry_run=True)
    assert "measured composer average" in capsys.readouterr().out
    assert not (tmp_path / "kinject").exists()


def _seed_file(tmp_path: Path) -> Path:
    path = tmp_path / "mine.jsonl"
    path.write_text("".join(json.dumps({**d, "questions": []}, ensure_ascii=False) + "\n" for d in (JA, EN)),
                    encoding="utf-8")
    return path


def test_user_seed_file_and_samples_override(tmp_path):
    recipe = load_recipe(_recipe(tmp_path))
    ref = run_corpus(recipe, "fact", seeds_file=_seed_file(tmp_path), samples=12)
    registry = open_registry(recipe.registry)
    rows = registry.load(ref, "fact").to_list() + registry.load(ref, "fact", "failures").to_list()
    assert Counter(r["doc_id"] for r in rows) == {"cafe": 12, "ferry": 12}
    assert {d["doc_id"] for d in registry.load(ref, "seeds").to_list()} == {"cafe", "ferry"}
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"doc_id": "x"}\n')
    with pytest.raises(KinjectUserError, match="bad.jsonl"):
        run_corpus(recipe, "fact", seeds_file=bad)
    text_only = tmp_path / "text_only.jsonl"
    text_only.write_text(json.dumps({"doc_id": "t", "category": "terms", "lang": "ja", "text": "本文です。",
                                     "facts": [], "questions": []}, ensure_ascii=False) + "\n")
    with pytest.raises(KinjectUserError, match="composer"):
        run_corpus(recipe, "graph", seeds_file=text_only)
    with pytest.raises(KinjectUserError, match="--method"):
        run_corpus(recipe, "wrap")


@pytest.mark.slow  # five distilabel pipeline runs
def test_llm_path_sends_failures_with_reasons(tmp_path, monkeypatch):
    """The LLM code path with a scripted LLM: unparseable extraction and English replies are failures."""
    from tests.pipelines.scripted_llm import ScriptedLLM

    path = _recipe(tmp_path)
    path.write_text(path.read_text() + "generator:\n  backend: openai\n  model: scripted\n")
    recipe = load_recipe(path)
    seeds = _seed_file(tmp_path)
    extraction = json.dumps({"entities": [{"name": "ミドリ茶房"}, {"name": "980円"}, {"name": "Kelvo"},
                                          {"name": "Tarn Lines"}, {"name": "24席"}]}, ensure_ascii=False)
    from kinject.cards.refs import DatasetRef

    monkeypatch.setattr("kinject.pipelines.corpus._llm", lambda r: ScriptedLLM(extraction=extraction))
    ref = run_corpus(recipe, "graph", seeds_file=seeds, samples=6)
    registry = open_registry(recipe.registry)
    rows = registry.load(ref, "graph").to_list()
    assert rows and {r["generator"] for r in rows} == {"scripted"}
    assert all(r["input_tokens"] > 0 for r in rows)
    monkeypatch.setattr("kinject.pipelines.corpus._llm", lambda r: ScriptedLLM(extraction="no json", mode="english"))
    # no extraction parses: 0 rows, so nothing is published and the documents are named with their reason
    with pytest.raises(KinjectUserError, match=r"graph: 0 rows .*cafe \(unparseable_extraction 1\); "
                                               r"ferry \(unparseable_extraction 1\)"):
        run_corpus(recipe.model_copy(update={"corpus": recipe.corpus.model_copy(update={"seed": 1})}),
                   "graph", seeds_file=seeds, samples=6)
    assert registry.resolve(DatasetRef(repo_id="test/corpus")) == ref.revision
    monkeypatch.setattr("kinject.pipelines.corpus._llm", lambda r: ScriptedLLM(mode="english"))
    ref = run_corpus(recipe, "rephrase", seeds_file=seeds, samples=4)
    failures = registry.load(ref, "rephrase", "failures").to_list()
    reasons = Counter((f["doc_id"], f["reason"]) for f in failures)
    assert reasons[("cafe", "wrong_language")] == 4  # the Japanese document's English replies
    assert registry.load(ref, "rephrase").num_rows + len(failures) == 8


def _kinject(*args, env=None):
    return [str(REPO_ROOT / ".venv" / "bin" / "kinject"), *args] if (REPO_ROOT / ".venv" / "bin" / "kinject").exists() \
        else [sys.executable, "-m", "kinject.cli", *args]


@pytest.mark.slow
def test_sigkill_and_resume(tmp_path):
    path = _recipe(tmp_path, batch_size=20)
    recipe = load_recipe(path)
    cmd = [sys.executable, "-c", "from kinject.cli import app; app()", "corpus", "--recipe", str(path),
           "--method", "fact", "--samples", "300"]
    env = {**os.environ, "OPENAI_API_KEY": CANARY}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    work_root = tmp_path / "kinject" / "work"
    deadline = time.monotonic() + 240
    checkpoint = None
    while time.monotonic() < deadline:
        found = list(work_root.glob("**/rows.jsonl"))
        if found and sum(1 for _ in open(found[0], "rb")) >= 200:
            checkpoint = found[0]
            break
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.05)
    assert checkpoint is not None, "the run made no progress"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    time.sleep(0.5)
    first = [json.loads(line) for line in checkpoint.read_bytes().splitlines() if line.strip().endswith(b"}")]
    assert 200 <= len(first) < 3000, "killed too late to test resume"
    first_run = {r["id"]: r["run"] for r in first}
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    last = done.stdout.strip().splitlines()[-1]
    assert re.fullmatch(r"test/corpus@[0-9a-f]{40}", last)
    from kinject.cards.refs import DatasetRef

    registry = open_registry(recipe.registry)
    ref = DatasetRef.parse(last)
    rows = registry.load(ref, "fact").to_list() + registry.load(ref, "fact", "failures").to_list()
    assert Counter(r["doc_id"] for r in rows).most_common()[-1][1] == 300
    assert len(rows) == 3000 and len({r["id"] for r in rows}) == 3000
    lines = [json.loads(line) for line in checkpoint.read_bytes().splitlines() if line.strip()]
    second_run = {r["run"] for r in lines} - set(first_run.values())
    regenerated = [r for r in lines if r["run"] in second_run and r["id"] in first_run]
    assert not regenerated, f"{len(regenerated)} finished rows were generated again"
    assert CANARY not in done.stdout + done.stderr


def test_canary_api_key_is_never_written(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("OPENAI_API_KEY", CANARY)
    recipe = load_recipe(_recipe(tmp_path))
    ref = run_corpus(recipe, "graph", samples=5)
    registry = open_registry(recipe.registry)
    for name in registry.list_files(ref):
        try:
            assert CANARY not in registry.read_file(ref, name), name
        except UnicodeDecodeError:
            pass
    for path in (tmp_path / "kinject").rglob("*"):
        if path.is_file():
            assert CANARY.encode() not in path.read_bytes(), path
    # an LLM pipeline's serialized YAML (what the card would carry) holds no key either
    from kinject.pipelines import graph
    from kinject.pipelines.backends import make_llm
    from kinject.recipes.schema import GeneratorConfig

    llm = make_llm(GeneratorConfig(backend="openai", model="m", base_url="http://127.0.0.1:9/v1"))
    rows = plan_rows("graph", JA, 2, recipe)
    pipeline = graph.build_pipeline(rows, llm=llm, checkpoint=tmp_path / "c.jsonl", cache_dir=tmp_path / "dl",
                                    batch_size=2)
    import yaml

    assert CANARY not in yaml.safe_dump(pipeline.dump())
    run_corpus(recipe.model_copy(update={"generator": GeneratorConfig(
        backend="openai", model="m", base_url="http://127.0.0.1:9/v1")}), "graph", samples=5, dry_run=True)
    captured = capsys.readouterr()
    assert CANARY not in captured.out + captured.err


def test_ray_conversion(tmp_path):
    pytest.importorskip("ray")
    path = _recipe(tmp_path)
    path.write_text(path.read_text() + "generator:\n  use_ray: true\n")
    recipe = load_recipe(path)
    assert recipe.generator.use_ray
    from distilabel.pipeline import RayPipeline

    from kinject.pipelines import fact

    rows = plan_rows("fact", JA, 4, recipe)
    pipeline = fact.build_pipeline(rows, llm=None, checkpoint=tmp_path / "c.jsonl", cache_dir=tmp_path / "dl",
                                   batch_size=4, use_ray=True)
    assert isinstance(pipeline, RayPipeline)


@pytest.mark.slow  # starts a local Ray cluster
@pytest.mark.timeout(900)
def test_ray_pipeline_runs_on_one_machine(tmp_path):
    """``generator.use_ray: true`` on a single machine: distilabel's RayPipeline starts a local Ray cluster, runs the
    composer, and the corpus is checked and published exactly as without Ray."""
    pytest.importorskip("ray")
    import ray

    path = _recipe(tmp_path)
    path.write_text(path.read_text() + "generator:\n  use_ray: true\n")
    recipe = load_recipe(path)
    try:
        ref = run_corpus(recipe, "fact", seeds_file=_seed_file(tmp_path), samples=6)
        assert ray.is_initialized()  # the pipeline ran on Ray, not in process
    finally:
        ray.shutdown()
    registry = open_registry(recipe.registry)
    rows = registry.load(ref, "fact").to_list() + registry.load(ref, "fact", "failures").to_list()
    assert Counter(r["doc_id"] for r in rows) == {"cafe": 6, "ferry": 6}
    assert len({r["id"] for r in rows}) == 12


def test_work_dir_is_per_repo_method_and_fingerprint(tmp_path):
    recipe = load_recipe(_recipe(tmp_path))
    assert work_dir(recipe, "graph", "abc") == tmp_path / "kinject" / "work" / "test" / "corpus" / "graph" / "abc"
