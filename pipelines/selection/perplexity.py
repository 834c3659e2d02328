"""Perplexity pruning (Marion et al. 2023; Ankner et al. 2024): keep the rows a reference LM finds hardest,
easiest or in between.

Every row is scored once with a reference causal LM (``reference.py``): the mean next-token negative
log-likelihood over its tokens, padding masked, ``ppl = exp(mean NLL)``. Rows are sorted by token length and
batched (length buckets: most batches hold rows of one length and need no padding or mask) under
``torch.inference_mode()``; the output head runs only on positions that predict a real token. Right padding under
a causal mask leaves every real position's logits as in the unbatched run, so batched scores equal unbatched ones
(tested to 1e-5). ``PerplexityFilter`` then keeps ``top`` (highest ppl), ``bottom`` (lowest) or ``middle``
``target_count(fraction, n)`` rows of each scope unit (a document's rows, as in the paper's "keep 500 of each
document's 1,000", or the whole set).

References: Marion et al. 2023, "When Less is More: Investigating Data Pruning for Pretraining LLMs at Scale";
Ankner et al. 2024, "Perplexed by Perplexity: Perplexity-Based Data Pruning With Small Reference Models".
Input column: ``text`` (scored into ``ppl``). Output column: ``ppl``.
Stats: ``dropped_perplexity_too_low``, ``dropped_perplexity_too_high``.
"""

from __future__ import annotations

from typing import Literal, Sequence

import numpy as np

from kinject.errors import KinjectUserError
from kinject.pipelines.selection.base import Batch, SelectionBlock, Verdict, target_count

# Largest logits tensor per forward pass, in floats (512 MiB): a 49k vocabulary × 512 tokens × 32 rows would be
# 3 GiB, so long batches are split further.
_MAX_LOGIT_FLOATS = 1 << 27


def tokenize_rows(tokenizer, texts: Sequence[str], max_length: int) -> list[list[int]]:
    """Token ids per text, BOS first when the tokenizer has one (so the first real token is scored too)."""
    bos = tokenizer.bos_token_id
    encoded = tokenizer(list(texts), add_special_tokens=False)["input_ids"]
    rows = []
    for ids in encoded:
        ids = ([bos] if bos is not None else []) + list(ids)
        rows.append(ids[:max_length])
    return rows


def pad_rows(rows: Sequence[Sequence[int]], pick: Sequence[int], pad_id: int):
    """``(ids, mask)`` long tensors of ``rows[i] for i in pick``, right-padded with ``pad_id`` to the longest."""
    import torch

    longest = max(len(rows[i]) for i in pick)
    ids = torch.full((len(pick), longest), pad_id, dtype=torch.long)
    mask = torch.zeros_like(ids)
    for r, i in enumerate(pick):
        ids[r, :len(rows[i])] = torch.tensor(rows[i])
        mask[r, :len(rows[i])] = 1
    return ids, mask


