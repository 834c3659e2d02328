"""QA evaluation during training: answer, judge, append to ``curve.jsonl``, redraw ``curve.png``.

Two protocols (recipe ``eval.protocol``):

- ``mixed`` (tiny models, Allen-Zhu & Li 2024): the model continues ``質問: {q} 答え:`` — the template its
  training QA pairs used — and only held-out documents' questions are asked.
- ``instruct`` (pretrained instruct models, the paper): every question goes through the tokenizer's chat
  template; the paper samples at temperature 0.1, greedy is also offered.

Answers end at the first newline or EOS. Evaluation runs at step 0, every ``eval.every_steps`` steps and at the
end, on the main process only (other ranks wait at their next collective).
"""

from __future__ import annotations

import json
import time
from collections import defaultdict
from pathlib import Path
from typing import Callable, Sequence

import torch
from transformers import TrainerCallback

from kinject.recipes.schema import EvalConfig
from kinject.trainers.clock import qa_prompt
from kinject.trainers.curves import append_point, plot_curves, read_curve


def build_prompts(questions: Sequence[dict], tokenizer, protocol: str) -> list[str]:
    """The prompt text of every question (chat template for ``instruct``)."""
    if protocol == "instruct":
        return [
            tokenizer.apply_chat_template(
                [{"role": "user", "content": q["question"]}], tokenize=False, add_generation_prompt=True
            )
            for q in questions
        ]
    return [qa_prompt(q["question"], q.get("lang", "en")) for q in questions]


@torch.no_grad()
def generate_answers(model, tokenizer, prompts: Sequence[str], cfg: EvalConfig, batch_size: int = 64) -> list[str]:
    """Batched generation with left padding; each answer cut at the first newline."""
    was_training = model.training
    model.eval()
    side = tokenizer.padding_side
    tokenizer.padding_side = "left"  # decoder-only: new tokens must follow the prompt directly
    # chat templates already hold the BOS; the tiny tokenizer adds its own
    add_special = tokenizer.chat_template is None
    answers: list[str] = []
    try:
        for start in range(0, len(prompts), batch_size):
            batch = tokenizer(
                list(prompts[start : start + batch_size]),
                return_tensors="pt",
                padding=True,
                add_special_tokens=add_special,
                return_token_type_ids=False,
            ).to(model.device)
            sampling = {"do_sample": False} if cfg.greedy else {"do_sample": True, "temperature": cfg.temperature}
            output = model.generate(
                **batch,
                max_new_tokens=cfg.max_new_tokens,
                pad_token_id=tokenizer.pad_token_id,
                eos_token_id=tokenizer.eos_token_id,
                **sampling,
            )
            new_tokens = output[:, batch["input_ids"].shape[1] :]
            for text in tokenizer.batch_decode(new_tokens, skip_special_tokens=True):
                answers.append(text.strip().split("\n", 1)[0].strip())
    finally:
        tokenizer.padding_side = side
        model.train(was_training)
    return answers


def score(judged: Sequence[dict]) -> tuple[float, dict[str, float]]:
    """Overall accuracy and accuracy per category."""
    by_category: dict[str, list[bool]] = defaultdict(list)
    for row in judged:
        by_category[row.get("category", "")].append(bool(row["verdict"]))
    overall = sum(bool(r["verdict"]) for r in judged) / len(judged) if judged else 0.0
    return overall, {c: sum(v) / len(v) for c, v in sorted(by_category.items())}


class QAEvalCallback(TrainerCallback):
    """Evaluates the questions at step 0, every ``every_steps`` clock steps and at the end of training.

    ``clock_step(global_step)`` maps optimizer steps to clock steps (exposures per document).
    ``fact_exposures(step)`` gives the mean exposures per fact of the evaluated documents, when known.
    The evaluation step forces a log on the same optimizer step so the point carries the interval's train loss.
    """

    def __init__(
        self,
        questions: Sequence[dict],
        tokenizer,
        judge,
        cfg: EvalConfig,
        protocol: str,
        run_dir: Path,
        run_name: str,
        clock_step: Callable[[int], int],
        fact_exposures: Callable[[int], float | None] = lambda step: None,
        seed: int = 0,
    ) -> None:
        self.questions = list(questions)
        self.tokenizer, self.judge, self.cfg, self.protocol = tokenizer, judge, cfg, protocol
        self.run_dir, self.run_name = Path(run_dir), run_name
        self.clock_step, self.fact_exposures, self.seed = clock_step, fact_exposures, seed
        self.prompts = build_prompts(self.questions, tokenizer, protocol)
        self._due: int | None = None
        self._last_step = -1

    # -- events ---------------------------------------------------------------------------------------------

    def on_train_begin(self, args, state, control, model=None, **kwargs):
        if state.is_world_process_zero and state.global_step == 0:
            self.evaluate(model, step=0, train_loss=None)

    def on_step_end(self, args, state, control, **kwargs):
        step = self.clock_step(state.global_step)
        previous = self.clock_step(state.global_step - 1)
        crossed = step // self.cfg.every_steps > previous // self.cfg.every_steps
        if crossed or state.global_step >= state.max_steps:
            self._due = step
            control.should_log = True
        return control

    def on_log(self, args, state, control, logs=None, model=None, **kwargs):
        if self._due is None or not logs or "loss" not in logs:
            return
        step, self._due = self._due, None
        if state.is_world_process_zero and step != self._last_step:
            self.evaluate(model, step=step, train_loss=float(logs["loss"]))

    # -- work -----------------------------------------------------------------------------------------------

    def evaluate(self, model, step: int, train_loss: float | None) -> dict:
        started = time.perf_counter()
        torch.manual_seed(self.seed + step)  # sampled answers (temperature) are reproducible too
        answers = generate_answers(model, self.tokenizer, self.prompts, self.cfg)
        rows = [{**q, "answer": a} for q, a in zip(self.questions, answers)]
        judged = self.judge.judge(rows)
        accuracy, per_category = score(judged)
        point = {
            "step": step,
            "exposures": step,
            "fact_exposures": self.fact_exposures(step),
            "accuracy": accuracy,
            "per_category": per_category,
            "train_loss": train_loss,
            "n": len(judged),
        }
        append_point(self.run_dir / "curve.jsonl", point)
        plot_curves({self.run_name: read_curve(self.run_dir / "curve.jsonl")}, self.run_dir / "curve.png")
        write_answers(self.run_dir / "answers.jsonl", judged)
        self._last_step = step
        loss = "—" if train_loss is None else f"{train_loss:.4f}"
        cats = " ".join(f"{c}={v:.2f}" for c, v in per_category.items())
        print(
            f"[eval] step {step}: accuracy {accuracy:.3f} ({sum(r['verdict'] for r in judged)}/{len(judged)}) "
            f"{cats} train_loss {loss} ({time.perf_counter() - started:.1f}s)",
            flush=True,
        )
        return point


ANSWER_FIELDS = ("doc_id", "category", "key", "question", "gold", "answer", "verdict", "reason", "judge")


def write_answers(path: Path, judged: Sequence[dict]) -> None:
    """The last judged answers; ``judge_run`` re-judges them without the model."""
    with open(path, "w", encoding="utf-8") as handle:
        for row in judged:
            handle.write(json.dumps({k: row.get(k) for k in ANSWER_FIELDS}, ensure_ascii=False) + "\n")
