"""The paper's step clock and the mixed-training stream.

One *step* exposes every seed document once: step ``s`` draws the next not-yet-used synthetic sample of every
document (Kadoya & Kawagoshi 2025, §2.4: 50 samples per step). When a document's samples run out they are
reused in a new order — with few samples per document that repetition is what overfits (App. B). Curves are
plotted against steps, i.e. exposures per document.

Mixed training (Allen-Zhu & Li 2024, Physics of LMs 3.1): a model trained from scratch learns to *answer* only
from QA pairs it sees, so the QA pairs of a train split of documents go into every step and accuracy is measured
only on held-out documents, whose knowledge reaches the model through the corpus alone.

Pure Python, no torch: the order of the training stream is decided here and tested exhaustively.

Input: corpus rows (``doc_id``, ``text``) and seed rows (``doc_id``, ``category``, ``lang``, ``questions``).
Output: ``build_stream`` rows ``{text, step, kind, doc_id, facts_present}`` in training order, each step's rows contiguous.
"""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass
from typing import Iterator, Mapping, Sequence

from kinject.errors import KinjectUserError

QA_TEMPLATES = {"ja": ("質問: {question} 答え:", " {answer}"), "en": ("Question: {question} Answer:", " {answer}")}


def qa_prompt(question: str, lang: str) -> str:
    """The evaluation prompt of the mixed protocol; training QA texts are this plus the answer."""
    return QA_TEMPLATES.get(lang, QA_TEMPLATES["en"])[0].format(question=question)


def qa_text(question: str, answer: str, lang: str) -> str:
    prompt, completion = QA_TEMPLATES.get(lang, QA_TEMPLATES["en"])
    return prompt.format(question=question) + completion.format(answer=answer)


class CyclingDraw:
    """Draws items without replacement in a seeded order; when exhausted, continues with a new order.

    The order of each pass is a permutation drawn from ``random.Random(f"{seed}:{key}:{pass}")`` (string seeds are
    hashed with SHA-512, so the order does not depend on ``PYTHONHASHSEED``). A new pass never repeats the
    previous pass's order when more than one order exists, so reuse really is "in a new order".
    """

    def __init__(self, items: Sequence, seed: int, key: str) -> None:
        if not items:
            raise ValueError(f"nothing to draw for {key!r}")
        self.items = list(items)
        self.seed, self.key = seed, key
        self._order: list[int] = []
        self._pass = -1
        self._pos = 0

    def _new_pass(self) -> None:
        previous = self._order
        self._pass += 1
        rng = random.Random(f"{self.seed}:{self.key}:{self._pass}")
        order = list(range(len(self.items)))
        rng.shuffle(order)
        while len(order) > 1 and order == previous:
            rng.shuffle(order)
        self._order, self._pos = order, 0

    @property
    def passes(self) -> int:
        """How many passes have been started (1 during the first pass)."""
        return self._pass + 1

    def draw(self):
        if self._pos >= len(self._order):
            self._new_pass()
        item = self.items[self._order[self._pos]]
        self._pos += 1
        return item


class StepClock:
    """Step ``s`` yields one sample of every document: the next unused one, reshuffled when exhausted.

    Documents keep their first-appearance order in ``rows``; samples within a document keep the order of the
    dataset revision, so the same revision and seed give the same stream.
    """

    def __init__(self, rows: Sequence[Mapping], seed: int) -> None:
        by_doc: dict[str, list[Mapping]] = defaultdict(list)
        for row in rows:
            by_doc[str(row["doc_id"])].append(row)
        if not by_doc:
            raise KinjectUserError("the corpus has no rows: nothing to train on")
        self.doc_ids = list(by_doc)
        self.samples_per_doc = {doc_id: len(samples) for doc_id, samples in by_doc.items()}
        self._draws = {doc_id: CyclingDraw(samples, seed, doc_id) for doc_id, samples in by_doc.items()}
        self.step = 0

    def next_step(self) -> list[Mapping]:
        """The rows of the next step, one per document in document order."""
        self.step += 1
        return [self._draws[doc_id].draw() for doc_id in self.doc_ids]

    def passes(self, doc_id: str) -> int:
        """Passes over ``doc_id``'s samples started so far (> 1 means samples are being reused)."""
        return self._draws[doc_id].passes


