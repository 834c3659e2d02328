"""TRL continual pretraining on the clock: a real tiny run on CPU, its files, determinism, order and LR."""

from __future__ import annotations

import math

import pytest
from torch.utils.data import SequentialSampler

from kinject.cards.refs import DatasetRef
from kinject.errors import KinjectUserError
from kinject.recipes.schema import JudgeConfig
from kinject.trainers.clock import qa_pairs
from kinject.trainers.cpt import ClockSFTTrainer, batch_geometry, load_model, plan_run, sft_config, train_on_rows
from kinject.trainers.curves import read_curve
from kinject.trainers.judges import make_judge
from kinject.trainers.recall import read_recall

from .conftest import make_corpus_rows, make_recipe, make_seed_rows

DATA = DatasetRef(repo_id="t/tiny", revision="0" * 40)


def test_batch_geometry_closes_accumulation_on_step_boundaries():
    assert batch_geometry(200, 8) == (8, 25)
    assert batch_geometry(50, 4) == (2, 25)  # the paper: 50 documents, at most 4 per micro-batch
    assert batch_geometry(43, 8) == (1, 43)
    assert batch_geometry(200, 8, world_size=4) == (5, 10)
    assert batch_geometry(6, 16) == (6, 1)
    with pytest.raises(KinjectUserError, match="43 sequences"):
        batch_geometry(43, 8, world_size=2)


def test_plan_keeps_held_out_qa_out_of_training(tmp_path, seed_rows, corpus_rows):
    plan = plan_run(make_recipe(tmp_path, steps=5), corpus_rows, seed_rows, "fact")
    assert plan.protocol == "mixed" and set(plan.train_docs).isdisjoint(plan.heldout_docs)
    assert {q["doc_id"] for q in plan.eval_questions} == set(plan.heldout_docs)
    held_questions = [q["question"] for q in qa_pairs(seed_rows, plan.heldout_docs)]
    assert not any(q in text for text in plan.texts for q in held_questions)
    assert plan.seqs_per_step == 6 + 2 * len(plan.train_docs)
    assert len(plan.texts) == 5 * plan.seqs_per_step
    assert plan.fact_exposures[0] == 0 and plan.fact_exposures[5] > plan.fact_exposures[1] > 0
    assert plan.run_name == "t-fact-s0"


def test_plan_rejects_corpus_rows_of_unknown_documents(tmp_path, seed_rows, corpus_rows):
    with pytest.raises(KinjectUserError, match="not in seeds"):
        plan_run(make_recipe(tmp_path), corpus_rows + [{"doc_id": "zz", "text": "x"}], seed_rows, "fact")


def _trainer(recipe, plan, tmp_path, seed_rows, corpus_rows, horizon):
    import datasets

    model, tokenizer = load_model(recipe, corpus_rows, seed_rows)
    return ClockSFTTrainer(
        model=model,
        args=sft_config(recipe, plan, tmp_path / "run"),
        train_dataset=datasets.Dataset.from_dict({"text": plan.texts}),
        processing_class=tokenizer,
        schedule_horizon_steps=horizon,
    )


def test_stream_order_is_kept_and_cosine_reaches_zero_at_the_horizon(tmp_path, seed_rows, corpus_rows):
    recipe = make_recipe(tmp_path, steps=20, warmup_ratio=0.1)
    plan = plan_run(recipe, corpus_rows, seed_rows, "fact")
    trainer = _trainer(recipe, plan, tmp_path, seed_rows, corpus_rows, horizon=100)
    assert isinstance(trainer._get_train_sampler(), SequentialSampler)
    batch = next(iter(trainer.get_train_dataloader()))
    decoded = trainer.processing_class.batch_decode(batch["input_ids"], skip_special_tokens=True)
    assert decoded == plan.texts[: plan.micro_batch]
    trainer.create_optimizer_and_scheduler(num_training_steps=recipe.train.steps)
    factor = trainer.lr_scheduler.lr_lambdas[0]
    assert factor(0) == 0 and factor(1) == pytest.approx(0.5)  # 2 warm-up steps
    assert factor(2) == pytest.approx(1.0)
    assert factor(20) == pytest.approx(0.5 * (1 + math.cos(math.pi * 18 / 98)))  # still high when the run ends
    assert factor(100) == pytest.approx(0.0, abs=1e-12)


