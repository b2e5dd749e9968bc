#!/usr/bin/env python3
"""Golden values for SentencePiece-style tokenizer.json files: small BPE tokenizers with byte
fallback trained by Hugging Face `tokenizers`, with the normalizers, pre-tokenizers and decoders
of three families:

  llama2:      Prepend("▁") + Replace(" ", "▁") normalizer, no pre-tokenizer, Strip decoder (legacy);
  mistral-v3:  Metaspace pre-tokenizer (prepend_scheme "first", no split), Strip decoder;
  gemma:       Replace(" ", "▁") normalizer only: no "▁" before the text, no space dropped.

Each has <0xXX> byte tokens (characters outside its small alphabet, such as CJK and emoji, fall
back to bytes), BOS added by a TemplateProcessing post-processor, and a tokenizer_config.json
with a chat template in its family's conventions. Writes
Tests/ModelsTests/Golden/tokenizers/<name>/{tokenizer.json,tokenizer_config.json,expected.json}:
the ids `tokenizers` gives for the strings of smollm2_tokenizer.json, their decoding, and the
ids transformers' apply_chat_template gives for a few conversations.

Run from the repository root with the TRL environment's python:
  ~/.cache/saro/trl-venv/bin/python scripts/golden/make_sentencepiece_golden.py
"""
import json
import os

from tokenizers import AddedToken, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
from transformers import PreTrainedTokenizerFast

OUT = os.path.join("Tests", "ModelsTests", "Golden", "tokenizers")
SPACE = "\u2581"

# Written for these tests in each family's conventions.
TEMPLATES = {
    "llama2": ("{%- if messages[0]['role'] == 'system' %}{%- set system = messages[0]['content'] %}{%- set turns = messages[1:] %}"
               "{%- else %}{%- set system = none %}{%- set turns = messages %}{%- endif %}"
               "{%- for m in turns %}"
               "{%- if (m['role'] == 'user') != (loop.index0 % 2 == 0) %}{{ raise_exception('user and assistant turns must alternate') }}{%- endif %}"
               "{%- set text = m['content'] %}"
               "{%- if loop.first and system is not none %}{%- set text = '<<SYS>>\\n' + system + '\\n<</SYS>>\\n\\n' + text %}{%- endif %}"
               "{%- if m['role'] == 'user' %}{{ bos_token + '[INST] ' + text.strip() + ' [/INST]' }}"
               "{%- else %}{{ ' ' + text.strip() + ' ' + eos_token }}{%- endif %}"
               "{%- endfor %}"),
    "mistral-v3": ("{{- bos_token }}{%- for m in messages %}{%- if m.role == 'user' %}{{- '[INST] ' + m.content + '[/INST]' }}"
                   "{%- elif m.role == 'assistant' %}{{- ' ' + m.content | trim + eos_token }}"
                   "{%- else %}{{- raise_exception('only user and assistant roles') }}{%- endif %}{%- endfor %}"),
    "gemma": ("{{ bos_token }}{% for m in messages %}{% set role = 'model' if m['role'] == 'assistant' else m['role'] %}"
              "{{ '<start_of_turn>' + role + '\\n' + m['content'] | trim + '<end_of_turn>\\n' }}{% endfor %}"
              "{% if add_generation_prompt %}{{ '<start_of_turn>model\\n' }}{% endif %}"),
}
SPECIALS = {
    "llama2": (["<unk>", "<s>", "</s>"], "<s>", "</s>"),
    "mistral-v3": (["<unk>", "<s>", "</s>", "[INST]", "[/INST]"], "<s>", "</s>"),
    "gemma": (["<pad>", "<eos>", "<bos>", "<unk>", "<start_of_turn>", "<end_of_turn>"], "<bos>", "<eos>"),
}
CHATS = [
    [{"role": "user", "content": "What is the capital of France?"}],
    [{"role": "user", "content": "How do I kill a Python process?"}, {"role": "assistant", "content": "<think>\nA process.\n</think>\nUse kill."},
     {"role": "user", "content": " Thanks! 日本 😀"}],
]


