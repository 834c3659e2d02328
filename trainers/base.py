"""The tiny base: a small Llama pretrained once on the teaching world, published as a versioned model repo.

The paper continues an instruct model that already answers questions about what it has read. Its CPU analogue is a
tiny model that has learnt that skill on a teaching world of fictional documents disjoint from the target set
(built by ``pipelines/teaching.py`` and read here only by revision). Each step mixes the teaching texts with QA pairs
of the teaching documents outside a held-out share; the held-out documents' questions measure the skill the base
must carry into CPT: answering from text it has read, for documents whose QA it never saw (Allen-Zhu & Li 2024's
mixed training, at the scale of hundreds of documents rather than dozens).

``run_base(recipe, data)`` trains with TRL's ``SFTTrainer`` on a prepared stream (``ClockSFTTrainer``), evaluates
with the study's callback, and publishes ``base.repo``: weights, the BPE tokenizer, the curve and a card whose
``kinject`` section names the teaching data revision, the recipe's ``base`` section and the documents trained and
held out. ``kinject train`` with ``train.model: base`` continues from it and replays its teaching data.
"""

from __future__ import annotations

import random
import shutil
import time
from pathlib import Path

import yaml

from kinject.cards.refs import DatasetRef
from kinject.errors import KinjectUserError
from kinject.recipes.schema import BaseConfig, Recipe, recipe_to_yaml
from kinject.trainers.clock import CyclingDraw, qa_pairs, qa_text, split_documents
from kinject.trainers.curves import read_curve

CARD_SECTION = "kinject"


def base_stream(texts: list[str], qa: list[dict], cfg: BaseConfig) -> list[str]:
    """``cfg.steps`` steps of ``cfg.batch_size`` sequences: ``qa_share`` of them QA texts, the rest teaching texts,
    each drawn without replacement in seeded passes; a step's sequences are sorted by length, so a micro-batch pads
    little (the optimizer step accumulates over the whole step, whatever its order)."""
    n_qa = round(cfg.batch_size * cfg.qa_share)
    text_draw = CyclingDraw(texts, cfg.seed, "base-texts")
    qa_draw = CyclingDraw([qa_text(q["question"], q["gold"], q["lang"]) for q in qa], cfg.seed, "base-qa")
    stream = []
    for _ in range(cfg.steps):
        step = [qa_draw.draw() for _ in range(n_qa)] + [text_draw.draw() for _ in range(cfg.batch_size - n_qa)]
        stream += sorted(step, key=len)
    return stream


