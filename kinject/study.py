"""``kinject study``: the paper's experiments at the recipe's scale, in one command, results published.

It lives in the core package because it drives both pipelines (corpora, subsets, the mix) and trainers, which
must not import each other (docs/architecture.md). Four phases, each resumable:

1. data — ``run_corpus`` per method, ``run_selection`` (Fig. 2 at ``selection.*`` fractions, App. C at
   ``study.few_samples``), ``run_subsample`` (App. B) and ``run_mix`` (beyond the paper). The refs are kept in
   ``<out>/data.json`` keyed by the recipe, so a resumed study does not regenerate what it has.
2. train — one ``kinject train`` subprocess per (config, seed), ``study.workers`` at a time with
   ``study.threads_per_worker`` threads each (the prototype: two one-thread processes use 2 cores best). A run
   whose folder already holds a finished curve for the same data sha and recipe is skipped.
3. report — the figures' PNGs, ``README.md`` with each paper number beside ours, the exposure accounting.
4. publish — one revision of the recipe's repo whose card holds every run's results (each ``kinject train``
   merged its own) and the report under ``study/``; ``REPO@REVISION`` is printed last by the CLI.

Conditions are reused across figures: Fig. 1's run of ``study.subset_method`` is Fig. 2's and App. B's full
corpus, App. B's random draw of ``few_samples`` is App. C's baseline, App. A is Fig. 1's runs per category.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Mapping, Sequence

import yaml
from pydantic import ValidationError

from kinject.cards.refs import DatasetRef
from kinject.errors import KinjectUserError
from kinject.recipes.schema import BaseConfig, Recipe, recipe_to_yaml


@dataclass(frozen=True)
class Condition:
    """One curve of one figure: a config of a data revision, trained under the study recipe."""

    figure: str  # fig1, fig2, appB, appC, beyond
    label: str  # legend entry
    config: str
    data: DatasetRef


def _pct(ratio: float) -> str:
    # the same rule as pipelines/selection/run.py names its configs by (``fact-ppl-top50``, ``fact-d4-10``)
    return f"{ratio * 100:g}".replace(".", "p")


def _override(recipe: Recipe, section: str, **fields) -> Recipe:
    """A copy of ``recipe`` with fields of one (possibly nested, dotted) section replaced, revalidated."""
    data = recipe.model_dump(mode="json")
    node = data
    for part in section.split("."):
        node = node[part]
    node.update(fields)
    return Recipe.model_validate(data)


def fingerprint(recipe: Recipe) -> str:
    """What the data phase's revisions depend on: seeds, generator, corpus, selection and registry (and the recipe's
    name and description). Not training, evaluation or the base (built apart by ``ensure_base``), and not ``study``:
    its fields choose which configs are built and every config is named by them (``fact-n32``, ``fact-ppl-top10``,
    ``mix-fact-graph``), so adding a method or a figure reuses the revisions already published."""
    data = recipe.model_dump(mode="json", exclude={"source", "train", "eval", "judge", "reproduce", "base", "study"})
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]


# ---------------------------------------------------------------------------------------------------------------
# 1. data
# ---------------------------------------------------------------------------------------------------------------


def build_data(recipe: Recipe, out: Path) -> dict[str, str]:
    """Publish every corpus and subset the study trains on; ``{config: "repo@sha"}``, cached in data.json."""
    from kinject.cards.registry import open_registry
    from kinject.pipelines.corpus import run_corpus
    from kinject.pipelines.mix import run_mix, run_subsample
    from kinject.pipelines.selection.run import run_selection

    study, full = recipe.study, recipe.corpus.samples_per_doc
    tops = [s.split("-")[1] for s in study.selections if s.startswith("ppl-")]
    fraction = recipe.selection.perplexity.fraction
    if "d4" in study.selections and recipe.selection.d4.ratio != fraction:
        raise KinjectUserError(f"{recipe.source}: selection.d4.ratio ({recipe.selection.d4.ratio}) must equal "
                               f"selection.perplexity.fraction ({fraction}) for Fig. 2 to compare like with like")
    cache_path = out / "data.json"
    cache = json.loads(cache_path.read_text()) if cache_path.is_file() else {}
    key = fingerprint(recipe)
    # A figure run into another folder (``--out``) reuses what the recipe's own report folder published for the same
    # data: rebuilt corpora would get new revisions, and every run on them would train again.
    home = Path(recipe.study.out) / "data.json"
    shared = json.loads(home.read_text()) if home.is_file() and home.resolve() != cache_path.resolve() else {}
    registry = open_registry(recipe.registry)
    refs: dict[str, str] = {}
    for config, text in {**shared.get(key, {}), **cache.get(key, {})}.items():
        try:  # a cache from another registry (a fresh clone, a wiped .kinject) names revisions that are not here
            if config in registry.configs(DatasetRef.parse(text)):
                refs[config] = text
        except (KinjectUserError, OSError, ValueError):
            pass

    def persist() -> None:  # the folder names the revisions it uses, reused ones included
        cache[key] = refs
        cache_path.write_text(json.dumps(cache, indent=2), encoding="utf-8")

    def save(config: str, ref: DatasetRef) -> DatasetRef:
        refs[config] = str(ref)
        persist()
        return ref

    def have(*configs: str) -> bool:
        return all(c in refs for c in configs)

    sm, figures = study.subset_method, set(study.figures)
    wanted = [*(study.methods if "fig1" in figures else []), *([sm] if figures & {"fig2", "appB", "appC"} else []),
              *(study.mix if "beyond" in figures else [])]
    for method in dict.fromkeys(wanted):
        if not have(method):
            _banner(f"corpus {method}: {full} samples per document")
            save(method, run_corpus(recipe, method))
    source = DatasetRef.parse(refs[sm]) if sm in refs else None

    def select(sub: Recipe, fraction: float, tops: list[str], d4: bool) -> None:
        pct = _pct(fraction)
        ppl_configs = [f"{sm}-ppl-{keep}{pct}" for keep in tops]
        if tops and not have(*ppl_configs):
            _banner(f"select {sm} by perplexity: {', '.join(ppl_configs)}")
            ref = run_selection(_override(sub, "selection.perplexity", keep=tops, fraction=fraction), source, sm, "ppl")
            for config in ppl_configs:
                save(config, ref)
        if d4 and not have(f"{sm}-d4-{pct}"):
            _banner(f"select {sm} by D4: {sm}-d4-{pct}")
            save(f"{sm}-d4-{pct}", run_selection(_override(sub, "selection.d4", ratio=fraction), source, sm, "d4"))

    if "fig2" in figures:
        select(recipe, fraction, tops, "d4" in study.selections)
    for n in _sweep(recipe):
        if not have(f"{sm}-n{n}"):
            _banner(f"subsample {sm}: {n} samples per document")
            save(f"{sm}-n{n}", run_subsample(recipe, source, sm, n))
    if "appC" in figures and study.few_samples and study.few_samples < full:
        select(recipe, study.few_samples / full, ["bottom", "top"], True)
    if "beyond" in figures and len(study.mix) >= 2:
        config = "mix-" + "-".join(study.mix)
        if not have(config):
            _banner(f"mix {' + '.join(study.mix)}: balanced exposures, {full} samples per document")
            save(config, run_mix(recipe, {m: DatasetRef.parse(refs[m]) for m in study.mix}))
    persist()
    return refs


def _sweep(recipe: Recipe) -> list[int]:
    """App. B sample counts below the full corpus (the full corpus is Fig. 1's run), plus App. C's baseline."""
    full, study = recipe.corpus.samples_per_doc, recipe.study
    counts = set(study.sample_sweep) if "appB" in study.figures else set()
    if study.few_samples and "appC" in study.figures:
        counts.add(study.few_samples)
    return sorted(n for n in counts if n < full)


def plan_conditions(recipe: Recipe, refs: Mapping[str, str]) -> list[Condition]:
    """Every curve of every figure in ``study.figures``, in training order (Fig. 1 first: it matters most)."""
    study, full, sm = recipe.study, recipe.corpus.samples_per_doc, recipe.study.subset_method
    figures = set(study.figures)
    ref = lambda config: DatasetRef.parse(refs[config])  # noqa: E731
    out = [Condition("fig1", m, m, ref(m)) for m in study.methods] if "fig1" in figures else []
    pct = _pct(recipe.selection.perplexity.fraction)
    if "fig2" in figures:
        out.append(Condition("fig2", f"{sm}: full corpus", sm, ref(sm)))
        names = {"ppl-top": f"ppl-top{pct}", "ppl-bottom": f"ppl-bottom{pct}", "d4": f"d4-{pct}"}
        labels = {"ppl-top": f"perplexity top {pct} %", "ppl-bottom": f"perplexity bottom {pct} %",
                  "d4": f"D4 {pct} %"}
        out += [Condition("fig2", labels[s], f"{sm}-{names[s]}", ref(f"{sm}-{names[s]}")) for s in study.selections]
    if "appB" in figures:
        out += [Condition("appB", f"{n} samples/doc", f"{sm}-n{n}", ref(f"{sm}-n{n}"))
                for n in sorted(set(study.sample_sweep)) if n < full]
        out.append(Condition("appB", f"{full} samples/doc (full)", sm, ref(sm)))
    if "appC" in figures and study.few_samples and study.few_samples < full:
        n, few = study.few_samples, _pct(study.few_samples / full)
        out += [
            Condition("appC", f"{n} random", f"{sm}-n{n}", ref(f"{sm}-n{n}")),
            Condition("appC", f"{n} lowest perplexity", f"{sm}-ppl-bottom{few}", ref(f"{sm}-ppl-bottom{few}")),
            Condition("appC", f"{n} highest perplexity", f"{sm}-ppl-top{few}", ref(f"{sm}-ppl-top{few}")),
            Condition("appC", f"{n} D4", f"{sm}-d4-{few}", ref(f"{sm}-d4-{few}")),
        ]
    if "beyond" in figures and len(study.mix) >= 2:
        config = "mix-" + "-".join(study.mix)
        out += [Condition("beyond", m, m, ref(m)) for m in study.mix]
        out.append(Condition("beyond", f"{' + '.join(study.mix)} balanced", config, ref(config)))
    return out


def built_from(card_base: dict, base: BaseConfig) -> bool:
    """Whether a published base's card records this ``base`` section. A card written before a field existed lacks
    it and reads as the field's default, which keeps the behaviour from before the field (``weight_decay: 0``):
    comparing the raw dicts rebuilt the default base, an hour of one core, after every new field. A card the
    schema no longer reads is no match."""
    try:
        return BaseConfig.model_validate(card_base) == base
    except ValidationError:
        return False


def base_variants(recipe: Recipe) -> list[Recipe]:
    """The recipe once per ``study.base_seeds`` entry (the recipe alone when empty). The base's own seed keeps its
    repo and the study's name; another seed ``s`` gets ``<base.repo>-s<s>`` (the name rows 24 and 27 published
    under) and ``<name>-b<s>``, so its runs and per-seed recipes have their own folders and files."""
    variants = []
    for seed in recipe.study.base_seeds or [recipe.base.seed]:
        variant = _override(recipe, "study", base_seeds=[])  # one base each: ensure_base then pins its train.base
        if seed != recipe.base.seed:
            variant = _override(variant, "base", seed=seed, repo=f"{recipe.base.repo}-s{seed}")
            variant = variant.model_copy(update={"name": f"{recipe.name}-b{seed}"})
        variants.append(variant)
    return variants


def ensure_base(recipe: Recipe, seed_docs: list[dict]) -> tuple[Recipe, float]:
    """With ``train.model: base``, the recipe pinned to one base revision (``train.base`` = ``repo@sha``) and the
    minutes spent building it: ``train.base`` as given, else ``base.repo``@main when its card was built from the
    same ``base`` section, else a new base (teaching world, then pretraining) published now."""
    if recipe.train.model != "base" or recipe.train.base:
        return recipe, 0.0
    from kinject.cards.registry import open_registry
    from kinject.trainers.base import read_base_card

    registry = open_registry(recipe.registry)
    try:
        model_dir = registry.model_dir(DatasetRef(repo_id=recipe.base.repo))
        if built_from(read_base_card(model_dir)["base"], recipe.base):
            pinned = _override(recipe, "train", base=f"{recipe.base.repo}@{model_dir.name}")
            from kinject.trainers.cpt import check_base_disjoint, load_base

            check_base_disjoint(load_base(pinned), seed_docs)  # built for other documents: build a new one
            _banner(f"reusing the published base {recipe.base.repo}@{model_dir.name[:7]}")
            return pinned, 0.0
    except KinjectUserError:
        pass  # not published yet, not a kinject base, or not disjoint from these documents: build it
    from kinject.pipelines.teaching import run_teaching
    from kinject.trainers.base import run_base

    started = time.monotonic()
    _banner(f"building the tiny base ({recipe.base.steps} steps on the teaching world)")
    ref = run_base(recipe, run_teaching(recipe, seed_docs))
    minutes = (time.monotonic() - started) / 60
    _banner(f"base {ref} built in {minutes:.1f} min")
    return _override(recipe, "train", base=str(ref)), minutes


# ---------------------------------------------------------------------------------------------------------------
# 2. train
# ---------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Job:
    config: str
    data: DatasetRef
    seed: int
    run_dir: Path
    recipe_path: Path
    base: str | None = None  # the pinned base (``repo@sha``) with ``train.model: base``


def seed_recipe(recipe: Recipe, seed: int) -> Recipe:
    threads = recipe.study.threads_per_worker
    return _override(recipe, "train", seed=seed, num_threads=threads)


def plan_jobs(recipes: Sequence[Recipe], conditions: list[Condition], out: Path) -> list[Job]:
    """One job per distinct (config, base, seed), over the ``base_variants`` given; the per-seed recipe is written
    where the subprocess reads it."""
    from kinject.trainers.curves import run_name

    (out / "recipes").mkdir(parents=True, exist_ok=True)
    jobs: dict[tuple[str, str, int], Job] = {}
    for recipe in recipes:
        for seed in recipe.study.seeds:
            seeded = seed_recipe(recipe, seed)
            path = out / "recipes" / f"{recipe.name}-s{seed}.yaml"
            path.write_text(recipe_to_yaml(seeded), encoding="utf-8")
            for cond in conditions:
                if (cond.config, recipe.name, seed) not in jobs:
                    run_dir = Path(seeded.train.output_dir) / run_name(seeded, cond.config)
                    jobs[(cond.config, recipe.name, seed)] = Job(cond.config, cond.data, seed, run_dir, path,
                                                                 seeded.train.base)
    return list(jobs.values())


def _run_identity(path: Path) -> dict:
    """A run recipe without its ``study`` section, which no trainer reads (it chooses which runs an invocation does;
    a run's own seed is ``train.seed``, its threads ``train.num_threads``): a run finished for Fig. 1 stays finished
    when a later invocation adds Fig. 2 (``--figures``), a method, another seed, a base seed or another worker. It is
    read through the schema, so a run recipe written before a field existed reads as that field's default instead
    of retraining every finished run."""
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    try:
        data = Recipe.model_validate(data).model_dump(mode="json", exclude={"source"})
    except ValidationError:
        pass  # a recipe this schema cannot read compares as written, and matches no current one
    data.pop("study", None)
    return data


def is_done(job: Job, recipe: Recipe) -> bool:
    """Finished for the same data sha and recipe: run.json names the data, recipe.yaml matches, curve complete."""
    from kinject.trainers.curves import read_curve

    try:
        info = json.loads((job.run_dir / "run.json").read_text(encoding="utf-8"))
        same_recipe = _run_identity(job.run_dir / "recipe.yaml") == _run_identity(job.recipe_path)
    except (OSError, ValueError):
        return False
    curve = read_curve(job.run_dir / "curve.jsonl")
    finished = bool(curve) and max(p["step"] for p in curve) >= recipe.train.steps
    return same_recipe and finished and info.get("data") == str(job.data) and info.get("config") == job.config


def _run_job(job: Job, threads: int, logs: Path) -> tuple[Job, int, float]:
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads), TOKENIZERS_PARALLELISM="false")
    log = logs / f"{job.run_dir.name}.log"
    command = [sys.executable, "-c", "from kinject.cli import app; app()", "train", "--recipe", str(job.recipe_path),
               "--config", job.config, "--data", str(job.data)]
    start = time.monotonic()
    with open(log, "w", encoding="utf-8") as handle:
        code = subprocess.run(command, stdout=handle, stderr=subprocess.STDOUT, env=env).returncode
    return job, code, time.monotonic() - start


def mean_text_chars(recipe: Recipe) -> Callable[[Job], float]:
    """A job's mean training-text length in characters: what its run time follows (on study-cpu the none and
    rephrase texts are about twice fact's, and their runs take 1.3-1.4x as long)."""
    from kinject.cards.registry import open_registry

    registry = open_registry(recipe.registry)

    @functools.cache
    def chars(data: DatasetRef, config: str) -> float:
        texts = registry.load(data, config)["text"]
        return sum(map(len, texts)) / max(len(texts), 1)

    return lambda job: chars(job.data, job.config)


def longest_first(jobs: list[Job], cost: Callable[[Job], float]) -> list[Job]:
    """Jobs by expected cost, longest first, so no worker is left alone with a long run at the end (LPT scheduling;
    stable, so Fig. 1's runs lead among equals). Replaying study-cpu's 28 measured run times on 2 workers: 117.1 min
    in plan order, 113.3 min longest first."""
    return sorted(jobs, key=cost, reverse=True)


def train_all(recipe: Recipe, jobs: list[Job], out: Path) -> dict[str, float]:
    """Run the jobs not already done, ``study.workers`` at a time, longest first; returns seconds per run (0 if
    skipped)."""
    from tqdm import tqdm

    logs = out / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    todo = longest_first([job for job in jobs if not is_done(job, recipe)], mean_text_chars(recipe))
    seconds = {job.run_dir.name: 0.0 for job in jobs if job not in todo}
    if seconds:
        print(f"[study] {len(seconds)} runs already finished, skipped: {', '.join(sorted(seconds))}", flush=True)
    failed = []
    with ThreadPoolExecutor(max_workers=recipe.study.workers) as pool, \
            tqdm(total=len(todo), desc="[study] training runs", unit="run") as bar:
        futures = [pool.submit(_run_job, job, recipe.study.threads_per_worker, logs) for job in todo]
        for future in as_completed(futures):
            job, code, took = future.result()
            seconds[job.run_dir.name] = took
            bar.update(1)
            status = "ok" if code == 0 else f"FAILED (exit {code}, log {logs / (job.run_dir.name + '.log')})"
            bar.write(f"[study] {job.run_dir.name}: {status} in {took / 60:.1f} min")
            if code != 0:
                failed.append(job.run_dir.name)
    if failed:
        raise KinjectUserError(f"training runs failed: {', '.join(failed)}; see {logs}; rerun the study to resume")
    return seconds


def retrain(recipe: Recipe, data: DatasetRef, config: str, output_dir: Path) -> dict:
    """Train on ``config`` of ``data`` into ``output_dir`` without publishing; the run's summary (reproduce)."""
    from kinject.cards.registry import open_registry
    from kinject.trainers.cpt import train_on_rows
    from kinject.trainers.curves import read_curve, summarize
    from kinject.trainers.judges import make_judge

    registry = open_registry(recipe.registry)
    pinned = DatasetRef(repo_id=data.repo_id, revision=registry.resolve(data))
    recipe = recipe.model_copy(update={"train": recipe.train.model_copy(update={"output_dir": Path(output_dir)})})
    corpus_rows = registry.load(pinned, config).to_list()
    seed_rows = registry.load(pinned, "seeds").to_list()
    run_dir = train_on_rows(recipe, corpus_rows, seed_rows, config, pinned, make_judge(recipe.judge))
    return summarize(read_curve(Path(run_dir) / "curve.jsonl"))


# ---------------------------------------------------------------------------------------------------------------
# 3 + 4. report and publish
# ---------------------------------------------------------------------------------------------------------------


def run_study(recipe: Recipe, out: Path | None = None, publish: bool = True) -> DatasetRef | None:
    """All four phases; returns the published study revision (None with ``publish=False``)."""
    from kinject.cards.registry import open_registry
    from kinject.study_report import write_report

    out = Path(out or recipe.study.out)
    out.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    refs = build_data(recipe, out)
    data_minutes = (time.monotonic() - started) / 60
    seed_ref = DatasetRef.parse(next(iter(refs.values())))
    seed_docs = open_registry(recipe.registry).load(seed_ref, "seeds").to_list()
    variants, base_minutes = [], 0.0
    for variant in base_variants(recipe):
        pinned, minutes = ensure_base(variant, seed_docs)
        variants.append(pinned)
        base_minutes += minutes
    conditions = plan_conditions(recipe, refs)
    jobs = plan_jobs(variants, conditions, out)
    print(f"[study] data ready in {data_minutes:.1f} min; {len(jobs)} training runs for {len(conditions)} curves "
          f"on {len(variants)} base{'s' if len(variants) > 1 else ''}", flush=True)
    seconds = train_all(recipe, jobs, out)
    timing = {"data_minutes": data_minutes, "base_minutes": base_minutes,
              "total_minutes": (time.monotonic() - started) / 60,
              "run_minutes": {name: s / 60 for name, s in seconds.items()}}
    files = write_report(recipe, conditions, jobs, refs, timing, out)
    if not publish:
        return None
    registry = open_registry(recipe.registry)
    payload = {f"study/{path.name}": path.read_bytes() if path.suffix == ".png" else path.read_text("utf-8")
               for path in files}
    return registry.publish(recipe.registry.repo, {}, files=payload,
                            message=f"study {recipe.name}: {len(jobs)} runs, report under study/")


def _banner(text: str) -> None:
    print(f"[study] {text}", flush=True)