def train(name, corpus):
    specials, bos, eos = SPECIALS[name]
    # Words for training: Metaspace splitting, as SentencePiece learns pieces within words.
    t = Tokenizer(models.BPE(unk_token="<unk>", byte_fallback=True, fuse_unk=True))
    t.pre_tokenizer = pre_tokenizers.Metaspace(replacement=SPACE, prepend_scheme="always", split=True)
    t.train_from_iterator(corpus, trainers.BpeTrainer(vocab_size=700, special_tokens=specials, limit_alphabet=90, show_progress=False))
    trained = json.loads(t.to_str())["model"]
    # The byte tokens follow the special ones, as in Llama 2's and Gemma's vocabularies.
    vocab = {s: i for i, s in enumerate(specials)}
    for b in range(256):
        vocab["<0x%02X>" % b] = len(vocab)
    for piece, _ in sorted(trained["vocab"].items(), key=lambda kv: kv[1]):
        if piece not in vocab:
            vocab[piece] = len(vocab)
    merges = [tuple(m) if isinstance(m, list) else tuple(m.split(" ")) for m in trained["merges"]]
    tok = Tokenizer(models.BPE(vocab=vocab, merges=merges, unk_token="<unk>", byte_fallback=True, fuse_unk=True))
    if name == "llama2":
        tok.normalizer = normalizers.Sequence([normalizers.Prepend(SPACE), normalizers.Replace(" ", SPACE)])
        tok.decoder = decoders.Sequence([decoders.Replace(SPACE, " "), decoders.ByteFallback(), decoders.Fuse(), decoders.Strip(" ", 1, 0)])
    elif name == "mistral-v3":
        tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement=SPACE, prepend_scheme="first", split=False)
        tok.decoder = decoders.Sequence([decoders.Replace(SPACE, " "), decoders.ByteFallback(), decoders.Fuse(), decoders.Strip(" ", 1, 0)])
    else:
        tok.normalizer = normalizers.Replace(" ", SPACE)
        tok.decoder = decoders.Sequence([decoders.Replace(SPACE, " "), decoders.ByteFallback(), decoders.Fuse()])
    tok.add_special_tokens([AddedToken(s, special=True, normalized=False) for s in specials])
    tok.post_processor = processors.TemplateProcessing(single=f"{bos} $A", pair=f"{bos} $A $B", special_tokens=[(bos, vocab[bos])])
    return tok, bos, eos


def main():
    cases = json.load(open(os.path.join("Tests", "ModelsTests", "Golden", "smollm2_tokenizer.json")))["cases"]
    texts = [c["text"] for c in cases]
    corpus = texts[60:400]
    for name in TEMPLATES:
        tok, bos, eos = train(name, corpus)
        d = os.path.join(OUT, name)
        os.makedirs(d, exist_ok=True)
        tok.save(os.path.join(d, "tokenizer.json"))
        json.dump({"bos_token": bos, "eos_token": eos, "unk_token": "<unk>", "chat_template": TEMPLATES[name], "add_bos_token": True},
                  open(os.path.join(d, "tokenizer_config.json"), "w"), indent=1, ensure_ascii=False)
        expected = [{"text": t, "ids": tok.encode(t, add_special_tokens=False).ids} for t in texts[:600]]
        expected = [dict(e, decoded=tok.decode(e["ids"], skip_special_tokens=False)) for e in expected]
        fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token=bos, eos_token=eos, unk_token="<unk>", chat_template=TEMPLATES[name])
        chats = []
        for m in CHATS:
            for gen in (True, False):
                ids = fast.apply_chat_template(m, add_generation_prompt=gen, tokenize=True, return_dict=True)["input_ids"]
                chats.append({"messages": m, "add_generation_prompt": gen, "ids": list(ids)})
        with_bos = tok.encode("Hello world").ids
        json.dump({"cases": expected, "chats": chats, "with_special_tokens": {"text": "Hello world", "ids": with_bos}},
                  open(os.path.join(d, "expected.json"), "w"), ensure_ascii=False, indent=0)
        print(name, tok.get_vocab_size(), "tokens,", sum(any(0 < i < 259 and tok.id_to_token(i).startswith("<0x") for i in e["ids"]) for e in expected), "strings with byte fallback")


if __name__ == "__main__":
    main()
