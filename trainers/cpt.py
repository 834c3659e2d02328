"""Continual pretraining with TRL on a corpus revision, on the paper's step clock.

``run_train(recipe, data, config)`` loads ``config`` (and ``seeds``) at exactly ``data``'s revision, lays out
the training stream with ``clock.build_stream``, trains a causal LM on its ``text`` column with TRL's
``SFTTrainer`` (plain language modelling: no completion-only loss), evaluates every ``eval.every_steps`` steps
and publishes the results into the dataset card as a new revision.

Mapping of the clock onto the optimizer: one optimizer step is one clock step. Micro-batches of at most
``train.batch_size`` sequences accumulate gradients over the whole step (the micro-batch is the largest size
that divides the step's sequences evenly across processes, so accumulation always closes on a step boundary and
``max_steps == train.steps``). The learning rate then follows the paper: warm-up, then a cosine that would reach 0
at ``schedule_horizon_steps`` (paper: 100,000), however early the run stops.

No packing: TRL packs across the whole dataset, which would mix steps and put QA pairs in one context with the
corpus text that answers them; each sequence is padded on its own.

Multi-GPU: ``accelerate launch -m kinject train --recipe …`` runs the same recipe; every process builds the
same stream, the sampler shards it by micro-batch, and only the main process evaluates, writes and publishes.

Run directory ``<train.output_dir>/<recipe>-<config>-s<seed>/``: ``model/`` (weights, tokenizer, model card
naming the dataset revision), ``curve.jsonl``, ``curve.png``, ``answers.jsonl``, ``results.md``,
``recipe.yaml``, ``run.json`` and ``recall.json`` (the final model's document recall: ``trainers/recall.py``).
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from torch.utils.data import SequentialSampler
from trl import SFTTrainer

from kinject.cards.refs import DatasetRef
from kinject.errors import KinjectUserError
from kinject.recipes.schema import Recipe, recipe_to_yaml
from kinject.trainers.clock import Replay, build_stream, qa_pairs, qa_text, sequences_per_step, split_documents
from kinject.trainers.curves import run_name

TINY_MODELS = ("tiny", "base")  # built by kinject, trained on one CPU thread, evaluated with the QA prompt


class ClockSFTTrainer(SFTTrainer):
    """``SFTTrainer`` that keeps the clock's order and decays the learning rate over the schedule horizon.

    Trainer shuffles the training set (RandomSampler); the stream is already in the paper's order — step by step,
    each document's next unused sample — so the sampler is sequential (distributed runs shard it by batch).
    Trainer's cosine ends at ``max_steps``; the paper's reaches 0 only at ``schedule_horizon_steps``.
    """

    def __init__(self, *args, schedule_horizon_steps: int, **kwargs) -> None:
        self.schedule_horizon_steps = schedule_horizon_steps
        super().__init__(*args, **kwargs)

    def _get_train_sampler(self, train_dataset=None):
        return SequentialSampler(train_dataset if train_dataset is not None else self.train_dataset)

    def create_scheduler(self, num_training_steps: int, optimizer=None):
        return super().create_scheduler(self.schedule_horizon_steps, optimizer)


@dataclass
class TrainPlan:
    """Everything decided from the recipe and the data before a model is loaded."""

    run_name: str
    protocol: str
    train_docs: list[str]
    heldout_docs: list[str]
    eval_questions: list[dict]
    texts: list[str]
    seqs_per_step: int
    micro_batch: int
    accumulation: int
    fact_exposures: list[float | None] = field(default_factory=list)  # index: step


def resolve_protocol(recipe: Recipe) -> str:
    if recipe.eval.protocol != "auto":
        return recipe.eval.protocol
    return {"tiny": "mixed", "base": "base"}.get(recipe.train.model, "instruct")


def batch_geometry(seqs_per_step: int, batch_size: int, world_size: int = 1) -> tuple[int, int]:
    """(micro-batch, accumulation steps) so that micro × accumulation × world == the step's sequences."""
    for micro in range(min(batch_size, seqs_per_step), 0, -1):
        if seqs_per_step % (micro * world_size) == 0:
            return micro, seqs_per_step // (micro * world_size)
    raise KinjectUserError(
        f"train: a step has {seqs_per_step} sequences, which {world_size} processes cannot share evenly; "
        "change train.qa_mix.qa_per_step or the number of processes"
    )


