"""The study's report folder: one PNG per figure, and ``README.md`` with each paper number beside ours.

Everything here is read back from the run folders (``curve.jsonl``) and the published data, so the report can
be redrawn from a finished study without training again. Seeds are averaged point by point.
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence

from kinject.cards.refs import DatasetRef
from kinject.recipes.schema import Recipe

FIGURES = {
    "fig1": "Fig. 1: accuracy vs steps per augmentation method",
    "fig2": "Fig. 2: perplexity / D4 selection vs the full corpus",
    "appB": "App. B: samples per document",
    "appC": "App. C: few samples per document, selected",
    "beyond": "Beyond the paper: exposure-balanced mix",
}

# The paper's results (Kadoya & Kawagoshi 2025): 1,000 steps, 1,000 samples per document, an 8 B model.
PAPER_STEPS_TO_85 = {"rephrase": "≈650", "graph": "≈250", "fact": "≈200", "none": "never (peak ≈0.65)"}
PAPER_FINAL = {
    "rephrase": "<0.90", "graph": "≈0.92", "fact": ">0.93", "none": "≈0.30 (after a ≈0.65 peak at ≈500)"
}


def mean_curve(curves: Sequence[Sequence[Mapping]]) -> list[dict]:
    """Point-by-point mean over seeds (steps all seeds share); per-category and loss averaged too."""
    curves = [c for c in curves if c]
    if not curves:
        return []
    steps = sorted(set.intersection(*({p["step"] for p in c} for c in curves)))
    out = []
    for step in steps:
        points = [next(p for p in c if p["step"] == step) for c in curves]
        cats = sorted({k for p in points for k in (p.get("per_category") or {})})
        losses = [p["train_loss"] for p in points if p.get("train_loss") is not None]
        out.append({
            "step": step,
            "accuracy": sum(p["accuracy"] for p in points) / len(points),
            "accuracy_min": min(p["accuracy"] for p in points),  # the seed band Fig. 1 draws and findings read
            "accuracy_max": max(p["accuracy"] for p in points),
            "seeds": len(points),
            "per_category": {c: sum((p.get("per_category") or {}).get(c, 0.0) for p in points) / len(points)
                             for c in cats},
            "train_loss": sum(losses) / len(losses) if losses else None,
        })
    return out


def summary(curve: Sequence[Mapping]) -> dict:
    from kinject.trainers.curves import summarize

    s = summarize(curve)
    if curve:
        peak = max(curve, key=lambda p: (p["accuracy"], -p["step"]))
        last = max(curve, key=lambda p: p["step"])
        s.update(peak=peak["accuracy"], peak_step=peak["step"], seeds=last.get("seeds", 1),
                 final_min=last.get("accuracy_min", last["accuracy"]), final_max=last.get("accuracy_max", last["accuracy"]))
    return s


def mean_recall(summaries: Sequence[Mapping | None]) -> float | None:
    """The mean document recall of a condition's runs; ``None`` unless every run measured it."""
    values = [s.get("recall") if s else None for s in summaries]
    return sum(values) / len(values) if values and None not in values else None


def separated(stats: Mapping[str, dict]) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """Pairs (better, worse) whose final min–max bands over seeds do not overlap, and pairs whose bands do: only
    the first are findings (with one seed every band is a point, so nothing is called resolved)."""
    resolved, unresolved = [], []
    names = sorted(stats, key=lambda m: -(stats[m]["final_accuracy"] or 0))
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            one_seed = min(stats[a].get("seeds", 1), stats[b].get("seeds", 1)) < 2
            apart = (stats[a].get("final_min", stats[a]["final_accuracy"]) or 0) > (
                stats[b].get("final_max", stats[b]["final_accuracy"]) or 0)
            (resolved if apart and not one_seed else unresolved).append((a, b))
    return resolved, unresolved


