"""The study: both study recipes validate, conditions are planned and reused as intended, and a miniature runs
end to end through the orchestrator (real corpora, selection, subprocess training, report, published card)."""

import json
import os
import re
import subprocess
from pathlib import Path

import pytest
import yaml

from kinject.cards.refs import DatasetRef
from kinject.recipes.schema import load_recipe
from kinject.study import _sweep, built_from, fingerprint, plan_conditions

ROOT = Path(__file__).parents[1]
RECIPES = ROOT / "recipes"

MINIATURE = """
extends: {study_cpu}
name: study-mini
seeds: {{per_category: 1, questions_per_doc: 4, seed: 0}}
corpus: {{samples_per_doc: 8, seed: 0}}
selection:
  perplexity: {{fraction: 0.5, keep: [bottom], reference_steps: 5}}
registry: {{kind: local, root: {root}/registry, cache_dir: {root}/cache, repo: test/study-mini}}
base:
  teaching: {{per_category: 3, texts_per_doc: 3}}
  tiny: {{hidden_size: 32, num_layers: 1, num_heads: 2, intermediate_size: 64}}
  vocab_size: 400
  steps: 4
  batch_size: 8
  micro_batch: 4
  eval_every: 2
  eval_questions: 8
train:
  steps: 6
  batch_size: 16
  replay: {{per_step: 4}}
  output_dir: {root}/runs
eval: {{every_steps: 3}}
judge: {{kind: match, cache_dir: {root}/judge-cache}}
study:
  methods: [none, fact]
  subset_method: fact
  selections: [ppl-bottom]
  sample_sweep: [4]
  few_samples: null
  mix: []
  seeds: [0]
  base_seeds: [0, 1]
  workers: 2
  out: {root}/report
"""


@pytest.mark.parametrize("name", ["study-cpu.yaml", "study-cpu-wide.yaml", "study-cpu-long.yaml", "study-gpu.yaml"])
def test_study_recipes_validate(name):
    recipe = load_recipe(RECIPES / name)
    assert recipe.study.methods == ["none", "rephrase", "fact", "graph"]
    assert all(n < recipe.corpus.samples_per_doc for n in recipe.study.sample_sweep)
    assert recipe.study.few_samples < recipe.corpus.samples_per_doc


def test_make_base_builds_the_base_make_study_reuses():
    """`make base` and `make study` must read one recipe's base section, or the study builds another base."""
    dry_run = subprocess.run(["make", "-n", "base", "study", "STAMP="], cwd=ROOT, capture_output=True, text=True,
                             check=True).stdout
    recipes = [line.split("--recipe ")[1].split()[0] for line in dry_run.splitlines() if "--recipe" in line]
    assert recipes == ["recipes/study-cpu.yaml", "recipes/study-cpu.yaml"]
    assert load_recipe(ROOT / recipes[0]).train.model == "base"


WHERE_IT_WRITES = {("source",), ("name",), ("description",), ("registry", "repo"), ("base", "repo"),
                   ("train", "output_dir"), ("study", "out")}


@pytest.mark.parametrize("name, changed", [
    ("study-cpu-wide.yaml", {("base", "tiny", "hidden_size"), ("base", "tiny", "num_heads"),
                             ("base", "tiny", "intermediate_size"), ("study", "budget_minutes")}),
    ("study-cpu-long.yaml", {("base", "steps"), ("base", "eval_every")}),
])
def test_a_base_variant_recipe_changes_only_its_base_and_where_it_writes(name, changed):
    """The wide and long studies are study-cpu's protocol from another base: same teaching world, corpora and CPT,
    and their own base repo, card, run folder and report, so they never overwrite the default study's artifacts."""
    cpu, variant = (load_recipe(RECIPES / n).model_dump() for n in ("study-cpu.yaml", name))
    moved = WHERE_IT_WRITES | changed

    def leaves(tree, path=()):
        if isinstance(tree, dict):
            for key, value in tree.items():
                yield from leaves(value, path + (key,))
        else:
            yield path, tree

    cpu_leaves, variant_leaves = dict(leaves(cpu)), dict(leaves(variant))
    assert cpu_leaves.keys() == variant_leaves.keys()
    assert {path for path in cpu_leaves if cpu_leaves[path] != variant_leaves[path]} == moved
    assert variant["base"]["data_repo"] == cpu["base"]["data_repo"]


