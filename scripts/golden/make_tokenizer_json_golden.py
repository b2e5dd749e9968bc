#!/usr/bin/env python3
"""Golden values for reading tokenizer.json: small byte-level BPE tokenizers trained with
Hugging Face `tokenizers` using the pre-tokenizers of GPT-2, Llama 3 (Split with its pattern,
ignore_merges) and Qwen2 (Split with its pattern, NFC normalizer), each with added special
tokens, and the ids `tokenizers` gives for the strings of smollm2_tokenizer.json.

Writes Tests/ModelsTests/Golden/tokenizers/<name>/tokenizer.json and .../expected.json.
Run from the repository root after make_smollm2_golden.py:
python3 scripts/golden/make_tokenizer_json_golden.py  (needs tokenizers)
"""
import json
import os

from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers

OUT = os.path.join("Tests", "ModelsTests", "Golden", "tokenizers")
LLAMA3 = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
QWEN2 = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"


def build(name, corpus):
    tok = Tokenizer(models.BPE(ignore_merges=(name == "llama3")))
    if name == "gpt2":
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    else:
        tok.pre_tokenizer = pre_tokenizers.Sequence([
            pre_tokenizers.Split(Regex(LLAMA3 if name == "llama3" else QWEN2), behavior="isolated", invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ])
    if name == "qwen2":
        tok.normalizer = normalizers.NFC()
    tok.decoder = decoders.ByteLevel()
    special = ["<|begin_of_text|>", "<|end_of_text|>", "<|im_start|>", "<|im_end|>"]
    trainer = trainers.BpeTrainer(vocab_size=700, special_tokens=special, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(corpus, trainer)
    return tok


def main():
    cases = json.load(open(os.path.join("Tests", "ModelsTests", "Golden", "smollm2_tokenizer.json")))["cases"]
    texts = [c["text"] for c in cases]
    corpus = texts[60:400]
    for name in ["gpt2", "llama3", "qwen2"]:
        tok = build(name, corpus)
        d = os.path.join(OUT, name)
        os.makedirs(d, exist_ok=True)
        tok.save(os.path.join(d, "tokenizer.json"))
        expected = [{"text": t, "ids": tok.encode(t, add_special_tokens=False).ids} for t in texts[:600]]
        expected = [dict(e, decoded=tok.decode(e["ids"], skip_special_tokens=False)) for e in expected]
        json.dump({"cases": expected}, open(os.path.join(d, "expected.json"), "w"), ensure_ascii=False, indent=0)
        print(name, tok.get_vocab_size(), "tokens")


if __name__ == "__main__":
    main()