def plan_run(
    recipe: Recipe, corpus_rows: Sequence[dict], seed_rows: Sequence[dict], config: str, replay: Replay | None = None
) -> TrainPlan:
    """Split documents, lay out the stream and the batch geometry; raises ``KinjectUserError`` on bad input."""
    from accelerate import PartialState

    train = recipe.train
    protocol = resolve_protocol(recipe)
    seed_ids = [str(r["doc_id"]) for r in seed_rows]
    corpus_ids = {str(r["doc_id"]) for r in corpus_rows}
    if unknown := sorted(corpus_ids - set(seed_ids)):
        raise KinjectUserError(f"config {config!r} has rows of documents not in seeds: {unknown[:5]}")
    if protocol == "mixed":
        train_docs, heldout_docs = split_documents(seed_rows, train.qa_mix.train_fraction, train.seed)
        train_qa, eval_questions = qa_pairs(seed_rows, train_docs), qa_pairs(seed_rows, heldout_docs)
        qa_per_step = train.qa_mix.qa_per_step
    else:  # instruct or base: no QA is trained, every document's questions are asked
        train_docs, heldout_docs = seed_ids, []
        train_qa, eval_questions, qa_per_step = [], qa_pairs(seed_rows, seed_ids), None
    if not eval_questions:
        raise KinjectUserError(f"seeds: no questions to evaluate (protocol {protocol!r})")
    stream = list(build_stream(corpus_rows, train.steps, train.seed, train_qa, qa_per_step, replay))
    n_docs = len({r["doc_id"] for r in stream if r["step"] == 1 and r["kind"] == "corpus"})
    seqs = sequences_per_step(n_docs, len(train_qa), qa_per_step, replay.per_step if replay else 0)
    micro, accumulation = batch_geometry(seqs, train.batch_size, PartialState().num_processes)
    return TrainPlan(
        run_name=run_name(recipe, config),
        protocol=protocol,
        train_docs=train_docs,
        heldout_docs=heldout_docs,
        eval_questions=eval_questions,
        texts=_length_sorted_steps(stream),
        seqs_per_step=seqs,
        micro_batch=micro,
        accumulation=accumulation,
        fact_exposures=_fact_exposures(stream, seed_rows, heldout_docs or train_docs, train.steps),
    )


def _length_sorted_steps(stream: Sequence[dict]) -> list[str]:
    """The stream's texts with each step's sequences sorted by length: a micro-batch then pads little, and the
    optimizer step, which accumulates the whole step, sees the same sequences."""
    by_step: dict[int, list[str]] = {}
    for row in stream:
        by_step.setdefault(row["step"], []).append(row["text"])
    return [text for step in sorted(by_step) for text in sorted(by_step[step], key=len)]


def _fact_exposures(stream, seed_rows, doc_ids, steps: int) -> list[float | None]:
    """Mean times each fact of the evaluated documents was stated in corpus text, after each step."""
    wanted = set(doc_ids)
    n_facts = sum(len(r.get("facts") or []) for r in seed_rows if str(r["doc_id"]) in wanted)
    if not n_facts or all(r["facts_present"] is None for r in stream):
        return [None] * (steps + 1)
    per_step = [0] * (steps + 1)
    for row in stream:
        if row["kind"] == "corpus" and row["doc_id"] in wanted:
            per_step[row["step"]] += len(row.get("facts_present") or [])
    total, out = 0, []
    for count in per_step:
        total += count
        out.append(total / n_facts)
    return out