def test_a_base_card_from_before_a_field_existed_is_still_the_same_base():
    """`make study` reuses the published base when its card records the recipe's `base` section. A card written
    before a field was added lacks the field; it was built with the field's default and must not cost a rebuild."""
    base = load_recipe(RECIPES / "study-cpu.yaml").base
    card = base.model_dump(mode="json")
    older = {key: value for key, value in card.items() if key != "weight_decay"}
    assert base.weight_decay == 0.0 and built_from(older, base) and built_from(card, base)
    assert not built_from({**card, "weight_decay": 0.1}, base)
    assert not built_from({**card, "steps": base.steps + 1}, base)
    assert not built_from({**card, "removed_field": 1}, base)  # a card this schema cannot read is no match


def test_gpu_recipe_runs_the_papers_counts():
    gpu = load_recipe(RECIPES / "study-gpu.yaml")
    assert (gpu.corpus.samples_per_doc, gpu.train.steps, gpu.study.few_samples) == (1000, 1000, 100)
    assert gpu.study.sample_sweep == [100, 150, 200, 500]
    assert gpu.registry.repo != load_recipe(RECIPES / "study-cpu.yaml").registry.repo


def test_conditions_reuse_runs_across_figures():
    recipe = load_recipe(RECIPES / "study-cpu.yaml")
    names = ["none", "rephrase", "fact", "graph", "fact-ppl-top50", "fact-ppl-bottom50", "fact-d4-50",
             "fact-n32", "fact-n64", "fact-n160", "fact-ppl-bottom10", "fact-ppl-top10", "fact-d4-10",
             "mix-fact-graph"]
    refs = {n: f"kinject/study-cpu@{i:040x}" for i, n in enumerate(names)}
    conditions = plan_conditions(recipe, refs)
    by_fig = {}
    for c in conditions:
        by_fig.setdefault(c.figure, []).append(c.config)
    assert by_fig["fig1"] == ["none", "rephrase", "fact", "graph"]
    assert by_fig["fig2"] == ["fact", "fact-ppl-top50", "fact-ppl-bottom50", "fact-d4-50"]
    assert by_fig["appB"] == ["fact-n32", "fact-n64", "fact-n160", "fact"]
    assert by_fig["appC"] == ["fact-n32", "fact-ppl-bottom10", "fact-ppl-top10", "fact-d4-10"]
    assert by_fig["beyond"] == ["fact", "graph", "mix-fact-graph"]
    assert len({c.config for c in conditions}) == 14  # the distinct training runs of one seed
    assert all(c.data == DatasetRef.parse(refs[c.config]) for c in conditions)
    assert _sweep(recipe) == [32, 64, 160]


def test_a_finished_run_stays_done_when_a_later_invocation_adds_figures(tmp_path):
    """`--figures fig1` then `--figures fig1,fig2` must not retrain (and overwrite) the Fig. 1 runs."""
    from kinject.study import _override, is_done, plan_jobs

    recipe = _override(load_recipe(RECIPES / "study-cpu.yaml"), "train", output_dir=str(tmp_path / "runs"))
    refs = {"fact": "kinject/study-cpu@" + "a" * 40}
    fig1 = _override(recipe, "study", figures=["fig1"], methods=["fact"])
    (job,) = [j for j in plan_jobs([fig1], plan_conditions(fig1, refs), tmp_path / "report") if j.seed == 0]
    job.run_dir.mkdir(parents=True)
    (job.run_dir / "recipe.yaml").write_text(job.recipe_path.read_text(encoding="utf-8"), encoding="utf-8")
    (job.run_dir / "run.json").write_text(json.dumps({"data": refs["fact"], "config": "fact"}), encoding="utf-8")
    (job.run_dir / "curve.jsonl").write_text(json.dumps({"step": recipe.train.steps, "accuracy": 0.5}) + "\n")
    assert is_done(job, fig1)

    later = _override(fig1, "study", figures=["fig1", "fig2"], workers=1, seeds=[0, 1, 2], methods=["none", "fact"],
                      out=str(tmp_path / "elsewhere"))
    (again,) = [j for j in plan_jobs([later], plan_conditions(fig1, refs), tmp_path / "report") if j.seed == 0]
    assert again.run_dir == job.run_dir and is_done(again, later)
    # a run recipe written before a field existed (base.weight_decay) is the same run at the field's default
    older = yaml.safe_load(job.recipe_path.read_text(encoding="utf-8"))
    assert older["base"].pop("weight_decay") == 0.0
    (job.run_dir / "recipe.yaml").write_text(yaml.safe_dump(older, allow_unicode=True), encoding="utf-8")
    assert is_done(again, later)
    other = _override(fig1, "train", learning_rate=1e-3)  # a knob that changes the run: not done
    (changed,) = [j for j in plan_jobs([other], plan_conditions(fig1, refs), tmp_path / "report") if j.seed == 0]
    assert not is_done(changed, other)