def split_documents(seed_rows: Sequence[Mapping], train_fraction: float, seed: int) -> tuple[list[str], list[str]]:
    """Split documents into (train, held-out) ids, stratified by category, seeded.

    Within each category ``round(n * train_fraction)`` documents train, kept within ``[1, n - 1]`` when ``n >= 2``
    so every category is both taught and measured. Ids come back in the seed rows' order.
    """
    by_category: dict[str, list[str]] = defaultdict(list)
    for row in seed_rows:
        by_category[str(row.get("category", ""))].append(str(row["doc_id"]))
    train: set[str] = set()
    for category, doc_ids in sorted(by_category.items()):
        shuffled = sorted(doc_ids)
        random.Random(f"{seed}:split:{category}").shuffle(shuffled)
        n_train = round(len(doc_ids) * train_fraction)
        if len(doc_ids) >= 2:
            n_train = min(max(n_train, 1), len(doc_ids) - 1)
        train.update(shuffled[:n_train])
    ordered = [str(row["doc_id"]) for row in seed_rows]
    return [d for d in ordered if d in train], [d for d in ordered if d not in train]


def qa_pairs(seed_rows: Sequence[Mapping], doc_ids: Sequence[str]) -> list[dict]:
    """Every question of the given documents as ``{doc_id, category, lang, question, gold, key}`` rows."""
    wanted = set(doc_ids)
    pairs = []
    for row in seed_rows:
        if str(row["doc_id"]) not in wanted:
            continue
        for qa in row.get("questions") or []:
            pairs.append(
                {
                    "doc_id": str(row["doc_id"]),
                    "category": row.get("category", ""),
                    "lang": row.get("lang", "en"),
                    "question": qa["question"],
                    "gold": qa["answer"],
                    "key": qa.get("key", ""),
                }
            )
    return pairs


@dataclass(frozen=True)
class Replay:
    """Teaching data replayed in every step of CPT from a base: ``per_step`` sequences, ``qa_share`` of them QA."""

    texts: Sequence[str]
    qa_texts: Sequence[str]
    per_step: int
    qa_share: float

    def __post_init__(self) -> None:
        if self.per_step and (not self.texts or (self.qa_share and not self.qa_texts)):
            raise KinjectUserError("replay: the base's teaching data has no texts or no QA pairs to replay")


def build_stream(
    corpus_rows: Sequence[Mapping],
    steps: int,
    seed: int,
    train_qa: Sequence[Mapping] = (),
    qa_per_step: int | None = None,
    replay: Replay | None = None,
) -> Iterator[dict]:
    """The training stream, step by step: every document's next sample, then this step's QA texts and replay.

    ``train_qa`` are ``qa_pairs`` rows of the train documents (empty for pure CPT). ``qa_per_step`` None mixes all
    of them into every step; a number draws that many per step, cycling through them in seeded orders. Each row
    is one training sequence: QA texts are never packed with corpus text, so an answer cannot be copied from
    the context. ``replay`` adds its teaching sequences at the end of every step (``kind`` ``replay``), sorted by
    length so their micro-batches pad little.
    """
    clock = StepClock(corpus_rows, seed)
    qa_draw = CyclingDraw(train_qa, seed, "qa") if train_qa and qa_per_step is not None else None
    n_replay_qa = round(replay.per_step * replay.qa_share) if replay else 0
    replay_texts = CyclingDraw(replay.texts, seed, "replay-texts") if replay and replay.per_step > n_replay_qa else None
    replay_qa = CyclingDraw(replay.qa_texts, seed, "replay-qa") if n_replay_qa else None
    for step in range(1, steps + 1):
        for row in clock.next_step():
            yield {
                "text": row["text"],
                "step": step,
                "kind": "corpus",
                "doc_id": str(row["doc_id"]),
                "facts_present": row.get("facts_present"),  # None when the corpus does not record it
            }
        if qa_draw is not None:
            step_qa = [qa_draw.draw() for _ in range(qa_per_step)]
        else:
            step_qa = list(train_qa)
        for qa in step_qa:
            text = qa_text(qa["question"], qa["gold"], qa["lang"])
            yield {"text": text, "step": step, "kind": "qa", "doc_id": qa["doc_id"], "facts_present": None}
        if replay is not None and replay.per_step:
            step_replay = [replay_qa.draw() for _ in range(n_replay_qa)] if replay_qa else []
            step_replay += [replay_texts.draw() for _ in range(replay.per_step - n_replay_qa)] if replay_texts else []
            for text in sorted(step_replay, key=len):
                yield {"text": text, "step": step, "kind": "replay", "doc_id": "", "facts_present": None}


def sequences_per_step(n_docs: int, n_train_qa: int, qa_per_step: int | None, n_replay: int = 0) -> int:
    """Training sequences in one step: one sample per document plus the step's QA texts and replayed ones."""
    if n_train_qa == 0 or qa_per_step == 0:
        return n_docs + n_replay
    return n_docs + (n_train_qa if qa_per_step is None else qa_per_step) + n_replay
