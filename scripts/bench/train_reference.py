#!/usr/bin/env python3
"""The reference for `saro bench train`: the same LoRA SFT step in PyTorch + transformers + PEFT
on the same model (rank 16 on all linear layers, batch 4 x 512 random tokens, AdamW), best of
N timed steps after a warm-up. Prints JSON {"sft_tokens_per_second", "seconds_per_step",
"peak_resident_megabytes", "torch_threads"}.

    python3 scripts/bench/train_reference.py MODEL [--steps 3] [--batch 4] [--length 512]

MODEL is a .gguf file (loaded with gguf_file=) or a Hugging Face folder.
"""
import argparse
import json
import os
import resource
import time

import torch
from peft import LoraConfig, get_peft_model
from transformers import AutoModelForCausalLM


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--length", type=int, default=512)
    ap.add_argument("--rank", type=int, default=16)
    a = ap.parse_args()
    folder, name = os.path.split(a.model)
    kw = {"gguf_file": name} if name.endswith(".gguf") else {}
    model = AutoModelForCausalLM.from_pretrained(folder if kw else a.model, dtype=torch.float32, **kw)
    model = get_peft_model(model, LoraConfig(r=a.rank, lora_alpha=2 * a.rank, lora_dropout=0.0,
                                             target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]))
    model.train()
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    ids = torch.randint(0, model.config.vocab_size, (a.batch, a.length))
    best = float("inf")
    for i in range(a.steps + 1):
        t = time.perf_counter()
        loss = model(input_ids=ids, labels=ids).loss
        loss.backward()
        opt.step()
        opt.zero_grad()
        if i > 0:
            best = min(best, time.perf_counter() - t)
    print(json.dumps({"sft_tokens_per_second": a.batch * a.length / best, "seconds_per_step": best,
                      "peak_resident_megabytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                      "torch_threads": torch.get_num_threads()}))


if __name__ == "__main__":
    main()
