"""The character tokenizer and the tiny Llama built from config."""

import torch
from transformers import set_seed

from kinject.recipes.schema import TinyModelConfig
from kinject.tiny import build_tiny_llama, train_char_tokenizer

TEXTS = ["ルミナX3の価格は12,800円です。", "Question: What is it?\nAnswer: a lamp"]


def test_char_tokenizer_one_token_per_character_and_round_trips():
    tok = train_char_tokenizer(TEXTS)
    chars = set("".join(TEXTS))
    assert len(tok) == len(chars) + 4
    text = "価格は12,800円\nです"
    ids = tok(text)["input_ids"]
    assert ids[0] == tok.bos_token_id
    assert len(ids) == len(text) + 1
    assert tok.decode(ids, skip_special_tokens=True) == text


def test_char_tokenizer_unknown_character_and_specials():
    tok = train_char_tokenizer(TEXTS)
    ids = tok("猫", add_special_tokens=False)["input_ids"]
    assert ids == [tok.unk_token_id]
    assert {tok.pad_token, tok.bos_token, tok.eos_token, tok.unk_token} == {"<pad>", "<s>", "</s>", "<unk>"}
    assert len({tok.pad_token_id, tok.bos_token_id, tok.eos_token_id, tok.unk_token_id}) == 4


def test_char_tokenizer_saves_and_reloads(tmp_path):
    from transformers import AutoTokenizer

    tok = train_char_tokenizer(TEXTS)
    tok.save_pretrained(tmp_path)
    again = AutoTokenizer.from_pretrained(tmp_path)
    assert again("価格")["input_ids"] == tok("価格")["input_ids"]
    assert again.decode(again("価格 12")["input_ids"], skip_special_tokens=True) == "価格 12"


def test_tiny_llama_matches_config_ties_embeddings_and_is_seeded():
    tok = train_char_tokenizer(TEXTS)
    cfg = TinyModelConfig(hidden_size=32, num_layers=2, num_heads=2, intermediate_size=64)
    set_seed(0)
    model = build_tiny_llama(cfg, tok)
    assert model.config.vocab_size == len(tok)
    assert model.config.num_hidden_layers == 2 and model.config.hidden_size == 32
    assert model.get_output_embeddings().weight.data_ptr() == model.get_input_embeddings().weight.data_ptr()
    batch = tok(TEXTS, return_tensors="pt", padding=True)
    out = model(**batch, labels=batch["input_ids"])
    assert torch.isfinite(out.loss)
    set_seed(0)
    again = build_tiny_llama(cfg, tok)
    assert torch.equal(model.model.embed_tokens.weight, again.model.embed_tokens.weight)
