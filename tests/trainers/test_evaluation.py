"""The QA-evaluation callback: prompts per protocol, scoring, when it evaluates, what it writes."""

from __future__ import annotations

import json

from transformers import TrainerControl, TrainerState, set_seed

from kinject.recipes.schema import EvalConfig, TinyModelConfig
from kinject.tiny import build_tiny_llama, train_char_tokenizer
from kinject.trainers.evaluation import QAEvalCallback, build_prompts, generate_answers, score

QUESTIONS = [
    {"doc_id": "d0", "category": "product", "lang": "ja", "question": "ルミナの重さは？", "gold": "12kg", "key": "w"},
    {"doc_id": "d1", "category": "company", "lang": "ja", "question": "ソラの色は？", "gold": "赤", "key": "c"},
]


class FirstQuestionRight:
    """A judge whose verdicts do not depend on the (random) answers, so the scores are known."""

    name = "test"

    def judge(self, rows):
        return [{**r, "verdict": i == 0, "reason": "test", "judge": self.name} for i, r in enumerate(rows)]


def _model_and_tokenizer():
    tok = train_char_tokenizer([q["question"] + q["gold"] for q in QUESTIONS] + ["質問: 答え:\n"])
    set_seed(0)
    cfg = TinyModelConfig(hidden_size=32, num_layers=2, num_heads=2, intermediate_size=64)
    return build_tiny_llama(cfg, tok), tok


def test_prompts_follow_the_protocol():
    model, tok = _model_and_tokenizer()
    assert build_prompts(QUESTIONS, tok, "mixed") == ["質問: ルミナの重さは？ 答え:", "質問: ソラの色は？ 答え:"]
    tok.chat_template = "{% for m in messages %}<{{ m['role'] }}>{{ m['content'] }}{% endfor %}<assistant>"
    assert build_prompts(QUESTIONS[:1], tok, "instruct") == ["<user>ルミナの重さは？<assistant>"]


def test_generation_is_batched_left_padded_and_cut_at_newline():
    model, tok = _model_and_tokenizer()
    cfg = EvalConfig(max_new_tokens=12)
    prompts = build_prompts(QUESTIONS, tok, "mixed")
    answers = generate_answers(model, tok, prompts, cfg, batch_size=2)
    assert len(answers) == 2 and all("\n" not in a for a in answers)
    one_by_one = [generate_answers(model, tok, [p], cfg)[0] for p in prompts]
    assert answers == one_by_one  # left padding: a batch answers like single prompts
    assert tok.padding_side == "right" and model.training


def test_score_overall_and_per_category():
    judged = FirstQuestionRight().judge(QUESTIONS + QUESTIONS[:1])  # right, wrong, wrong
    assert score(judged) == (1 / 3, {"company": 0.0, "product": 0.5})
    assert score([]) == (0.0, {})


def test_callback_evaluates_at_zero_every_k_and_at_the_end(tmp_path):
    model, tok = _model_and_tokenizer()
    cb = QAEvalCallback(QUESTIONS, tok, FirstQuestionRight(), EvalConfig(every_steps=4, max_new_tokens=4), "mixed",
                        tmp_path, "run", clock_step=lambda s: s, fact_exposures=lambda s: s * 0.5)
    state, control = TrainerState(max_steps=10), TrainerControl()
    cb.on_train_begin(None, state, control, model=model)
    for step in range(1, 11):
        state.global_step = step
        control.should_log = False
        cb.on_step_end(None, state, control)
        if control.should_log:
            cb.on_log(None, state, control, logs={"loss": 10.0 - step}, model=model)
    curve = [json.loads(line) for line in (tmp_path / "curve.jsonl").read_text().splitlines()]
    assert [p["step"] for p in curve] == [0, 4, 8, 10]
    assert [p["train_loss"] for p in curve] == [None, 6.0, 2.0, 0.0]
    assert curve[1] == {"step": 4, "exposures": 4, "fact_exposures": 2.0, "accuracy": 0.5,
                        "per_category": {"company": 0.0, "product": 1.0}, "train_loss": 6.0, "n": 2}
    answers = [json.loads(line) for line in (tmp_path / "answers.jsonl").read_text().splitlines()]
    assert [a["verdict"] for a in answers] == [True, False] and answers[0]["doc_id"] == "d0"
    assert (tmp_path / "curve.png").is_file()
