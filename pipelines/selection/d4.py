"""D4 (Tirumala et al. 2023): MinHash dedup, then SemDeDup, then SSL-prototype pruning, from one ``D4Config``.

The ratio is the budget: MinHash and SemDeDup raise their thresholds in a scope unit where they would leave
fewer rows than ``ratio`` keeps, and the prototypes then cut every unit to exactly its target, so a ``-d4-50``
config holds 50 % of every document (``run.py`` names it by what it kept when the data has fewer distinct texts).
Embedding the rows (``encoders.py``) happens between MinHash and SemDeDup; ``run.py`` does it once per
corpus so per-document units share one model load. Output columns: ``semdedup_cluster``, ``semdedup_max_sim``,
``cluster``, ``proto_dist``.

Reference: Tirumala et al. 2023, "D4: Improving LLM Pretraining via Document De-Duplication and Diversification".
"""

from __future__ import annotations

from kinject.pipelines.selection.base import SelectionBlock
from kinject.pipelines.selection.minhash import MinHashDedup
from kinject.pipelines.selection.prototypes import PrototypeSelector
from kinject.pipelines.selection.semdedup import SemDeDup
from kinject.recipes.schema import D4Config


def d4_blocks(config: D4Config, *, minhash: bool = True) -> list[SelectionBlock]:
    """``[MinHashDedup, SemDeDup, PrototypeSelector]`` sharing ``config`` (``minhash=False``: embeddings only,
    as in the benchmark on synthetic vectors that have no text)."""
    blocks: list[SelectionBlock] = [MinHashDedup(config)] if minhash else []
    return blocks + [SemDeDup(config), PrototypeSelector(config)]
