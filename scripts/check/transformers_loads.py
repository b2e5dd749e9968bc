#!/usr/bin/env python3
"""Checks that a folder saro saved (saro model export, or a trained model) loads in
transformers and computes what saro computes.

    python3 scripts/check/transformers_loads.py DIR [--gguf FILE]

Loads DIR with AutoModelForCausalLM and AutoTokenizer, prints the config's architecture,
tokenizes a few strings, and greedily generates an answer. With --gguf, also loads the GGUF
the folder came from and asserts that the logits agree within 1e-4 and the token ids match.
Exits non-zero on any failure.
"""
import argparse
import os
import sys

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

TEXTS = ["The capital of France is Paris.", "  spaces\tand\nnewlines 12345", "<|im_start|>user\nHi<|im_end|>", "日本語 😀 café"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--gguf")
    args = ap.parse_args()
    tok = AutoTokenizer.from_pretrained(args.dir)
    model = AutoModelForCausalLM.from_pretrained(args.dir, torch_dtype=torch.float32).eval()
    print("loaded", type(model).__name__, "with", sum(p.numel() for p in model.parameters()), "parameters")
    msgs = [{"role": "user", "content": "What is the capital of France?"}]
    ids = tok.apply_chat_template(msgs, add_generation_prompt=True, return_tensors="pt", return_dict=True)["input_ids"]
    with torch.no_grad():
        out = model.generate(ids, max_new_tokens=12, do_sample=False)
    answer = tok.decode(out[0, ids.shape[1]:], skip_special_tokens=True)
    print("greedy answer:", repr(answer))
    if args.gguf:
        folder, name = os.path.split(args.gguf)
        ref_tok = AutoTokenizer.from_pretrained(folder, gguf_file=name)
        ref = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, torch_dtype=torch.float32).eval()
        for t in TEXTS:
            a, b = tok(t, add_special_tokens=False)["input_ids"], ref_tok(t, add_special_tokens=False)["input_ids"]
            assert a == b, f"token ids differ for {t!r}: {a} vs {b}"
        x = torch.tensor([ref_tok(TEXTS[0], add_special_tokens=False)["input_ids"]])
        with torch.no_grad():
            diff = (model(x).logits - ref(x).logits).abs().max().item()
        print(f"max logit difference against the GGUF: {diff:.2e}")
        assert diff < 1e-4, diff
    print("ok")


if __name__ == "__main__":
    sys.exit(main())