def test_base_seeds_train_every_condition_on_each_base_in_its_own_folders(tmp_path):
    """`study.base_seeds`: one variant per seed (the base's own seed keeps its repo and the study's name, another gets
    `<repo>-s<seed>`, the name rows 24 and 27 published under), every (config, training seed) on each, no run
    folder or per-seed recipe shared; a finished run on the recipe's own base stays done when seeds are added."""
    from kinject.study import _override, base_variants, is_done, plan_jobs

    recipe = _override(load_recipe(RECIPES / "study-cpu.yaml"), "train", output_dir=str(tmp_path / "runs"))
    recipe = _override(recipe, "study", figures=["fig1"], methods=["fact", "graph"], seeds=[0, 1])
    assert [v.base.repo for v in base_variants(recipe)] == ["kinject/tiny-base-ja-t60"]
    several = _override(recipe, "study", base_seeds=[0, 2])
    variants = base_variants(several)
    assert [(v.name, v.base.seed, v.base.repo) for v in variants] == [
        ("study-cpu", 0, "kinject/tiny-base-ja-t60"), ("study-cpu-b2", 2, "kinject/tiny-base-ja-t60-s2")]
    assert all(v.study.base_seeds == [] for v in variants)  # each is one base, so ensure_base may pin train.base
    base_dump = lambda v: v.base.model_dump(exclude={"seed", "repo"})  # noqa: E731
    assert base_dump(variants[1]) == base_dump(variants[0])
    pinned = [_override(v, "train", base=f"{v.base.repo}@{i:040x}") for i, v in enumerate(variants)]
    refs = {"fact": "kinject/study-cpu@" + "a" * 40, "graph": "kinject/study-cpu@" + "b" * 40}
    jobs = plan_jobs(pinned, plan_conditions(recipe, refs), tmp_path / "report")
    assert len(jobs) == 8 and len({j.run_dir for j in jobs}) == 8 and len({j.recipe_path for j in jobs}) == 4
    assert {(j.config, j.base.split("@")[0], j.seed) for j in jobs} == {
        (c, b, s) for c in ("fact", "graph") for b in ("kinject/tiny-base-ja-t60", "kinject/tiny-base-ja-t60-s2")
        for s in (0, 1)}
    written = load_recipe(next(j.recipe_path for j in jobs if j.base.endswith("-s2@" + f"{1:040x}")))
    assert (written.base.seed, written.train.base) == (2, f"kinject/tiny-base-ja-t60-s2@{1:040x}")

    # a run finished on the recipe's own base before base_seeds was set is the same run
    (alone,) = [j for j in plan_jobs([pinned[0].model_copy(update={"study": recipe.study})],
                                     plan_conditions(recipe, refs), tmp_path / "before")
                if j.seed == 0 and j.config == "fact"]
    alone.run_dir.mkdir(parents=True)
    (alone.run_dir / "recipe.yaml").write_text(alone.recipe_path.read_text(encoding="utf-8"), encoding="utf-8")
    (alone.run_dir / "run.json").write_text(json.dumps({"data": refs["fact"], "config": "fact"}), encoding="utf-8")
    (alone.run_dir / "curve.jsonl").write_text(json.dumps({"step": recipe.train.steps, "accuracy": 0.5}) + "\n")
    (same,) = [j for j in jobs if j.run_dir == alone.run_dir]
    assert is_done(same, several)


def test_base_seeds_need_the_base_section_to_build_from():
    from kinject.errors import KinjectUserError

    with pytest.raises(KinjectUserError, match="study.base_seeds needs train.model: base"):
        load_recipe(RECIPES / "study-cpu.yaml", overrides={"study": {"base_seeds": [0, 1]},
                                                            "train": {"base": "kinject/tiny-base-ja-t60@" + "a" * 40}})
    with pytest.raises(KinjectUserError, match="repeats a seed"):
        load_recipe(RECIPES / "study-cpu.yaml", overrides={"study": {"base_seeds": [0, 0]}})