def length_batches(lengths: Sequence[int], batch_size: int, max_tokens: int) -> list[list[int]]:
    """Row positions grouped into batches, longest rows first; a batch holds at most ``batch_size`` rows and
    ``max_tokens`` padded tokens, and once half full it ends where the length changes, so most batches hold rows
    of one length (no padding, no attention mask) while a corpus of scattered lengths still gets batches at least
    half full."""
    order = sorted(range(len(lengths)), key=lambda i: (-lengths[i], i))  # longest first: OOM shows at once
    batches: list[list[int]] = []
    current: list[int] = []
    for i in order:
        if current:
            size = min(batch_size, max(1, max_tokens // lengths[current[0]]))
            if len(current) >= size or (lengths[i] != lengths[current[-1]] and 2 * len(current) >= size):
                batches.append(current)
                current = []
        current.append(i)
    if current:
        batches.append(current)
    return batches


def _plain_head(model) -> bool:
    """True when the logits are the output embedding applied to the last hidden state and nothing else, so the
    head can run on the scored positions alone (models with logit soft-capping or scaling take the full pass)."""
    config = model.config
    return (getattr(config, "final_logit_softcapping", None) is None and getattr(config, "logit_scale", None) is None
            and hasattr(model, "base_model") and model.base_model is not model)


def score_token_rows(model, rows: list[list[int]], *, batch_size: int, pad_id: int = 0,
                     dtype: Literal["float32", "bfloat16"] = "float32", show_progress: bool = False) -> np.ndarray:
    """Mean next-token NLL per row (float64), batched by length; rows need at least 2 tokens.

    The decoder runs on the batch; the output head and the cross-entropy run only on the positions that predict a
    real token (not on padding, not on the last position), which is most of what a padded full forward pass
    wastes with a large vocabulary. A batch of rows of one length runs without an attention mask. ``bfloat16``
    autocasts the forward pass (weights stay float32); the cross-entropy is always computed in float32.
    """
    import torch
    import torch.nn.functional as F
    from tqdm.auto import tqdm

    short = [i for i, ids in enumerate(rows) if len(ids) < 2]
    if short:
        raise KinjectUserError(f"perplexity: row {short[0]} has fewer than 2 tokens ({len(short)} such rows); "
                               "nothing to score — drop empty texts first")
    vocab = model.get_output_embeddings().weight.shape[0]
    plain = _plain_head(model)
    scores = np.empty(len(rows), dtype=np.float64)
    device = next(model.parameters()).device
    model.eval()
    progress = tqdm(total=len(rows), desc="perplexity", unit="rows", disable=not show_progress)
    with torch.inference_mode(), torch.autocast(device.type, dtype=torch.bfloat16, enabled=dtype == "bfloat16"):
        for chunk in length_batches([len(r) for r in rows], batch_size, _MAX_LOGIT_FLOATS // vocab):
            ids, attention = pad_rows(rows, chunk, pad_id)
            ids, mask = ids.to(device), attention.bool().to(device)
            attention = None if bool(mask.all()) else attention.to(device)
            scored = mask[:, 1:]  # position t predicts token t + 1
            if plain:
                hidden = model.base_model(input_ids=ids, attention_mask=attention).last_hidden_state
                logits = model.get_output_embeddings()(hidden[:, :-1][scored])
            else:
                logits = model(input_ids=ids, attention_mask=attention).logits[:, :-1][scored]
            nll = F.cross_entropy(logits.float(), ids[:, 1:][scored], reduction="none")
            row_of = torch.arange(len(chunk), device=device)[:, None].expand_as(scored)[scored]
            total = torch.zeros(len(chunk), dtype=torch.float64, device=device).index_add_(0, row_of, nll.double())
            scores[chunk] = (total / scored.sum(dim=1)).cpu().numpy()
            progress.update(len(chunk))
    progress.close()
    return scores


def score_texts(model, tokenizer, texts: Sequence[str], *, batch_size: int, max_length: int,
                dtype: Literal["float32", "bfloat16"] = "float32", show_progress: bool = False) -> np.ndarray:
    """Perplexity ``exp(mean NLL)`` of each text under ``model``."""
    rows = tokenize_rows(tokenizer, texts, max_length)
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    nll = score_token_rows(model, rows, batch_size=batch_size, pad_id=pad_id, dtype=dtype,
                           show_progress=show_progress)
    return np.exp(nll)


def select_by_rank(ppl: np.ndarray, keep: Literal["top", "bottom", "middle"], n_keep: int) -> np.ndarray:
    """Positions kept: sorted by (ppl, position) ascending, ``top`` keeps the last ``n_keep``, ``bottom`` the
    first, ``middle`` the window starting at ``(n - n_keep) // 2``."""
    n = len(ppl)
    order = np.lexsort((np.arange(n), ppl))
    start = {"bottom": 0, "top": n - n_keep, "middle": (n - n_keep) // 2}[keep]
    return np.sort(order[start:start + n_keep])


class PerplexityFilter(SelectionBlock):
    """Keep ``fraction`` of a unit's rows by perplexity rank: ``top`` (highest), ``bottom`` or ``middle``.

    References: Marion et al. 2023; Ankner et al. 2024. Input column: ``ppl``. Output column: ``ppl``.
    Stats: ``dropped_perplexity_too_low`` (below the kept window), ``dropped_perplexity_too_high`` (above it).
    """

    name = "perplexity"

    def __init__(self, keep: Literal["top", "bottom", "middle"], fraction: float) -> None:
        super().__init__()
        if keep not in ("top", "bottom", "middle"):
            raise ValueError(f"keep must be top, bottom or middle, got {keep!r}")
        self.keep = keep
        self.fraction = fraction

    def params(self) -> dict:
        return {"keep": self.keep, "fraction": self.fraction,
                "rounding": "floor(fraction * unit_rows + 0.5), at least 1", "ties": "lower row position ranks lower"}

    def judge(self, batch: Batch) -> list[Verdict]:
        ppl = np.asarray(batch.column("ppl"), dtype=np.float64)
        n = len(ppl)
        kept = select_by_rank(ppl, self.keep, target_count(self.fraction, n))
        rank = np.empty(n, dtype=np.int64)
        rank[np.lexsort((np.arange(n), ppl))] = np.arange(n)
        lowest_kept = rank[kept].min()
        keep_mask = np.zeros(n, dtype=bool)
        keep_mask[kept] = True
        return [
            Verdict(True, None, {"ppl": float(p)}) if k
            else Verdict(False, "perplexity_too_low" if r < lowest_kept else "perplexity_too_high", {"ppl": float(p)})
            for k, r, p in zip(keep_mask, rank, ppl)
        ]
