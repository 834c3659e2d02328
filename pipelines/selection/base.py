"""The selection-block contract: a block judges a batch of rows, the base class does the bookkeeping.

As in datatrove's ``BaseFilter``, a concrete block writes only the decision (``judge``); this base counts
``total``/``kept``/``dropped``/``dropped_<reason>``, times each batch and renders ``stats/<block>.json`` for the
output revision. A batch is one *scope unit* (a document's rows, or the whole set): methods such as SemDeDup
need every row of the unit at once. Batches are column-oriented (``Batch``) so a million embeddings stay one
float32 matrix instead of a million Python lists.
"""

from __future__ import annotations

import importlib.util
import json
import time
from abc import ABC, abstractmethod
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, ClassVar, Mapping, Sequence

import numpy as np


@dataclass(frozen=True, slots=True)
class Verdict:
    """Keep a row, or drop it with a reason; ``scores`` are the numbers that decided (become columns)."""

    keep: bool
    reason: str | None = None
    scores: Mapping[str, float | int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.keep == (self.reason is not None):
            raise ValueError(f"a kept row has no reason and a dropped row needs one (keep={self.keep}, "
                             f"reason={self.reason!r})")


@dataclass
class Batch:
    """Rows of one scope unit, as a view: ``rows`` index into shared ``columns`` and ``embeddings``.

    ``take`` composes indices instead of copying, so a block that drops a few rows of a million does not
    duplicate the 1.5 GB embedding matrix; blocks gather the embedding rows they need (a cluster, a chunk).
    ``unit_size`` is the row count of the unit before any block ran: ratios are taken of it.
    """

    columns: dict[str, Sequence[Any]]
    embeddings: np.ndarray | None = None  # (N, d) float32, unit norm, shared by every view
    rows: np.ndarray | None = None  # None: all rows
    unit_size: int | None = None

    def __post_init__(self) -> None:
        if self.rows is None:
            if self.embeddings is not None:
                n = len(self.embeddings)
            else:
                n = len(next(iter(self.columns.values()))) if self.columns else 0
            self.rows = np.arange(n, dtype=np.int64)
        if self.unit_size is None:
            self.unit_size = len(self.rows)

    def __len__(self) -> int:
        return len(self.rows)

    def take(self, indices: np.ndarray) -> "Batch":
        """The rows at ``indices`` (positions in this view), in that order; nothing is copied."""
        rows = self.rows[np.asarray(indices, dtype=np.int64)]
        return Batch(self.columns, self.embeddings, rows, self.unit_size)

    def column(self, name: str) -> list[Any]:
        values = self.columns[name]
        if isinstance(values, np.ndarray):
            return values[self.rows]
        return [values[i] for i in self.rows]

    def vectors(self, positions: np.ndarray | slice | None = None) -> np.ndarray:
        """A copy of the embeddings at ``positions`` of this view (all when None)."""
        if self.embeddings is None:
            raise RuntimeError("this batch carries no embeddings; run the embedding step first")
        rows = self.rows if positions is None else self.rows[positions]
        return self.embeddings[rows]


class SelectionBlock(ABC):
    """One selection stage: ``judge(batch) -> list[Verdict]``; call the block to get the bookkeeping.

    Subclasses set ``name`` (the prefix of their drop reasons and the stats file name) and may list import names
    in ``requires`` (checked when the block is built, with the pip command in the error).
    """

    name: ClassVar[str]
    requires: ClassVar[tuple[tuple[str, str], ...]] = ()  # (import name, pip package)

    def __init__(self) -> None:
        missing = [pip for module, pip in self.requires if importlib.util.find_spec(module) is None]
        if missing:
            raise ImportError(f"{type(self).__name__} needs {', '.join(missing)}: pip install {' '.join(missing)}")
        self.stats: Counter[str] = Counter()
        self.batch_seconds: list[float] = []

    @abstractmethod
    def judge(self, batch: Batch) -> list[Verdict]:
        """One verdict per row of ``batch``, in order."""

    def __call__(self, batch: Batch) -> list[Verdict]:
        start = time.perf_counter()
        verdicts = self.judge(batch) if len(batch) else []
        self.batch_seconds.append(time.perf_counter() - start)
        if len(verdicts) != len(batch):
            raise RuntimeError(f"{self.name}: {len(verdicts)} verdicts for {len(batch)} rows")
        self.stats["total"] += len(verdicts)
        for verdict in verdicts:
            if verdict.keep:
                self.stats["kept"] += 1
            else:
                if not verdict.reason.startswith(f"{self.name}_"):
                    raise RuntimeError(f"{self.name}: drop reason {verdict.reason!r} lacks the block prefix")
                self.stats["dropped"] += 1
                self.stats[f"dropped_{verdict.reason}"] += 1
        return verdicts

    def params(self) -> dict[str, Any]:
        """The parameters that decide this block's output (recorded beside its stats)."""
        return {}

    def stats_dict(self) -> dict[str, Any]:
        counts = {key: self.stats.get(key, 0) for key in ("total", "kept", "dropped")}
        counts.update(sorted((k, v) for k, v in self.stats.items() if k.startswith("dropped_")))
        seconds = self.batch_seconds
        return {
            "block": self.name,
            "params": self.params(),
            "counts": counts,
            # block-specific tallies, e.g. units where dedup left fewer rows than the ratio's target
            "notes": dict(sorted((k, v) for k, v in self.stats.items() if k not in counts)),
            "batches": len(seconds),
            "seconds_total": round(sum(seconds), 4),
            "seconds_max_batch": round(max(seconds), 4) if seconds else 0.0,
        }

    def stats_json(self) -> str:
        """What goes to ``stats/<block>.json`` in the output revision."""
        return json.dumps(self.stats_dict(), indent=2, sort_keys=False) + "\n"


def target_count(ratio: float, n: int) -> int:
    """Rows kept out of ``n`` at ``ratio``: ``round(ratio * n)`` with halves rounded up, at least one row.

    Python's ``round`` rounds halves to even (``round(0.5 * 5) == 2``); halves up is what a reader expects
    ("half of 5 rows keeps 3"), so the rule is ``floor(ratio * n + 0.5)``. A non-empty unit keeps at least one row.
    """
    if n <= 0:
        return 0
    return min(n, max(1, int(np.floor(ratio * n + 0.5 + 1e-9))))


def run_blocks(blocks: Sequence[SelectionBlock], batch: Batch) -> tuple[np.ndarray, list[str | None], dict]:
    """Pass one scope unit through ``blocks`` in order; each block sees only the rows the previous kept.

    Returns, per input row: whether it was kept, its drop reason (None if kept) and its score columns.
    """
    n = len(batch)
    alive = np.arange(n)
    reasons: list[str | None] = [None] * n
    scores: dict[str, np.ndarray] = {}
    for block in blocks:
        verdicts = block(batch.take(alive) if len(alive) != n else batch)
        keep_mask = np.zeros(len(alive), dtype=bool)
        for j, (row, verdict) in enumerate(zip(alive, verdicts)):
            keep_mask[j] = verdict.keep
            if not verdict.keep:
                reasons[row] = verdict.reason
            for key, value in verdict.scores.items():
                if key not in scores:
                    scores[key] = np.full(n, np.nan)
                scores[key][row] = value
        alive = alive[keep_mask]
    kept = np.zeros(n, dtype=bool)
    kept[alive] = True
    return kept, reasons, scores