def run_base(recipe: Recipe, data: DatasetRef, out: Path | None = None) -> DatasetRef:
    """Pretrain the base on ``data`` (a teaching-world revision) and publish it; returns ``base.repo@<sha>``."""
    import datasets
    import torch
    from transformers import set_seed

    from kinject.cards.registry import open_registry
    from kinject.tiny import build_tiny_llama, train_bpe_tokenizer
    from kinject.trainers.cpt import ClockSFTTrainer, clock_sft_config
    from kinject.trainers.evaluation import QAEvalCallback
    from kinject.trainers.judges import make_judge

    cfg = recipe.base
    registry = open_registry(recipe.registry)
    data = DatasetRef(repo_id=data.repo_id, revision=registry.resolve(data))
    for needed in ("seeds", "texts"):
        if needed not in registry.configs(data):
            raise KinjectUserError(f"{data} has no config {needed!r}; was it published by `kinject base`?")
    world = registry.load(data, "seeds").to_list()
    texts = [r["text"] for r in registry.load(data, "texts").to_list()]
    alphabet = (registry.card_data(data).get(CARD_SECTION) or {}).get("configs", {}).get("texts", {}).get("alphabet")
    if not alphabet:
        raise KinjectUserError(f"{data}: the texts config records no alphabet; republish it with `kinject base`")

    train_docs, heldout_docs = split_documents(world, 1 - cfg.teaching.heldout_fraction, cfg.seed)
    train_qa = qa_pairs(world, train_docs)
    heldout_qa = qa_pairs(world, heldout_docs)
    random.Random(cfg.seed).shuffle(heldout_qa)
    eval_questions = heldout_qa[: cfg.eval_questions] or train_qa[: cfg.eval_questions]
    stream = base_stream(texts, train_qa, cfg)

    run_dir = Path(out or Path(recipe.train.output_dir) / "base") / cfg.repo.replace("/", "--")
    shutil.rmtree(run_dir, ignore_errors=True)
    run_dir.mkdir(parents=True)
    args = clock_sft_config(
        run_dir,
        max_steps=cfg.steps,
        per_device_train_batch_size=cfg.micro_batch,
        gradient_accumulation_steps=cfg.batch_size // cfg.micro_batch,
        learning_rate=cfg.learning_rate,
        warmup_steps=round(cfg.warmup_ratio * cfg.steps),
        weight_decay=cfg.weight_decay,
        seed=cfg.seed,
        data_seed=cfg.seed,
        logging_steps=cfg.eval_every,
        max_length=cfg.tiny.max_position_embeddings,
        bf16=False,  # TRL's default asks for bf16; a model this small trains in fp32 anywhere
    )
    threads = torch.get_num_threads()
    torch.set_num_threads(recipe.train.num_threads or 1)  # one thread is fastest at this size (cpt.py)
    try:
        set_seed(cfg.seed)
        tokenizer = train_bpe_tokenizer(texts + [qa_text(q["question"], q["gold"], q["lang"]) for q in train_qa],
                                        alphabet, cfg.vocab_size)
        tokenizer.model_max_length = cfg.tiny.max_position_embeddings
        model = build_tiny_llama(cfg.tiny, tokenizer)
        callback = QAEvalCallback(
            eval_questions, tokenizer, make_judge(recipe.judge), recipe.eval.model_copy(update={"every_steps": cfg.eval_every}),
            "mixed", run_dir, "base", clock_step=lambda global_step: global_step, seed=cfg.seed,
        )
        trainer = ClockSFTTrainer(
            model=model, args=args, train_dataset=datasets.Dataset.from_dict({"text": stream}),
            processing_class=tokenizer, callbacks=[callback], schedule_horizon_steps=cfg.steps,
        )
        print(f"[base] {len(world)} teaching documents ({len(heldout_docs)} held out), {len(texts)} texts, "
              f"{cfg.steps} steps × {cfg.batch_size} sequences, {sum(p.numel() for p in model.parameters()):,} "
              f"parameters", flush=True)
        started = time.perf_counter()
        trainer.train()
        minutes = (time.perf_counter() - started) / 60
    finally:
        torch.set_num_threads(threads)

    model_dir = run_dir / "model"
    trainer.save_model(str(model_dir))
    tokenizer.save_pretrained(model_dir)
    shutil.copy(run_dir / "curve.jsonl", model_dir / "curve.jsonl")
    shutil.copy(run_dir / "curve.png", model_dir / "curve.png")
    curve = read_curve(run_dir / "curve.jsonl")
    info = {
        "data": str(data),
        "base": cfg.model_dump(mode="json"),
        "train_docs": train_docs,
        "heldout_docs": heldout_docs,
        "heldout_accuracy": curve[-1]["accuracy"] if curve else None,
        "train_minutes": round(minutes, 1),
    }
    (model_dir / "recipe.yaml").write_text(recipe_to_yaml(recipe), encoding="utf-8")
    write_base_card(model_dir, cfg.repo, info)
    shutil.rmtree(run_dir / "trainer", ignore_errors=True)
    return registry.publish_model(
        cfg.repo, model_dir,
        message=f"tiny base: {cfg.steps} steps on {data}; held-out teaching accuracy {info['heldout_accuracy']}",
    )


def write_base_card(model_dir: Path, repo_id: str, info: dict) -> None:
    """The base's card: Hub model-card metadata plus the ``kinject`` section ``read_base_card`` returns."""
    from huggingface_hub import ModelCard, ModelCardData

    data_repo = DatasetRef.parse(info["data"]).repo_id
    meta = ModelCardData(datasets=[data_repo], library_name="transformers", tags=["kinject", "tiny-base"]).to_dict()
    meta[CARD_SECTION] = info
    front = yaml.safe_dump(meta, sort_keys=False, allow_unicode=True)
    body = (
        f"# {repo_id}\n\nA tiny Llama pretrained by kinject on the teaching world **`{info['data']}`** "
        f"({len(info['train_docs'])} documents with QA, {len(info['heldout_docs'])} held out), "
        f"{info['base']['steps']} steps in {info['train_minutes']} min. Held-out teaching accuracy at the end: "
        f"{info['heldout_accuracy']}. `kinject train` continues it with `train.model: base` and replays its "
        "teaching data.\n\n![held-out teaching accuracy](curve.png)\n"
    )
    ModelCard(f"---\n{front}---\n\n{body}").save(model_dir / "README.md")


def read_base_card(model_dir: Path) -> dict:
    """The ``kinject`` section of a published base's card (``data``, ``train_docs``, ``heldout_docs``, …)."""
    text = (Path(model_dir) / "README.md").read_text(encoding="utf-8")
    if not text.startswith("---\n") or CARD_SECTION not in (front := yaml.safe_load(text.split("---\n")[1]) or {}):
        raise KinjectUserError(f"{model_dir}: not a kinject base (its README.md has no {CARD_SECTION!r} section)")
    return front[CARD_SECTION]