def test_the_report_separates_the_bases_share_of_a_band(tmp_path):
    """With several bases the findings say what a band spans, and a per-base table shows each base's final."""
    from kinject.study import Condition, Job
    from kinject.study_report import findings, mean_curve, per_base_table, summary

    def run(name, config, base, final):
        (tmp_path / name).mkdir()
        (tmp_path / name / "curve.jsonl").write_text(
            "".join(json.dumps({"step": s, "accuracy": a}) + "\n" for s, a in ((0, 0.05), (320, final))))
        return Job(config, DatasetRef.parse(f"r/d@{0:040x}"), int(name[-1]), tmp_path / name, Path("r.yaml"), base)

    jobs = [run("f-b0-s0", "fact", "b@0", 0.70), run("f-b0-s1", "fact", "b@0", 0.72),
            run("f-b2-s0", "fact", "b-s2@2", 0.60), run("f-b2-s1", "fact", "b-s2@2", 0.62),
            run("n-b0-s0", "none", "b@0", 0.40)]
    conditions = [Condition("fig1", m, m, DatasetRef.parse(f"r/d@{0:040x}")) for m in ("fact", "none")]
    table = per_base_table(jobs, conditions)
    assert "| condition | `b@0` | `b-s2@2` |" in table
    assert "| fact | 0.710 | 0.610 |" in table and "| none | 0.400 | — |" in table
    fact = summary(mean_curve([[{"step": 320, "accuracy": a}] for a in (0.70, 0.72, 0.60, 0.62)]))
    line = findings({"fig1": {"fact": fact, "none": fact}}, bases=2)[1]
    assert "(min–max over 4 runs: 2 bases × 2 training seeds): fact 0.66 (0.60–0.72)" in line


def test_long_runs_start_first_and_ties_keep_the_plan_order():
    from kinject.study import Job, longest_first

    def job(config):
        return Job(config, DatasetRef.parse(f"r/d@{0:040x}"), 0, Path(config), Path("recipe.yaml"))

    chars = {"none": 201, "rephrase": 237, "fact": 107, "graph": 133, "fact-n32": 107, "mix-fact-graph": 138}
    plan = [job(config) for config in chars]
    order = [j.config for j in longest_first(plan, lambda j: chars[j.config])]
    assert order == ["rephrase", "none", "mix-fact-graph", "graph", "fact", "fact-n32"]


def test_data_fingerprint_ignores_what_the_data_does_not_depend_on():
    """The data cache's key: a study that adds a method, a figure or a base field reuses the published revisions
    (each config is named by the study fields that make it); a corpus or selection change does not."""
    recipe = load_recipe(RECIPES / "study-cpu.yaml")
    from kinject.study import _override

    assert fingerprint(recipe) == fingerprint(_override(recipe, "train", steps=10))
    assert fingerprint(recipe) == fingerprint(_override(recipe, "study", workers=1, seeds=[0, 1]))
    assert fingerprint(recipe) == fingerprint(_override(recipe, "study", methods=["fact", "graph"], figures=["fig1"]))
    assert fingerprint(recipe) == fingerprint(_override(recipe, "base", weight_decay=0.1))
    assert fingerprint(recipe) != fingerprint(_override(recipe, "corpus", samples_per_doc=100))
    assert fingerprint(recipe) != fingerprint(_override(recipe, "selection.d4", ratio=0.4))
    assert fingerprint(recipe) != fingerprint(_override(recipe, "seeds", per_category=5))


def test_a_figure_run_into_another_folder_reuses_the_data_of_the_recipes_report(tmp_path, monkeypatch):
    """`--out elsewhere` must not rebuild corpora: new revisions would retrain every run on them."""
    import kinject.cards.registry
    import kinject.pipelines.corpus
    from kinject.study import _override, build_data

    recipe = _override(load_recipe(RECIPES / "study-cpu.yaml"), "study", out=str(tmp_path / "report"),
                       figures=["fig1"], methods=["none", "fact"])
    refs = {"none": "kinject/study-cpu@" + "a" * 40, "fact": "kinject/study-cpu@" + "b" * 40}
    (tmp_path / "report").mkdir()
    (tmp_path / "report" / "data.json").write_text(json.dumps({fingerprint(recipe): refs}), encoding="utf-8")

    class Published:
        def configs(self, ref):
            return ["none", "fact"]

    def rebuild(*args, **kwargs):
        raise AssertionError("a published corpus was rebuilt")

    monkeypatch.setattr(kinject.cards.registry, "open_registry", lambda cfg: Published())
    monkeypatch.setattr(kinject.pipelines.corpus, "run_corpus", rebuild)
    (tmp_path / "elsewhere").mkdir()
    assert build_data(recipe, tmp_path / "elsewhere") == refs
    assert json.loads((tmp_path / "elsewhere" / "data.json").read_text()) == {fingerprint(recipe): refs}