def _fmt(value, digits: int = 2) -> str:
    if value is None:
        return "never"
    return f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def _plot_loss(curves: Mapping[str, Sequence[Mapping]], path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    for label, curve in curves.items():
        points = [p for p in curve if p.get("train_loss") is not None]
        ax.plot([p["step"] for p in points], [p["train_loss"] for p in points], marker="o", markersize=3, label=label)
    ax.set_xlabel("steps (exposures per document)")
    ax.set_ylabel("training loss")
    ax.set_title("App. B: training loss by samples per document")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def _plot_categories(finals: Mapping[str, Mapping[str, float]], path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    categories = sorted({c for per in finals.values() for c in per})
    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    width = 0.8 / max(len(finals), 1)
    for i, (method, per) in enumerate(finals.items()):
        xs = [j + i * width for j in range(len(categories))]
        ax.bar(xs, [per.get(c, 0.0) for c in categories], width=width, label=method)
    ax.set_xticks([j + 0.4 - width / 2 for j in range(len(categories))], categories)
    ax.set_ylabel("final QA accuracy")
    ax.set_ylim(0, 1.02)
    ax.set_title("App. A: accuracy per category per method")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def exposure_table(recipe: Recipe, refs: Mapping[str, str]) -> list[dict]:
    """Per config: samples per document, per-fact exposures (distinct samples, and over the whole run) and, for
    each method's full corpus, its near-duplicate share (D4's MinHash at its threshold, within each document)."""
    from kinject.cards.registry import open_registry
    from kinject.pipelines.mix import exposure_stats
    from kinject.pipelines.selection.minhash import near_duplicate_share

    registry = open_registry(recipe.registry)
    rows = []
    seeds_cache: dict[str, list] = {}
    for config, text in refs.items():
        ref = DatasetRef.parse(text)
        if ref.revision not in seeds_cache:
            seeds = registry.load(ref, "seeds").to_list()
            seeds_cache[ref.revision] = [(s["doc_id"], f["key"]) for s in seeds for f in s["facts"]]
        keys = seeds_cache[ref.revision]
        table = registry.load(ref, config)
        data = table.select_columns(["doc_id", "facts_present"]).to_list()
        per_doc = len(data) / max(len({r["doc_id"] for r in data}), 1)
        stats = exposure_stats(data, keys)
        repeat = recipe.train.steps / per_doc  # the clock cycles a document's samples when they run out
        near_dup = (near_duplicate_share(table["text"], table["doc_id"], recipe.selection.d4)
                    if config in recipe.study.methods else None)
        rows.append({"config": config, "samples_per_doc": per_doc, **stats,
                     "run_mean": stats["mean"] * repeat, "run_min": stats["min"] * repeat, "near_dup": near_dup})
    return rows


def _paper_rows(recipe: Recipe, by_fig: Mapping[str, Mapping[str, dict]]) -> list[tuple[str, str, str]]:
    steps = recipe.train.steps
    fig1 = by_fig.get("fig1", {})
    rows = []
    for method in ("rephrase", "graph", "fact", "none"):
        if method in fig1:
            s = fig1[method]
            rows.append((f"Fig. 1 {method}: steps to 85 %", PAPER_STEPS_TO_85[method], _fmt(s["steps_to_85"])))
    for method in ("rephrase", "graph", "fact", "none"):
        if method in fig1:
            s = fig1[method]
            ours = f"{_fmt(s['final_accuracy'])} at {steps} (peak {_fmt(s['peak'])} at {s['peak_step']})"
            rows.append((f"Fig. 1 {method}: final accuracy", PAPER_FINAL[method] + " at 1,000", ours))
    if fig2 := by_fig.get("fig2"):
        ours = "; ".join(f"{k}: {_fmt(v['steps_to_85'])} / {_fmt(v['final_accuracy'])}" for k, v in fig2.items())
        rows.append(("Fig. 2: ppl top/bottom 50 %, D4 50 % vs full (steps to 85 % / final)", "change little", ours))
    if appb := by_fig.get("appB"):
        ours = "; ".join(f"{k}: 90 % at {_fmt(v['steps_to_90'])}" for k, v in appb.items())
        rows.append(("App. B: samples per document", "≥200 reach 90 % within 600 steps; ≤150 never", ours))
    if appc := by_fig.get("appC"):
        ours = "; ".join(f"{k}: {_fmt(v['final_accuracy'])}" for k, v in appc.items())
        rows.append(("App. C: 100 samples/doc selected (final accuracy)",
                     "low ppl helps; high ppl and D4 hurt", ours))
    if fig1:
        cats = sorted({c for s in fig1.values() for c in s["per_category"]})
        best = {c: max((m for m in fig1 if m != "none"), key=lambda m: fig1[m]["per_category"].get(c, 0.0))
                for c in cats}
        rows.append(("App. A: best method per category", "graph on product, fact elsewhere",
                     "; ".join(f"{c}: {m}" for c, m in best.items())))
    if beyond := by_fig.get("beyond"):
        ours = "; ".join(f"{k}: {_fmt(v['steps_to_85'])}" for k, v in beyond.items())
        rows.append(("Beyond: balanced mix vs single methods (steps to 85 %)", "not in the paper", ours))
    return rows


def _order(stats: Mapping[str, dict]) -> list[str]:
    """Fastest first: by steps to 85 % (never last), then by final accuracy."""
    return sorted(stats, key=lambda m: (stats[m]["steps_to_85"] is None, stats[m]["steps_to_85"] or 0,
                                        -(stats[m]["final_accuracy"] or 0)))


def findings(by_fig: Mapping[str, Mapping[str, dict]], bases: int = 1) -> list[str]:
    """Plain sentences computed from the numbers; the interpretation is in the repository README. With several
    ``bases`` a condition's band spans every (base, training seed) run."""
    out = []
    if fig1 := by_fig.get("fig1"):
        order = _order(fig1)
        paper = [m for m in ("fact", "graph", "rephrase", "none") if m in fig1]
        same = "the same as" if order == paper else "different from"
        if all(fig1[m]["steps_to_85"] is None for m in fig1):
            out.append(f"Fig. 1: no method reaches 85 %, so there is no speed ordering; by final accuracy, best "
                       f"first: {', '.join(order)} — {same} the paper's order (fastest first): {', '.join(paper)}.")
        else:
            out.append(f"Fig. 1 ordering (fastest to 85 % first): {' < '.join(order)} — {same} the paper's "
                       f"{' < '.join(paper)}.")
        resolved, unresolved = separated(fig1)
        seeds = min(v.get("seeds", 1) for v in fig1.values())
        bands = ", ".join(f"{m} {_fmt(v['final_accuracy'])} ({_fmt(v.get('final_min', v['final_accuracy']))}–"
                          f"{_fmt(v.get('final_max', v['final_accuracy']))})"
                          for m, v in sorted(fig1.items(), key=lambda kv: -(kv[1]["final_accuracy"] or 0)))
        over = (f"{seeds} runs: {bases} bases × {seeds // bases} training seed{'s' if seeds > bases else ''}"
                if bases > 1 else f"{seeds} seed{'s' if seeds > 1 else ''}")
        out.append(f"Fig. 1 final accuracy, mean (min–max over {over}): {bands}. "
                   f"Beyond the seed bands: {', '.join(f'{a} > {b}' for a, b in resolved) or 'no pair'}; within "
                   f"them (not a finding): {', '.join(f'{a} ≈ {b}' for a, b in unresolved) or 'no pair'}.")
        if "none" in fig1:
            s = fig1["none"]
            falls = "then falls to" if s["final_accuracy"] < s["peak"] - 0.05 else "and ends at"
            out.append(f"No augmentation peaks at {_fmt(s['peak'])} (step {s['peak_step']}) {falls} "
                       f"{_fmt(s['final_accuracy'])} (paper: ≈0.65 then ≈0.30).")
    if fig2 := by_fig.get("fig2"):
        out.append(_against_first("Fig. 2 final accuracy minus the full corpus", fig2))
    if appb := by_fig.get("appB"):
        reach = [k for k, v in appb.items() if v["steps_to_90"] is not None]
        out.append(f"App. B: reaching 90 %: {', '.join(reach) or 'none'}; not reaching: "
                   f"{', '.join(k for k in appb if k not in reach) or 'none'}.")
    if appc := by_fig.get("appC"):
        out.append(_against_first("App. C final accuracy minus the random draw", appc))
    if beyond := by_fig.get("beyond"):
        *singles, mix = beyond
        best = _order({k: beyond[k] for k in singles})[0]
        m, b = beyond[mix], beyond[best]
        resolved, _ = separated({mix: m, best: b})
        verdict = (f"the {'mix' if resolved[0][0] == mix else best} is ahead beyond the seed bands" if resolved
                   else "within the seed bands of each other (not a finding)")
        out.append(f"Beyond: {_steps_versus(m['steps_to_85'], b['steps_to_85'], best)}; final "
                   f"{_fmt(m['final_accuracy'])} ({_fmt(m['final_min'])}–{_fmt(m['final_max'])}) vs "
                   f"{_fmt(b['final_accuracy'])} ({_fmt(b['final_min'])}–{_fmt(b['final_max'])}): {verdict}.")
    return out


def _against_first(what: str, stats: Mapping[str, dict]) -> str:
    """Each condition's final accuracy minus the first condition's, and whether their seed bands separate them."""
    (first, reference), *rest = stats.items()
    gaps = []
    for name, s in rest:
        resolved, _ = separated({name: s, first: reference})
        gaps.append(f"{name} {s['final_accuracy'] - reference['final_accuracy']:+.2f} "
                    f"({'beyond' if resolved else 'within'} the seed bands)")
    return f"{what}: {', '.join(gaps)}."


def _steps_versus(mix: float | None, best: float | None, best_name: str) -> str:
    """Steps to 85 % of the mix against the best single method, in words (the goal: 20 % fewer)."""
    if mix is None and best is None:
        return f"neither the balanced mix nor the best single method ({best_name}) reaches 85 %, so no step count"
    if best is None:
        return f"the balanced mix reaches 85 % at step {_fmt(mix)}, the best single method ({best_name}) never"
    if mix is None:
        return f"the best single method ({best_name}) reaches 85 % at step {_fmt(best)}, the balanced mix never"
    return (f"the balanced mix reaches 85 % at step {_fmt(mix)}, the best single method ({best_name}) at "
            f"{_fmt(best)}: {abs(1 - mix / best):.0%} {'fewer' if mix <= best else 'more'} steps")


def _figure_table(stats: Mapping[str, dict]) -> str:
    recall = any(s.get("recall") is not None for s in stats.values())
    lines = ["| condition | steps to 85 % | steps to 90 % | peak (step) | final accuracy |"
             + (" document recall |" if recall else ""),
             "|---|---|---|---|---|" + ("---|" if recall else "")]
    for label, s in stats.items():
        lines.append(f"| {label} | {_fmt(s['steps_to_85'])} | {_fmt(s['steps_to_90'])} | "
                     f"{_fmt(s.get('peak'))} ({s.get('peak_step', '—')}) | {_fmt(s['final_accuracy'])} |"
                     + (f" {_fmt(s.get('recall'))} |" if recall else ""))
    if recall:
        lines += ["", "Document recall: the share of facts the final model writes when it continues its document's own "
                  "text cut just before the value (mean over seeds). Recall far above accuracy means the facts are "
                  "stored but not extracted for the entity a question names."]
    return "\n".join(lines) + "\n"


def _base_heldout(recipe: Recipe, base: str) -> float | None:
    """A base's own held-out teaching accuracy, from its card: the answering skill CPT starts from."""
    from kinject.cards.registry import open_registry
    from kinject.trainers.base import read_base_card

    model_dir = open_registry(recipe.registry).model_dir(DatasetRef.parse(base))
    return read_base_card(model_dir).get("heldout_accuracy")


def _bases_text(recipe: Recipe, bases: Sequence[str]) -> str:
    """The base(s) the runs continued from, each with its held-out teaching accuracy."""
    def one(base: str) -> str:
        accuracy = _base_heldout(recipe, base)
        return f"`{base}`" + ("" if accuracy is None else f" (its held-out teaching accuracy {accuracy:.2f})")

    if len(bases) == 1:
        return f"the tiny base {one(bases[0])}"
    return (f"{len(bases)} tiny bases of one recipe, base seeds {recipe.study.base_seeds} "
            f"({'; '.join(map(one, bases))}), each")


def _job_bases(jobs) -> list[str]:
    """The distinct bases the jobs continue from, in plan order (none without ``train.model: base``)."""
    return list(dict.fromkeys(base for job in jobs if (base := getattr(job, "base", None))))


def per_base_table(jobs, conditions) -> str:
    """Final accuracy of each Fig. 1 and beyond condition on each base (mean over training seeds): the base's own
    share of the spread the pooled bands show."""
    from kinject.trainers.curves import read_curve

    bases = _job_bases(jobs)
    configs = list(dict.fromkeys(c.config for c in conditions if c.figure in ("fig1", "beyond")))
    finals: dict[tuple[str, str], list[float]] = {}
    for job in jobs:
        curve = read_curve(job.run_dir / "curve.jsonl")
        if curve and job.config in configs:
            finals.setdefault((job.config, job.base), []).append(max(curve, key=lambda p: p["step"])["accuracy"])
    short = [f"{b.split('@')[0]}@{b.split('@')[1][:7]}" if "@" in b else b for b in bases]
    lines = ["| condition | " + " | ".join(f"`{b}`" for b in short) + " |", "|---" * (len(bases) + 1) + "|"]
    for config in configs:
        cells = [finals.get((config, b)) for b in bases]
        lines.append(f"| {config} | " + " | ".join("—" if not v else f"{sum(v) / len(v):.3f}" for v in cells) + " |")
    return "\n".join(lines) + "\n"


def _example_document(recipe: Recipe, refs: Mapping[str, str]) -> str:
    from kinject.cards.registry import open_registry

    seeds = open_registry(recipe.registry).load(DatasetRef.parse(next(iter(refs.values()))), "seeds").to_list()
    doc = next((s for s in seeds if s["category"] == "product"), seeds[0])
    qa = doc["questions"][0]
    return f"{doc['text']}\n\nQ: {qa['question']} → {qa['answer']}"


def budget_line(recipe: Recipe, jobs, timing: Mapping) -> str:
    """Wall time and the budget verdict; a resumed study reused runs whose time this invocation did not see."""
    study = recipe.study
    reused = sum(not timing["run_minutes"].get(job.run_dir.name) for job in jobs)  # 0: skipped as done
    base = ""
    if recipe.train.model == "base":
        built = timing.get("base_minutes") or 0
        bases = _job_bases(jobs) or [recipe.train.base]
        base = (f"the tiny base{'s' if len(bases) > 1 else ''} {', '.join(map(str, bases))} "
                + (f"built in {built:.1f} min" if built else "reused") + "; ")
    line = (f"Wall time of this invocation {timing['total_minutes']:.1f} min (data {timing['data_minutes']:.1f} min; "
            f"{base}{len(jobs)} training runs, {study.workers} at a time, {study.threads_per_worker} thread(s) each).")
    if reused:
        return (line + f" {reused} of {len(jobs)} runs were reused from an earlier invocation, so the study's whole "
                f"wall time is not measured here and the {study.budget_minutes:g} min budget is not checked.")
    within = timing["total_minutes"] <= study.budget_minutes
    return line + f" Budget {study.budget_minutes:g} min: {'within' if within else '**exceeded**'}."


def write_report(recipe: Recipe, conditions, jobs, refs: Mapping[str, str], timing: Mapping, out: Path) -> list[Path]:
    """Draw every figure and write ``README.md``; returns the files written (what the study publishes)."""
    from kinject.trainers.curves import plot_curves, read_curve
    from kinject.trainers.recall import read_recall

    by_config: dict[str, list] = {}
    recalls: dict[str, list] = {}
    for job in jobs:
        by_config.setdefault(job.config, []).append(read_curve(job.run_dir / "curve.jsonl"))
        recalls.setdefault(job.config, []).append(read_recall(job.run_dir))
    curves: dict[str, dict[str, list]] = {}
    for cond in conditions:
        curves.setdefault(cond.figure, {})[cond.label] = mean_curve(by_config.get(cond.config, []))
    by_fig = {fig: {label: summary(c) for label, c in group.items()} for fig, group in curves.items()}
    for cond in conditions:
        by_fig[cond.figure][cond.label]["recall"] = mean_recall(recalls.get(cond.config, []))
    files = []
    for fig, group in curves.items():
        files.append(plot_curves(group, out / f"{fig}.png", title=FIGURES[fig]))
    if "appB" in curves:
        files.append(_plot_loss(curves["appB"], out / "appB-loss.png"))
    if "fig1" in by_fig:
        finals = {m: s["per_category"] for m, s in by_fig["fig1"].items()}
        files.append(_plot_categories(finals, out / "appA.png"))

    r, t = recipe, recipe.train
    bases = _job_bases(jobs)
    n_docs = r.seeds.per_category * len(r.seeds.categories)
    source = r.source or f"recipes/{r.name}.yaml"
    if t.model == "base":
        b = r.base
        model = (f"model: {_bases_text(r, bases)} (hidden {b.tiny.hidden_size}, {b.tiny.num_layers} layers, "
                 f"{b.vocab_size}-token BPE), pretrained {b.steps} steps on a teaching world of "
                 f"{b.teaching.per_category * len(r.seeds.categories)} fictional documents sharing no name and no "
                 f"identifying value with the target set, continued {t.steps} steps at lr "
                 f"{t.learning_rate:g} (warm-up {t.warmup_ratio:g}, cosine) with {t.replay.per_step} teaching "
                 f"sequences replayed per step ({t.replay.qa_share:.0%} QA); no target QA is trained; accuracy on "
                 f"all {n_docs} documents' questions every {r.eval.every_steps} steps")
    else:
        model = (f"model `{t.model}` (hidden {t.tiny.hidden_size}, {t.tiny.num_layers} layers, {t.tiny.num_heads} "
                 f"heads) trained {t.steps} steps at lr {t.learning_rate:g} (warm-up {t.warmup_ratio:g}, cosine); "
                 f"mixed training: QA of {t.qa_mix.train_fraction:.0%} of the documents in every step, accuracy on "
                 f"the held-out documents' questions every {r.eval.every_steps} steps")
    lines = [
        f"# Study `{r.name}`: the paper's figures at this scale\n",
        f"Made by `kinject study --recipe {source}` (`make study`). {budget_line(r, jobs, timing)}\n",
        f"Scale: {n_docs} fictional {r.seeds.lang} documents ({r.seeds.per_category} per category × "
        f"{len(r.seeds.categories)}), {r.seeds.questions_per_doc} questions each; generator `{r.generator.backend}`; "
        f"{r.corpus.samples_per_doc} samples per document; {model}, judged by "
        f"`{r.judge.kind}`; "
        + (f"training seeds {r.study.seeds} on each base (curves are the mean of every base and seed, bands their "
           "min–max)" if len(bases) > 1 else f"seeds {r.study.seeds} (curves are their mean)")
        + ". Paper: 50 documents, 1,000 samples, "
        "1,000 steps, Llama-3-ELYZA-JP-8B, GPT-4o judge.\n",
        "Documents: one template per category; the subject's full name appears only in the first sentence, later "
        "sentences use an anaphor (「同製品」「同社」…); questions always name the subject. Example:\n",
        "```\n" + _example_document(recipe, refs) + "\n```\n",
        "## The paper's numbers beside ours\n",
        f"Steps are exposures per document (one sample of every document per step); ours stop at {t.steps}.\n",
        "| result | paper | ours |", "|---|---|---|",
        *[f"| {a} | {b} | {c} |" for a, b, c in _paper_rows(recipe, by_fig)],
        "", "## Findings (computed)\n", *[f"- {line}" for line in findings(by_fig, max(len(bases), 1))], "",
    ]
    if len(bases) > 1:
        lines += ["## Per base\n", "Final accuracy on each base, mean over training seeds: how much of each band "
                  "is the base's draw.\n", per_base_table(jobs, conditions)]
    for fig, title in FIGURES.items():
        if fig in by_fig:
            lines += [f"## {title}\n", f"![{fig}]({fig}.png)\n", _figure_table(by_fig[fig])]
            if fig == "appB":
                lines.append("![appB loss](appB-loss.png)\n")
            if fig == "fig1":
                lines += ["### App. A: accuracy per category (final point of the Fig. 1 runs)\n", "![appA](appA.png)\n"]
                cats = sorted({c for s in by_fig[fig].values() for c in s["per_category"]})
                lines += ["| method | " + " | ".join(cats) + " |", "|---" * (len(cats) + 1) + "|"]
                lines += [f"| {m} | " + " | ".join(_fmt(s["per_category"].get(c)) for c in cats) + " |"
                          for m, s in by_fig[fig].items()]
                lines.append("")
    lines += ["## Exposure accounting\n",
              "Per fact of every document: how many distinct samples state it (min / mean / max), and the mean and "
              f"minimum exposures over the {t.steps} steps (samples are cycled when a document runs out). Variety: "
              "the share of each method corpus's rows that have a near-duplicate earlier in their document "
              f"(MinHash, Jaccard ≥ {recipe.selection.d4.minhash_threshold:g}, the D4 threshold); lower is more "
              "varied.\n",
              "| config | samples/doc | min | mean | max | run mean | run min | near-duplicate share |",
              "|---|---|---|---|---|---|---|---|"]
    for row in exposure_table(recipe, refs):
        lines.append(f"| {row['config']} | {row['samples_per_doc']:g} | {row['min']} | {row['mean']:g} | {row['max']} "
                     f"| {row['run_mean']:.0f} | {row['run_min']:.0f} | {'—' if row['near_dup'] is None else format(row['near_dup'], '.3f')} |")
    lines += ["", "## Runs\n", "| run | data | config | minutes (0: reused) |", "|---|---|---|---|"]
    for job in jobs:
        minutes = timing["run_minutes"].get(job.run_dir.name, 0.0)
        lines.append(f"| {job.run_dir.name} | `{job.data}` | {job.config} | {minutes:.1f} |")
    readme = out / "README.md"
    readme.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return [readme, *files]