@pytest.mark.slow  # two 30-step trainings; test_results covers a short training end to end in the fast suite
def test_tiny_run_loss_falls_writes_files_and_is_deterministic(tmp_path, seed_rows, corpus_rows):
    recipe = make_recipe(tmp_path, steps=30, every=10)
    judge = make_judge(JudgeConfig(cache_dir=tmp_path / "judge-cache"))
    run_dir = train_on_rows(recipe, corpus_rows, seed_rows, "fact", DATA, judge)
    assert run_dir == tmp_path / "runs" / "t-fact-s0"
    curve = read_curve(run_dir / "curve.jsonl")
    assert [p["step"] for p in curve] == [0, 10, 20, 30]
    assert curve[0]["train_loss"] is None and curve[-1]["train_loss"] < 0.7 * curve[1]["train_loss"]
    # train_fraction 0.5 of 3 documents per category: round(1.5) = 2 train, 1 held out -> 2 documents, 4 questions
    assert all(p["n"] == 4 and set(p["per_category"]) == {"product", "company"} for p in curve)
    assert curve[-1]["fact_exposures"] > curve[1]["fact_exposures"] > 0
    assert (run_dir / "curve.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    answers = (run_dir / "answers.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(answers) == 4 and '"verdict"' in answers[0] and '"reason"' in answers[0]
    assert "| t-fact-s0 | 30 |" in (run_dir / "results.md").read_text(encoding="utf-8")
    card = (run_dir / "model" / "README.md").read_text(encoding="utf-8")
    assert str(DATA) in card and "t/tiny" in card
    assert (run_dir / "model" / "tokenizer.json").is_file() and (run_dir / "recipe.yaml").is_file()
    recall = read_recall(run_dir)  # the final model's document recall, crossed with the last answers' verdicts
    assert recall["n"] == 4 and recall["accuracy"] == curve[-1]["accuracy"]

    first = (run_dir / "curve.jsonl").read_text(encoding="utf-8")
    train_on_rows(recipe, make_corpus_rows(), make_seed_rows(), "fact", DATA, judge)
    assert (run_dir / "curve.jsonl").read_text(encoding="utf-8") == first  # same recipe, data and seed


def test_qa_per_step_sizes_the_step_and_horizon_must_cover_the_run(tmp_path, seed_rows, corpus_rows):
    recipe = make_recipe(tmp_path, steps=3, qa_mix={"train_fraction": 0.5, "qa_per_step": 1})
    plan = plan_run(recipe, corpus_rows, seed_rows, "fact")
    assert plan.seqs_per_step == 7 and (plan.micro_batch, plan.accumulation) == (7, 1)
    with pytest.raises(Exception, match="schedule_horizon_steps"):
        make_recipe(tmp_path, steps=30, schedule_horizon_steps=10)


def test_each_step_is_length_sorted_and_keeps_its_own_sequences(tmp_path, seed_rows, corpus_rows):
    from collections import Counter

    from kinject.trainers.clock import build_stream

    recipe = make_recipe(tmp_path, steps=4)
    plan = plan_run(recipe, corpus_rows, seed_rows, "fact")
    stream = list(build_stream(corpus_rows, 4, 0, qa_pairs(seed_rows, plan.train_docs), recipe.train.qa_mix.qa_per_step))
    n = plan.seqs_per_step
    for step in range(4):
        texts = plan.texts[step * n:(step + 1) * n]
        assert [len(t) for t in texts] == sorted(len(t) for t in texts)
        assert Counter(texts) == Counter(r["text"] for r in stream if r["step"] == step + 1)