def test_findings_give_no_speed_ordering_when_no_method_reaches_85():
    from kinject.study_report import findings

    def stats(steps, final):
        return {"steps_to_85": steps, "final_accuracy": final, "peak": final, "peak_step": 200}

    never = {"none": stats(None, 0.05), "fact": stats(None, 0.09), "graph": stats(None, 0.04)}
    line = findings({"fig1": never})[0]
    assert "no method reaches 85 %" in line and "best first: fact, none, graph" in line
    assert findings({"fig1": never})[2].startswith("No augmentation peaks at 0.05 (step 200) and ends at 0.05 ")
    falling = {"none": {**stats(None, 0.3), "peak": 0.65, "peak_step": 500}}
    assert "peaks at 0.65 (step 500) then falls to 0.30 " in findings({"fig1": falling})[2]
    some = {"none": stats(None, 0.3), "fact": stats(200, 0.93), "graph": stats(250, 0.92)}
    assert findings({"fig1": some})[0].startswith("Fig. 1 ordering (fastest to 85 % first): fact < graph < none")


def test_an_ordering_is_a_finding_only_where_the_seed_bands_do_not_overlap():
    from kinject.study_report import findings, mean_curve, summary

    def run(*accuracies):
        return [{"step": 40 * i, "accuracy": a} for i, a in enumerate(accuracies)]

    fact = summary(mean_curve([run(0.05, 0.40, 0.50), run(0.05, 0.42, 0.46)]))
    graph = summary(mean_curve([run(0.05, 0.40, 0.47), run(0.05, 0.38, 0.44)]))
    none = summary(mean_curve([run(0.05, 0.30, 0.27), run(0.05, 0.25, 0.25)]))
    assert (fact["final_accuracy"], fact["final_min"], fact["final_max"], fact["seeds"]) == (0.48, 0.46, 0.50, 2)
    line = findings({"fig1": {"fact": fact, "graph": graph, "none": none}})[1]
    assert line.startswith("Fig. 1 final accuracy, mean (min–max over 2 seeds): fact 0.48 (0.46–0.50), ")
    assert "Beyond the seed bands: fact > none, graph > none; within them (not a finding): fact ≈ graph." in line
    one_seed = summary(mean_curve([run(0.05, 0.40, 0.50)]))
    alone = findings({"fig1": {"fact": one_seed, "none": summary(mean_curve([run(0.05, 0.1, 0.1)]))}})[1]
    assert "Beyond the seed bands: no pair;" in alone  # one seed resolves nothing ("none" is a method)
    mix = summary(mean_curve([run(0.05, 0.45, 0.55), run(0.05, 0.45, 0.53)]))
    beyond = findings({"beyond": {"fact": fact, "graph": graph, "fact + graph balanced": mix}})[0]
    assert "final 0.54 (0.53–0.55) vs 0.48 (0.46–0.50): the mix is ahead beyond the seed bands." in beyond
    close = findings({"beyond": {"fact": fact, "graph": graph, "fact + graph balanced": graph}})[0]
    assert close.endswith("within the seed bands of each other (not a finding).")
    assert beyond.startswith("Beyond: neither the balanced mix nor the best single method (fact) reaches 85 %")
    appc = {"32 random": fact, "32 lowest perplexity": graph, "32 highest perplexity": none}
    assert findings({"appC": appc})[0] == ("App. C final accuracy minus the random draw: 32 lowest perplexity -0.03 "
                                           "(within the seed bands), 32 highest perplexity -0.22 (beyond the seed "
                                           "bands).")
    assert findings({"fig2": {"fact: full corpus": fact, "D4 50 %": mix}})[0].endswith("+0.06 (beyond the seed bands).")