def clock_sft_config(run_dir: Path, weight_decay: float = 0.0, **fields):
    """TRL's ``SFTConfig`` for training on a prepared stream of texts: plain language modelling, no packing, no
    shuffling or checkpoints of its own, no weight decay unless asked; ``fields`` give the run's steps, batch
    geometry, learning rate and seed."""
    from trl import SFTConfig

    return SFTConfig(
        output_dir=str(run_dir / "trainer"),
        lr_scheduler_type="cosine",
        weight_decay=weight_decay,
        save_strategy="no",
        report_to="none",
        packing=False,
        dataset_text_field="text",
        completion_only_loss=False,
        dataloader_num_workers=0,
        **fields,
    )


def sft_config(recipe: Recipe, plan: TrainPlan, run_dir: Path):
    """TRL's ``SFTConfig`` from the recipe: built before any model loads, so a bad value fails early."""
    import torch

    train = recipe.train
    use_bf16 = train.model not in TINY_MODELS and torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    return clock_sft_config(
        run_dir,
        max_steps=train.steps,
        per_device_train_batch_size=plan.micro_batch,
        gradient_accumulation_steps=plan.accumulation,
        learning_rate=train.learning_rate,
        warmup_steps=round(train.warmup_ratio * train.steps),
        seed=train.seed,
        data_seed=train.seed,
        bf16=use_bf16,
        activation_checkpointing=train.gradient_checkpointing,  # transformers 5.x name; gradient_* is deprecated
        logging_steps=recipe.eval.every_steps,
        max_length=train.max_length,
    )


def run_train(recipe: Recipe, data: DatasetRef | None = None, config: str = "graph") -> tuple[Path, DatasetRef]:
    """Train on ``config`` of ``data`` (default ``registry.repo@main``), evaluate, publish; (run dir, new card ref)."""
    from kinject.cards.registry import open_registry
    from kinject.cards.seed_set import check_train_seeds
    from kinject.trainers.judges import make_judge
    from kinject.trainers.results import publish_results

    registry = open_registry(recipe.registry)
    ref = data or DatasetRef(repo_id=recipe.registry.repo, revision="main")
    pinned = DatasetRef(repo_id=ref.repo_id, revision=registry.resolve(ref))
    configs = registry.configs(pinned)
    for needed in (config, "seeds"):
        if needed not in configs:
            raise KinjectUserError(
                f"{ref} has no config {needed!r} (has: {', '.join(configs) or 'none'}); "
                f"was `make corpus METHOD={config}` run?"
            )
    check_train_seeds(str(pinned), registry.card_data(pinned), config)
    corpus_rows = registry.load(pinned, config).to_list()
    seed_rows = registry.load(pinned, "seeds").to_list()
    judge = make_judge(recipe.judge)
    run_dir = train_on_rows(recipe, corpus_rows, seed_rows, config, pinned, judge)
    from accelerate import PartialState

    if not PartialState().is_main_process:
        return run_dir, pinned
    return run_dir, publish_results(recipe, pinned, run_dir)


def train_on_rows(
    recipe: Recipe, corpus_rows: Sequence[dict], seed_rows: Sequence[dict], config: str, data: DatasetRef, judge
) -> Path:
    """Plan, build the model, train with evaluation; returns the run directory (nothing published)."""
    import torch
    from accelerate import PartialState
    from transformers import set_seed

    train = recipe.train
    base = load_base(recipe) if train.model == "base" else None
    if base is not None:
        check_base_disjoint(base, seed_rows)
    plan = plan_run(recipe, corpus_rows, seed_rows, config, base.replay if base else None)
    run_dir = Path(train.output_dir) / plan.run_name
    args = sft_config(recipe, plan, run_dir)  # fails here, before a model is loaded
    state = PartialState()
    if state.is_main_process:
        shutil.rmtree(run_dir, ignore_errors=True)  # a rerun replaces the run: the curve is appended to
        run_dir.mkdir(parents=True)
        (run_dir / "recipe.yaml").write_text(recipe_to_yaml(recipe), encoding="utf-8")
    state.wait_for_everyone()
    set_seed(train.seed)  # before the model is built: the tiny model's initialisation follows it
    threads = torch.get_num_threads()
    if train.num_threads or (train.model in TINY_MODELS and not torch.cuda.is_available()):
        torch.set_num_threads(train.num_threads or 1)
    try:
        model, tokenizer = load_model(recipe, corpus_rows, seed_rows, base.model_dir if base else None)
        base_ref = base.ref if base else None
        _train(recipe, plan, run_dir, args, model, tokenizer, config, data, judge, seed_rows, base_ref)
    finally:
        torch.set_num_threads(threads)  # a process-wide setting: leave it as found (tests share the process)
    return run_dir


