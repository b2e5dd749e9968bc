#!/usr/bin/env python3
"""Golden values for training: LoRA SFT and DPO gradients on a tiny Llama, from PyTorch +
transformers + PEFT (float64).

Takes the tiny model of Tests/ModelsTests/Golden/tiny_llama_gqa_llama3.safetensors, puts PEFT
LoRA adapters (r 4, alpha 8, dropout 0, all linear projections) on it with random A and B, and
computes:
  SFT: mean NLL over the labelled tokens of two sequences, and the gradients of every
       lora_A / lora_B weight;
  DPO: sigmoid loss (beta 0.1) for two pairs of (prompt, chosen, rejected), the reference being
       the same model with adapters disabled, and the adapters' gradients.
Writes Tests/TrainingTests/Golden/lora_golden.safetensors. Run from the repository root:
python3 scripts/golden/make_lora_golden.py   (needs torch, transformers, peft, safetensors)
"""
import json
import os

import torch
import torch.nn.functional as F
from peft import LoraConfig, get_peft_model
from safetensors import safe_open
from safetensors.torch import save_file
from transformers import LlamaConfig, LlamaForCausalLM

SRC = os.path.join("Tests", "ModelsTests", "Golden", "tiny_llama_gqa_llama3.safetensors")
OUT = os.path.join("Tests", "TrainingTests", "Golden", "lora_golden.safetensors")


def load_base():
    f = safe_open(SRC, "pt")
    cfg = json.loads(f.metadata()["config"])
    keep = {k: v for k, v in cfg.items() if k in LlamaConfig().to_dict() or k == "rope_parameters"}
    config = LlamaConfig(**keep)
    config._attn_implementation = "eager"
    model = LlamaForCausalLM(config).to(torch.float64)
    state = {k: f.get_tensor(k).to(torch.float64) for k in f.keys() if not k.startswith(("grad.", "expected.")) and k not in ("input_ids", "labels")}
    missing, unexpected = model.load_state_dict(state, strict=False)
    assert not unexpected and all("rotary" in k for k in missing), (missing, unexpected)
    return model, f


def seq_logps(model, rows, masks):
    ids = torch.tensor(rows)
    logits = model(input_ids=ids).logits
    logp = torch.log_softmax(logits[:, :-1], dim=-1).gather(-1, ids[:, 1:].unsqueeze(-1)).squeeze(-1)
    return (logp * torch.tensor(masks, dtype=torch.float64)[:, 1:]).sum(-1)


def main():
    torch.manual_seed(99)
    base, f = load_base()
    model = get_peft_model(base, LoraConfig(r=4, lora_alpha=8, lora_dropout=0.0,
                                            target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]))
    with torch.no_grad():
        for n, p in model.named_parameters():
            if "lora_" in n:
                p.copy_(0.2 * torch.randn_like(p))
    out = {}
    for n, p in model.named_parameters():
        if "lora_" in n:
            out[n.replace(".default", "")] = p.detach().float().contiguous()

    # SFT: two right-padded sequences; label mask as saro's loss mask (True = trained token).
    rows = [[5, 9, 2, 33, 41, 7, 12, 0], [17, 3, 3, 60, 22, 8, 0, 0]]
    mask = [[0, 0, 0, 1, 1, 1, 1, 0], [0, 0, 1, 1, 1, 1, 0, 0]]
    labels = torch.tensor([[t if m else -100 for t, m in zip(r, mk)] for r, mk in zip(rows, mask)])
    logits = model(input_ids=torch.tensor(rows)).logits
    sft = F.cross_entropy(logits[:, :-1].reshape(-1, logits.shape[-1]), labels[:, 1:].reshape(-1), ignore_index=-100)
    sft.backward()
    for n, p in model.named_parameters():
        if "lora_" in n:
            out["sft_grad." + n.replace(".default", "")] = p.grad.detach().float().contiguous()
            p.grad = None
    out["sft.ids"] = torch.tensor(rows, dtype=torch.int64)
    out["sft.mask"] = torch.tensor(mask, dtype=torch.int64)
    out["sft.loss"] = sft.detach().float().reshape(1)

    # DPO: TRL's sigmoid loss, reference = adapters disabled.
    prompts = [[4, 8, 15, 16], [23, 42]]
    chosen = [[30, 31, 2], [50, 51, 52, 2]]
    rejected = [[40, 2], [60, 61, 62, 63, 2]]
    seqs = [p + c for p, c in zip(prompts, chosen)] + [p + c for p, c in zip(prompts, rejected)]
    width = max(len(s) for s in seqs)
    masks = [[0] * len(p) + [1] * len(c) + [0] * (width - len(p) - len(c)) for p, c in zip(prompts + prompts, chosen + rejected)]
    seqs = [s + [0] * (width - len(s)) for s in seqs]
    with torch.no_grad(), model.disable_adapter():
        ref = seq_logps(model, seqs, masks)
    pol = seq_logps(model, seqs, masks)
    beta = 0.1
    h = (pol[:2] - ref[:2]) - (pol[2:] - ref[2:])
    dpo = (-F.logsigmoid(beta * h)).mean()
    dpo.backward()
    for n, p in model.named_parameters():
        if "lora_" in n:
            out["dpo_grad." + n.replace(".default", "")] = p.grad.detach().float().contiguous()
    out["dpo.prompts"] = torch.tensor([p + [-1] * (4 - len(p)) for p in prompts], dtype=torch.int64)
    out["dpo.chosen"] = torch.tensor([c + [-1] * (5 - len(c)) for c in chosen], dtype=torch.int64)
    out["dpo.rejected"] = torch.tensor([c + [-1] * (5 - len(c)) for c in rejected], dtype=torch.int64)
    out["dpo.loss"] = dpo.detach().float().reshape(1)
    out["dpo.reference"] = ref.detach().float()
    out["dpo.policy"] = pol.detach().float()
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    save_file(out, OUT, metadata={"base": SRC, "r": "4", "lora_alpha": "8"})
    print(OUT, "sft", sft.item(), "dpo", dpo.item())


if __name__ == "__main__":
    main()
