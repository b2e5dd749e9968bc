#!/usr/bin/env python3
"""Golden values for saro's tensor engine: tiny two-layer Llama-family models' logits, loss
and gradients, computed by PyTorch + transformers (LlamaForCausalLM, Qwen2ForCausalLM,
Phi3ForCausalLM and Gemma2ForCausalLM, eager attention, float64).

Writes Tests/ModelsTests/Golden/tiny_llama_<case>.safetensors holding:
  every parameter under its Hugging Face name (F32), input_ids and labels (I64),
  "expected.logits", "expected.loss", "expected.hidden_1" (hidden_states[1] of the first
  sequence), "grad.<parameter name>" (F32),
  and the model's config.json in the metadata key "config".
Run from the repository root:  python3 scripts/golden/make_tiny_llama_golden.py [CASE ...]
(all cases when none are named)
Needs torch (the CPU wheel these machines carry), transformers and safetensors.
"""
import json
import os

import torch
from safetensors.torch import save_file
import sys

from transformers import (Gemma2Config, Gemma2ForCausalLM, LlamaConfig, LlamaForCausalLM, Phi3Config, Phi3ForCausalLM, Qwen2Config,
                          Qwen2ForCausalLM)

OUT = os.path.join("Tests", "ModelsTests", "Golden")

CASES = {
    # Grouped-query attention (4 query heads, 2 KV heads), separate output head, Llama 3
    # rotary scaling with a small original context so all three frequency bands occur.
    "gqa_llama3": dict(
        vocab_size=64, hidden_size=32, intermediate_size=48, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, rms_norm_eps=1e-5, max_position_embeddings=64,
        tie_word_embeddings=False, attention_bias=False,
        rope_scaling={"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                      "high_freq_factor": 4.0, "original_max_position_embeddings": 16},
        rope_theta=10000.0,
    ),
    # Tied embeddings (as SmolLM2), Llama's attention_bias (q, k, v and o) and mlp_bias,
    # multi-query attention.
    "tied_bias": dict(
        vocab_size=48, hidden_size=24, intermediate_size=40, num_hidden_layers=2,
        num_attention_heads=3, num_key_value_heads=1, rms_norm_eps=1e-6, max_position_embeddings=64,
        tie_word_embeddings=True, attention_bias=True, mlp_bias=True, rope_theta=100000.0,
    ),
    # Qwen2: biases on q, k and v only.
    "qwen2": dict(
        arch="qwen2", vocab_size=40, hidden_size=32, intermediate_size=56, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, rms_norm_eps=1e-6, max_position_embeddings=64,
        tie_word_embeddings=False, rope_theta=1000000.0,
    ),
    # Phi-3: q, k and v in one fused qkv_proj, gate and up in one gate_up_proj.
    "phi3": dict(
        arch="phi3", vocab_size=56, hidden_size=32, intermediate_size=44, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, rms_norm_eps=1e-5, max_position_embeddings=64,
        original_max_position_embeddings=64, tie_word_embeddings=False, rope_theta=10000.0,
        pad_token_id=0, bos_token_id=1, eos_token_id=2,
    ),
    # Gemma 2: four norms per layer scaling by 1 + w, GeGLU (tanh GELU), scaled embeddings,
    # attention scaled by query_pre_attn_scalar (not head_dim), small soft caps so that they
    # bend the scores and logits, and a sliding window of 4 on layer 0 shorter than the 9 tokens.
    "gemma2": dict(
        arch="gemma2", vocab_size=60, hidden_size=32, intermediate_size=40, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, head_dim=8, rms_norm_eps=1e-6, max_position_embeddings=64,
        tie_word_embeddings=True, rope_theta=10000.0, query_pre_attn_scalar=12, attn_logit_softcapping=2.0,
        final_logit_softcapping=3.0, sliding_window=4, hidden_activation="gelu_pytorch_tanh",
        pad_token_id=0, bos_token_id=2, eos_token_id=1,
    ),
}

ARCHS = {"llama": (LlamaConfig, LlamaForCausalLM), "qwen2": (Qwen2Config, Qwen2ForCausalLM), "phi3": (Phi3Config, Phi3ForCausalLM),
         "gemma2": (Gemma2Config, Gemma2ForCausalLM)}


def make(name, kwargs, seed):
    torch.manual_seed(seed)
    kwargs = dict(kwargs)
    arch = kwargs.pop("arch", "llama")
    config_class, model_class = ARCHS[arch]
    config = config_class(**kwargs, attn_implementation="eager")
    model = model_class(config).to(torch.float64)
    with torch.no_grad():
        for pname, p in model.named_parameters():
            if pname.endswith("norm.weight"):
                p.copy_(1.0 + 0.1 * torch.randn_like(p))
            else:
                p.copy_(0.3 * torch.randn_like(p))
    batch, time = 2, 9
    ids = torch.randint(0, config.vocab_size, (batch, time))
    labels = ids.clone()
    labels[0, :3] = -100          # a masked prompt
    labels[1, 6:] = -100          # a masked tail
    out = model(input_ids=ids, labels=labels, output_hidden_states=True)
    out.loss.backward()

    tensors = {}
    for pname, p in model.named_parameters():
        tensors[pname] = p.detach().float().contiguous()
        tensors["grad." + pname] = p.grad.detach().float().contiguous()
    tensors["input_ids"] = ids.to(torch.int64)
    tensors["labels"] = labels.to(torch.int64)
    tensors["expected.logits"] = out.logits.detach().float().contiguous()
    tensors["expected.loss"] = out.loss.detach().float().reshape(1)
    # The residual stream after the first decoder layer, first sequence (hidden_states[1]).
    tensors["expected.hidden_1"] = out.hidden_states[1][0].detach().float().contiguous()
    tensors["expected.inv_freq"] = model.model.rotary_emb.inv_freq.detach().float()
    cfg = config.to_dict()
    cfg["model_type"] = arch
    meta = {"config": json.dumps(cfg, default=str), "torch": torch.__version__}
    path = os.path.join(OUT, f"tiny_llama_{name}.safetensors")
    save_file(tensors, path, metadata=meta)
    print(f"{path}: loss {out.loss.item():.6f}")


if __name__ == "__main__":
    os.makedirs(OUT, exist_ok=True)
    wanted = sys.argv[1:] or list(CASES)
    for i, (name, kwargs) in enumerate(CASES.items()):
        if name in wanted:
            make(name, kwargs, seed=1234 + i)