def _train(
    recipe: Recipe, plan: TrainPlan, run_dir: Path, args, model, tokenizer, config, data, judge, seed_rows,
    base_ref=None,
) -> None:
    import datasets
    from accelerate import PartialState

    from kinject.trainers.curves import read_curve, results_table
    from kinject.trainers.evaluation import QAEvalCallback
    from kinject.trainers.judges import read_answers
    from kinject.trainers.recall import measure_recall, recall_line, write_recall

    train, state = recipe.train, PartialState()
    callback = QAEvalCallback(
        plan.eval_questions,
        tokenizer,
        judge,
        recipe.eval,
        plan.protocol,
        run_dir,
        plan.run_name,
        clock_step=lambda global_step: global_step,  # one optimizer step per clock step (batch_geometry)
        fact_exposures=lambda step: plan.fact_exposures[min(step, len(plan.fact_exposures) - 1)],
        seed=train.seed,
    )
    trainer = ClockSFTTrainer(
        model=model,
        args=args,
        train_dataset=datasets.Dataset.from_dict({"text": plan.texts}),
        processing_class=tokenizer,
        callbacks=[callback],
        schedule_horizon_steps=train.schedule_horizon_steps or train.steps,
    )
    print(
        f"[train] {plan.run_name}: {train.steps} steps × {plan.seqs_per_step} sequences "
        f"(micro-batch {plan.micro_batch} × {plan.accumulation} accumulation × {state.num_processes} processes), "
        f"protocol {plan.protocol}, {len(plan.eval_questions)} evaluation questions",
        flush=True,
    )
    trainer.train()
    if state.is_main_process:
        trainer.save_model(str(run_dir / "model"))
        tokenizer.save_pretrained(run_dir / "model")
        write_model_card(run_dir / "model", recipe, data, config, plan.run_name, base_ref)
        curve = read_curve(run_dir / "curve.jsonl")
        (run_dir / "results.md").write_text(results_table({plan.run_name: curve}), encoding="utf-8")
        run_info = {
            "run": plan.run_name,
            "model": train.model,
            "base": str(base_ref) if base_ref else None,
            "data": str(data),
            "config": config,
            "seed": train.seed,
            "protocol": plan.protocol,
            "train_docs": plan.train_docs,
            "heldout_docs": plan.heldout_docs,
        }
        recall = measure_recall(model, tokenizer, seed_rows, read_answers(run_dir / "answers.jsonl"), recipe.eval)
        write_recall(run_dir, recall)
        print(recall_line(plan.run_name, recall["summary"]), flush=True)
        (run_dir / "run.json").write_text(json.dumps(run_info, ensure_ascii=False, indent=2), encoding="utf-8")
        shutil.rmtree(run_dir / "trainer", ignore_errors=True)
    state.wait_for_everyone()


@dataclass
class PublishedBase:
    """A published tiny base, materialised: its folder, its pinned ``repo@sha`` and the teaching data to replay."""

    model_dir: Path
    ref: DatasetRef
    replay: Replay


