#!/usr/bin/env python3
"""Golden values for reading tokenizer.json: small byte-level BPE tokenizers trained with
Hugging Face `tokenizers` using the pre-tokenizers of GPT-2, Llama 3 (Split with its pattern,
ignore_merges) and Qwen2 (Split with its pattern, NFC normalizer), each with added special
tokens, and the ids `tokenizers` gives for the strings of smollm2_tokenizer.json.

Writes Tests/ModelsTests/Golden/tokenizers/<name>/tokenizer.json and .../expected.json. The
llama3 and mistral folders also get a tokenizer_config.json with that family's chat template
(as published with Llama 3 and Mistral Instruct) and expected.json holds the ids transformers'
apply_chat_template gives for a few conversations.
Run from the repository root after make_smollm2_golden.py:
python3 scripts/golden/make_tokenizer_json_golden.py  (needs tokenizers)
"""
import json
import os

from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers
from transformers import PreTrainedTokenizerFast

OUT = os.path.join("Tests", "ModelsTests", "Golden", "tokenizers")
LLAMA3 = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
LLAMA3_TEMPLATE = ("{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = '<|start_header_id|>' + message['role'] + "
                   "'<|end_header_id|>\n\n'+ message['content'] | trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}{% set content = bos_token + content %}"
                   "{% endif %}{{ content }}{% endfor %}{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}")
MISTRAL_TEMPLATE = ("{{ bos_token }}{% for message in messages %}{% if message['role'] == 'user' %}{{ '[INST] ' + message['content'] + ' [/INST]' }}"
                    "{% elif message['role'] == 'assistant' %}{{ ' ' + message['content'] + eos_token }}{% endif %}{% endfor %}")
CHATS = [
    [{"role": "user", "content": "What is the capital of France?"}],
    [{"role": "user", "content": "How do I kill a Python process?"}, {"role": "assistant", "content": "<think>\nA process.\n</think>\nUse kill."},
     {"role": "user", "content": "Thanks!"}],
]
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
    special = ["<|begin_of_text|>", "<|end_of_text|>", "<|im_start|>", "<|im_end|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>", "<s>", "</s>"]
    trainer = trainers.BpeTrainer(vocab_size=700, special_tokens=special, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(corpus, trainer)
    return tok


def main():
    cases = json.load(open(os.path.join("Tests", "ModelsTests", "Golden", "smollm2_tokenizer.json")))["cases"]
    texts = [c["text"] for c in cases]
    corpus = texts[60:400]
    for name in ["gpt2", "llama3", "qwen2", "mistral"]:
        tok = build("gpt2" if name == "mistral" else name, corpus)
        d = os.path.join(OUT, name)
        os.makedirs(d, exist_ok=True)
        tok.save(os.path.join(d, "tokenizer.json"))
        expected = [{"text": t, "ids": tok.encode(t, add_special_tokens=False).ids} for t in texts[:600]]
        expected = [dict(e, decoded=tok.decode(e["ids"], skip_special_tokens=False)) for e in expected]
        chats = []
        if name in ("llama3", "mistral"):
            bos, eos = ("<|begin_of_text|>", "<|eot_id|>") if name == "llama3" else ("<s>", "</s>")
            template = LLAMA3_TEMPLATE if name == "llama3" else MISTRAL_TEMPLATE
            fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token=bos, eos_token=eos, chat_template=template)
            json.dump({"bos_token": bos, "eos_token": eos, "chat_template": template, "add_bos_token": False},
                      open(os.path.join(d, "tokenizer_config.json"), "w"), indent=1)
            for m in CHATS:
                for gen in ([True, False] if name == "llama3" else [False]):
                    ids = fast.apply_chat_template(m, add_generation_prompt=gen, tokenize=True, return_dict=True)["input_ids"]
                    chats.append({"messages": m, "add_generation_prompt": gen, "ids": list(ids)})
        json.dump({"cases": expected, "chats": chats}, open(os.path.join(d, "expected.json"), "w"), ensure_ascii=False, indent=0)
        print(name, tok.get_vocab_size(), "tokens")


if __name__ == "__main__":
    main()
