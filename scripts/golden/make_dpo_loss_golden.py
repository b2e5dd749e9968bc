#!/usr/bin/env python3
"""Golden values for saro's DPO losses: TRL's own DPOTrainer._compute_loss on fixed per-token
log-probs, for each loss type saro implements and a combined list (TRL 1.x's loss_type list
with loss_weights).

TRL's loss runs inside its trainer; this script calls that method on a trainer object whose
model is replaced by a stand-in that returns the given per-token log-probs (as TRL's fused head
would), so the loss, its combination and its gradients are TRL's code, unchanged. Writes
Tests/TrainingTests/Golden/dpo_losses.json: per case the loss type list, weights, beta,
label_smoothing, the inputs (sequence log-probs of the policy and the reference, completion
lengths) and TRL's loss and gradient with respect to each sequence's summed log-prob.
Run from the repository root with the TRL environment (scripts/setup-trl.sh):
  ~/.cache/saro/trl-venv/bin/python scripts/golden/make_dpo_loss_golden.py
"""
import collections
import json
import os
import types

import torch
import trl
from trl.trainer.dpo_trainer import DPOTrainer

OUT = os.path.join("Tests", "TrainingTests", "Golden", "dpo_losses.json")


class Accelerator:
    device = torch.device("cpu")

    def gather_for_metrics(self, x):
        return x

    def gather(self, x):
        return x


def trl_loss(loss_types, weights, beta, label_smoothing, token_logps, mask, ref_chosen, ref_rejected):
    """TRL's loss on per-token log-probs [2B, T-1] (chosen rows then rejected) with the
    completion mask [2B, T]; returns the loss and d loss / d token_logps."""
    trainer = object.__new__(DPOTrainer)
    trainer.model = types.SimpleNamespace(training=True)
    trainer.accelerator = Accelerator()
    trainer.aux_loss_enabled = False
    trainer.ld_alpha = None
    trainer.precompute_ref_logps = True
    trainer.f_divergence_type = "reverse_kl"
    trainer.loss_types = loss_types
    trainer.loss_weights = weights
    trainer.beta = beta
    trainer.label_smoothing = label_smoothing
    trainer.use_weighting = False
    trainer._metrics = {"train": collections.defaultdict(list), "eval": collections.defaultdict(list)}
    trainer._total_train_tokens = 0
    trainer._tp_size = 1
    leaf = token_logps.clone().requires_grad_(True)

    def model(**kwargs):
        zeros = torch.zeros_like(leaf)
        return types.SimpleNamespace(log_probs=leaf, entropy=zeros, mean_logits=zeros, is_top1=torch.zeros_like(leaf, dtype=torch.bool))

    inputs = {"input_ids": torch.zeros(mask.shape, dtype=torch.long), "attention_mask": torch.ones_like(mask), "completion_mask": mask,
              "ref_chosen_logps": ref_chosen, "ref_rejected_logps": ref_rejected}
    loss = trainer._compute_loss(model, inputs, return_outputs=False)
    loss = loss[0] if isinstance(loss, tuple) else loss
    loss.backward()
    return loss.item(), leaf.grad


def case(name, loss_types, weights, beta, label_smoothing, seed):
    torch.manual_seed(seed)
    pairs, time = 3, 9
    # Completion masks of different lengths (prompt positions 0); the shifted mask selects the
    # log-prob positions that count, as TRL's per_token_logps are already masked.
    lengths = [[5, 3, 7], [4, 6, 2]]
    mask = torch.zeros(2 * pairs, time, dtype=torch.long)
    for side in range(2):
        for i, n in enumerate(lengths[side]):
            mask[side * pairs + i, time - n:] = 1
    shift = mask[:, 1:].double()
    token_logps = -torch.rand(2 * pairs, time - 1, dtype=torch.float64) * 3 * shift
    ref_chosen = (token_logps[:pairs].sum(1) + torch.randn(pairs, dtype=torch.float64) * 2).detach()
    ref_rejected = (token_logps[pairs:].sum(1) + torch.randn(pairs, dtype=torch.float64) * 2).detach()
    loss, grad = trl_loss(loss_types, weights, beta, label_smoothing, token_logps, mask, ref_chosen, ref_rejected)
    seq = token_logps.sum(1)
    # Every loss here depends on a sequence only through its summed log-prob (and its length),
    # so the gradient is the same at each of its counted positions: read it at the last one.
    dseq = [grad[r, -1].item() for r in range(2 * pairs)]
    return {
        "name": name, "loss_type": loss_types, "loss_weights": weights, "beta": beta, "label_smoothing": label_smoothing,
        "logps": seq.tolist(), "reference": ref_chosen.tolist() + ref_rejected.tolist(),
        "chosen_tokens": lengths[0], "rejected_tokens": lengths[1], "loss": loss, "dlogps": dseq,
    }


if __name__ == "__main__":
    cases = [
        case("sigmoid", ["sigmoid"], [1.0], 0.1, 0.0, 1),
        case("hinge", ["hinge"], [1.0], 0.5, 0.0, 2),
        case("ipo", ["ipo"], [1.0], 0.1, 0.0, 3),
        case("robust", ["robust"], [1.0], 0.1, 0.2, 4),
        case("sigmoid_norm", ["sigmoid_norm"], [1.0], 0.3, 0.0, 5),
        case("apo_zero", ["apo_zero"], [1.0], 0.2, 0.0, 6),
        case("sigmoid_sft", ["sigmoid", "sft"], [1.0, 0.5], 0.1, 0.0, 7),
        case("apo_zero_sft_hinge", ["apo_zero", "sft", "hinge"], [0.7, 1.0, 0.3], 0.2, 0.0, 8),
    ]
    with open(OUT, "w") as f:
        json.dump({"trl": trl.__version__, "torch": torch.__version__, "cases": cases}, f, indent=1)
    print(f"{OUT}: {len(cases)} cases, TRL {trl.__version__}")
