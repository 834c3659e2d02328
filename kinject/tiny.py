"""Tiny models built from config: a character-level tokenizer and a small Llama.

The offline default base model (docs/architecture.md, "Embedded defaults"): no weights are downloaded, the tokenizer is
trained on the seed and corpus text of the run, and both are saved with the run. Character level suits this
size: a few hundred symbols cover a Japanese corpus, every fact value is spelled out character by character,
and there is no out-of-vocabulary problem within the run's own text.
"""

from __future__ import annotations

from typing import Iterable

from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, processors, trainers
from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

from kinject.recipes.schema import TinyModelConfig

PAD, BOS, EOS, UNK = "<pad>", "<s>", "</s>", "<unk>"
SPECIAL_TOKENS = [PAD, BOS, EOS, UNK]


def train_char_tokenizer(texts: Iterable[str]) -> PreTrainedTokenizerFast:
    """Train a character-level tokenizer on ``texts``: one token per character, plus pad/bos/eos/unk.

    A ``WordLevel`` model over single characters (rather than BPE with no merges) keeps the vocabulary exactly
    the set of characters seen; ``Fuse`` decodes without the spaces WordLevel would otherwise insert. Every
    encoding starts with ``<s>`` so training text and evaluation prompts begin alike.
    """
    # The vocabulary is built here rather than by WordLevelTrainer: the trainer breaks frequency ties in hash
    # order, so the same texts could get different ids from run to run (and a different model from the same seed).
    chars = sorted({char for text in texts for char in text})
    vocab = {token: i for i, token in enumerate(SPECIAL_TOKENS + chars)}
    tokenizer = Tokenizer(models.WordLevel(vocab=vocab, unk_token=UNK))
    # [\s\S] rather than "." so newlines are characters too.
    tokenizer.pre_tokenizer = pre_tokenizers.Split(Regex(r"[\s\S]"), behavior="isolated")
    tokenizer.decoder = decoders.Fuse()
    bos_id = tokenizer.token_to_id(BOS)
    tokenizer.post_processor = processors.TemplateProcessing(
        single=f"{BOS} $A", pair=f"{BOS} $A {BOS} $B", special_tokens=[(BOS, bos_id)]
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, bos_token=BOS, eos_token=EOS, pad_token=PAD, unk_token=UNK
    )


# Digits, separators, brackets and whitespace are tokens of their own, so a value is spelled with the same tokens in a
# document and in an answer ("4,860円" after "は" or after "答え: "); BPE merges only within the runs between them.
_BPE_ISOLATED = Regex(r"[0-9０-９,.:：、。「」『』（）()\s]")


def train_bpe_tokenizer(texts: Iterable[str], alphabet: Iterable[str], vocab_size: int) -> PreTrainedTokenizerFast:
    """Train a byte-pair tokenizer of ``vocab_size`` on ``texts``; every character of ``alphabet`` stays a token.

    For a base model trained once and continued on documents it has not seen: the alphabet (every character the
    document builder can write) keeps their text free of ``<unk>``, and merges learnt on the teaching text split
    unseen names into known pieces. About 2.3× fewer tokens than characters on the Japanese documents.
    """
    chars = sorted(set(alphabet))
    tokenizer = Tokenizer(models.BPE(unk_token=UNK))
    tokenizer.pre_tokenizer = pre_tokenizers.Split(_BPE_ISOLATED, behavior="isolated")
    tokenizer.decoder = decoders.Fuse()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, special_tokens=SPECIAL_TOKENS, initial_alphabet=chars, show_progress=False,
        max_token_length=6,
    )
    tokenizer.train_from_iterator(texts, trainer)
    bos_id = tokenizer.token_to_id(BOS)
    tokenizer.post_processor = processors.TemplateProcessing(
        single=f"{BOS} $A", pair=f"{BOS} $A {BOS} $B", special_tokens=[(BOS, bos_id)]
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, bos_token=BOS, eos_token=EOS, pad_token=PAD, unk_token=UNK
    )


def build_tiny_llama(cfg: TinyModelConfig, tokenizer: PreTrainedTokenizerFast) -> LlamaForCausalLM:
    """A freshly initialised Llama sized by ``cfg`` with the tokenizer's vocabulary and tied embeddings.

    Initialisation follows torch's global RNG: call ``transformers.set_seed`` first for a reproducible model.
    """
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=cfg.hidden_size,
        num_hidden_layers=cfg.num_layers,
        num_attention_heads=cfg.num_heads,
        num_key_value_heads=cfg.num_heads,
        intermediate_size=cfg.intermediate_size,
        max_position_embeddings=cfg.max_position_embeddings,
        tie_word_embeddings=True,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    return LlamaForCausalLM(config)
