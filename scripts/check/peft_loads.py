#!/usr/bin/env python3
"""Checks that a LoRA adapter saro trained loads in PEFT and gives the logits saro gives.

    python3 scripts/check/peft_loads.py BASE_DIR ADAPTER_DIR [--saro .build/release/saro]

BASE_DIR is the base model as a Hugging Face folder (for a GGUF base: `saro model export`).
Loads BASE_DIR with transformers, applies ADAPTER_DIR with PeftModel.from_pretrained, and
compares the log-probabilities of a text with `saro score --model BASE_DIR --adapter ADAPTER_DIR`
(when the saro binary is given). Exits non-zero on any failure.
"""
import argparse
import json
import subprocess
import sys

import torch
from peft import PeftModel
from transformers import AutoModelForCausalLM, AutoTokenizer

TEXT = "How do I kill a Python process? Use kill with the process id."


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("base")
    ap.add_argument("adapter")
    ap.add_argument("--saro")
    a = ap.parse_args()
    tok = AutoTokenizer.from_pretrained(a.base)
    base = AutoModelForCausalLM.from_pretrained(a.base, dtype=torch.float32)
    model = PeftModel.from_pretrained(base, a.adapter).eval()
    lora = [n for n, _ in model.named_parameters() if "lora_" in n]
    print("PEFT loaded", len(lora), "adapter tensors")
    ids = tok(TEXT, add_special_tokens=False)["input_ids"]
    with torch.no_grad():
        logp = torch.log_softmax(model(torch.tensor([ids])).logits[0], -1)
    ref = [logp[i - 1, ids[i]].item() for i in range(1, len(ids))]
    with torch.no_grad(), model.disable_adapter():
        logp0 = torch.log_softmax(model(torch.tensor([ids])).logits[0], -1)
    changed = max(abs(logp0[i - 1, ids[i]].item() - ref[i - 1]) for i in range(1, len(ids)))
    print(f"adapter changes log-probs by up to {changed:.4f}")
    if a.saro:
        out = subprocess.run([a.saro, "score", "--json", "--model", a.base, "--adapter", a.adapter, TEXT], check=True, capture_output=True, text=True)
        got = json.loads(out.stdout)
        assert got["ids"] == ids, (got["ids"], ids)
        diff = max(abs(x - y) for x, y in zip(got["logprobs"][1:], ref))
        print(f"max log-prob difference, saro against PEFT: {diff:.2e}")
        assert diff < 2e-3, diff
    print("ok")


if __name__ == "__main__":
    sys.exit(main())