def load_base(recipe: Recipe) -> PublishedBase:
    """``train.base`` (or ``base.repo``@main) from the registry, and the teaching data its card names."""
    from kinject.cards.registry import open_registry
    from kinject.trainers.base import read_base_card

    registry = open_registry(recipe.registry)
    wanted = DatasetRef.parse(recipe.train.base) if recipe.train.base else DatasetRef(repo_id=recipe.base.repo)
    try:
        model_dir = registry.model_dir(wanted)
    except KinjectUserError as exc:
        raise KinjectUserError(f"train.model base: {exc}; build it with `make base RECIPE={recipe.source}`") from None
    info = read_base_card(model_dir)
    data = DatasetRef.parse(info["data"])
    world = registry.load(data, "seeds").to_list()
    qa = qa_pairs(world, info["train_docs"])
    replay = Replay(
        texts=[r["text"] for r in registry.load(data, "texts").to_list()],
        qa_texts=[qa_text(q["question"], q["gold"], q["lang"]) for q in qa],
        per_step=recipe.train.replay.per_step,
        qa_share=recipe.train.replay.qa_share,
    )
    # Both registries materialise a revision in a folder named by its commit sha.
    return PublishedBase(model_dir=model_dir, ref=DatasetRef(repo_id=wanted.repo_id, revision=model_dir.name), replay=replay)


def check_base_disjoint(base: PublishedBase, seed_rows: Sequence[dict]) -> None:
    """A base whose teaching data names a document being trained would leak its facts: refuse it."""
    names = {str(f["value"]) for row in seed_rows for f in row.get("facts") or [] if f["key"] == "name"}
    for text in (*base.replay.texts, *base.replay.qa_texts):
        if hit := next((name for name in names if name in text), None):
            raise KinjectUserError(
                f"base {base.ref}: its teaching data mentions {hit!r}, a document being trained; build a base for "
                "these documents (`make base` with this recipe's seeds)"
            )


def load_model(recipe: Recipe, corpus_rows: Sequence[dict], seed_rows: Sequence[dict], base_dir: Path | None = None):
    """(model, tokenizer): a tiny Llama with a tokenizer trained on this run's text, the published base (from
    ``base_dir``), SmolLM2, a path or an id."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    name = str(base_dir) if recipe.train.model == "base" else recipe.train.model
    if name == "tiny":
        from kinject.tiny import build_tiny_llama, train_char_tokenizer

        questions = qa_pairs(seed_rows, [str(r["doc_id"]) for r in seed_rows])
        texts = [r["text"] for r in seed_rows] + [r["text"] for r in corpus_rows]
        texts += [qa_text(q["question"], q["gold"], q["lang"]) for q in questions]
        tokenizer = train_char_tokenizer(texts)
        tokenizer.model_max_length = recipe.train.tiny.max_position_embeddings
        return build_tiny_llama(recipe.train.tiny, tokenizer), tokenizer
    if name == "smollm2":
        from kinject.smollm2 import smollm2_dir

        name = str(smollm2_dir())
    dtype = torch.bfloat16 if torch.cuda.is_available() and torch.cuda.is_bf16_supported() else torch.float32
    try:
        tokenizer = AutoTokenizer.from_pretrained(name)
        model = AutoModelForCausalLM.from_pretrained(name, dtype=dtype)
    except OSError as exc:
        raise KinjectUserError(f"train.model: cannot load {name!r}: {exc}") from exc
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return model, tokenizer


def write_model_card(
    model_dir: Path, recipe: Recipe, data: DatasetRef, config: str, run: str, base_ref: DatasetRef | None = None
) -> None:
    """The trained model's card names the dataset revision it learned from (and the base it continued)."""
    from huggingface_hub import ModelCard, ModelCardData

    base = str(base_ref) if base_ref else recipe.train.model
    card_data = ModelCardData(
        datasets=[data.repo_id],
        library_name="transformers",
        tags=["kinject", "continual-pretraining", f"kinject-config-{config}"],
        base_model=None if base == "tiny" else (base_ref.repo_id if base_ref else base),
    )
    content = (
        f"---\n{card_data.to_yaml()}\n---\n\n# {run}\n\n"
        f"Continually pretrained by kinject on config `{config}` of dataset **`{data}`** "
        f"(recipe `{recipe.name}`, seed {recipe.train.seed}, {recipe.train.steps} steps, base model `{base}`).\n\n"
        "Results (accuracy by step, steps to 85 %/90 %) are in that dataset's card under `kinject.results."
        f"{run}`.\n"
    )
    ModelCard(content).save(model_dir / "README.md")
