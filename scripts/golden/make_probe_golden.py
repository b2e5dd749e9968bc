"""Golden values for saro's linear probe (the trained judges' and the embedding analysis's):
the optimum of its objective found by PyTorch's L-BFGS in float64.

The objective (Sources/Judges/LinearProbe.swift): rows standardized by their mean and population
standard deviation, then the mean over rows of weight[y] * cross_entropy(W z + b, y) plus
l2 / 2 * |W|^2, with weight[c] = n / (k * count[c]) (scikit-learn's class_weight="balanced"), i.e.
torch.nn.functional.cross_entropy(logits, y, weight=class_weight, reduction="none").mean()
+ l2 / 2 * W.square().sum(). The data: 60 rows of 6 features, two overlapping classes of 40
and 20 rows, some features strongly correlated (the hidden states a judge reads are).
Writes Tests/EvaluationTests/Golden/probe.json: data, labels, l2, the optimum's objective and
each row's class probabilities.
Run from the repository root:  python3 scripts/golden/make_probe_golden.py  (needs torch).
"""
import json
import os

import torch

torch.manual_seed(11)
n0, n1, d = 40, 20, 6
base = torch.randn(n0 + n1, 3, dtype=torch.float64)
y = torch.tensor([0] * n0 + [1] * n1)
shift = torch.tensor([1.0, -0.5, 0.25], dtype=torch.float64)
base = base + y[:, None].double() * shift
# Features 3..5 are near copies of 0..2 at other scales: correlated columns, as hidden states are.
x = torch.cat([base, base * torch.tensor([3.0, 0.5, 2.0], dtype=torch.float64) + 0.05 * torch.randn(n0 + n1, 3, dtype=torch.float64)], dim=1)
l2 = 0.05
mean, std = x.mean(0), x.std(0, unbiased=False)
z = (x - mean) / std
n, k = len(y), 2
weight = torch.tensor([n / (k * n0), n / (k * n1)], dtype=torch.float64)
W = torch.zeros(k, d, dtype=torch.float64, requires_grad=True)
b = torch.zeros(k, dtype=torch.float64, requires_grad=True)


def objective():
    logits = z @ W.T + b
    return torch.nn.functional.cross_entropy(logits, y, weight=weight, reduction="none").mean() + l2 / 2 * W.square().sum()


opt = torch.optim.LBFGS([W, b], lr=1, max_iter=2000, tolerance_grad=1e-14, tolerance_change=1e-16, history_size=50, line_search_fn="strong_wolfe")


def closure():
    opt.zero_grad()
    loss = objective()
    loss.backward()
    return loss


opt.step(closure)
with torch.no_grad():
    value = objective().item()
    probs = torch.softmax(z @ W.T + b, dim=1)
out = {"data": x.tolist(), "labels": y.tolist(), "l2": l2, "objective": value, "probabilities": probs.tolist(), "torch": torch.__version__}
path = "Tests/EvaluationTests/Golden/probe.json"
os.makedirs(os.path.dirname(path), exist_ok=True)
with open(path, "w") as f:
    json.dump(out, f)
print(path, "objective", value)