def test_mix_steps_to_85_against_the_best_single_method_in_words():
    from kinject.study_report import _steps_versus

    assert _steps_versus(160, 200, "fact").endswith("(fact) at 200: 20% fewer steps")
    assert _steps_versus(240, 200, "fact").endswith("(fact) at 200: 20% more steps")
    assert _steps_versus(160, None, "graph") == ("the balanced mix reaches 85 % at step 160, "
                                                  "the best single method (graph) never")
    assert _steps_versus(None, 200, "graph").endswith("reaches 85 % at step 200, the balanced mix never")


def test_budget_is_checked_only_when_this_invocation_trained_every_run(tmp_path):
    from types import SimpleNamespace

    from kinject.study_report import budget_line

    recipe = load_recipe(RECIPES / "study-cpu.yaml")
    jobs = [SimpleNamespace(run_dir=tmp_path / name) for name in ("a-s0", "b-s0")]
    fresh = {"total_minutes": 130.0, "data_minutes": 5.0, "run_minutes": {"a-s0": 60.0, "b-s0": 61.0}}
    assert "Budget 120 min: **exceeded**" in budget_line(recipe, jobs, fresh)
    resumed = {"total_minutes": 0.2, "data_minutes": 0.1, "run_minutes": {"a-s0": 0.1, "b-s0": 0.0}}
    line = budget_line(recipe, jobs, resumed)
    assert "1 of 2 runs were reused" in line and "budget is not checked" in line and "within" not in line


@pytest.mark.slow
@pytest.mark.timeout(2400)  # data, four training runs, resume and report: over 900 s on a loaded 2-core machine
def test_miniature_study_end_to_end(tmp_path, monkeypatch):
    from kinject.cards.registry import open_registry
    from kinject.study import run_study

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    path = tmp_path / "mini.yaml"
    path.write_text(MINIATURE.format(study_cpu=RECIPES / "study-cpu.yaml", root=tmp_path), encoding="utf-8")
    recipe = load_recipe(path)
    ref = run_study(recipe)

    report = tmp_path / "report"
    readme = (report / "README.md").read_text(encoding="utf-8")
    assert "| Fig. 1 fact: steps to 85 % | ≈200 |" in readme
    assert "## Exposure accounting" in readme and "| fact-n4 | 4 |" in readme
    exposure = {line.split(" | ")[0]: line for line in readme.splitlines() if line.startswith("| fact")}
    assert re.fullmatch(r".* \| [01]\.\d{3} \|", exposure["| fact"])  # a method corpus: its near-duplicate share
    assert exposure["| fact-n4"].endswith("| — |")  # a subset: not measured
    # the base's own held-out accuracy, read from its card
    assert len(re.findall(r"`kinject/tiny-base[^`]*` \(its held-out teaching accuracy [01]\.\d\d\)", readme)) == 2
    # every run measured its document recall, so the figure tables carry it beside the final accuracy
    assert "| final accuracy | document recall |" in readme
    assert re.search(r"\| fact \| .* \| [01]\.\d\d \| [01]\.\d\d \|$", readme, re.M)
    for png in ("fig1.png", "fig2.png", "appB.png", "appB-loss.png", "appA.png"):
        assert (report / png).read_bytes()[:4] == b"\x89PNG", png
    card = open_registry(recipe.registry).card_data(ref)
    runs = card["kinject"]["results"]
    # every condition on each base seed: the recipe's own base and `<base.repo>-s1`, each with its held-out accuracy
    assert set(runs) == {f"study-mini{b}-{c}-s0" for b in ("", "-b1")
                         for c in ("none", "fact", "fact-ppl-bottom50", "fact-n4")}
    assert {r["recipe"]["train"]["base"].split("@")[0] for r in runs.values()} == {
        recipe.base.repo, f"{recipe.base.repo}-s1"}
    assert "## Per base" in readme and "over 2 runs: 2 bases × 1 training seed" in readme
    assert all({p["step"] for p in r["curve"]} == {0, 3, 6} for r in runs.values())
    assert "study/README.md" in open_registry(recipe.registry).list_files(ref)

    # resumable: a second study reuses the published data and every finished run
    before = {p: p.stat().st_mtime for p in (tmp_path / "runs").glob("*/curve.jsonl")}
    run_study(recipe, publish=False)
    assert {p: p.stat().st_mtime for p in before} == before
    assert len(json.loads((report / "data.json").read_text())) == 1
