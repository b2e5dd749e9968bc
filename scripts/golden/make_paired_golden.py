"""Golden values for saro's paired comparison of two models on the same prompts.

Writes Tests/EvaluationTests/Golden/paired.json:
- mcnemar: exact McNemar test on the discordant pairs (b examples where the first model scored 1
  and the second 0, c the reverse): scipy.stats.binomtest(min(b, c), b + c, 0.5).pvalue,
  two-sided (1 when b + c == 0).
- wilson: 95% Wilson score interval of k successes in n, from
  scipy.stats.binomtest(k, n).proportion_ci(0.95, method="wilson").
Run from the repository root:  python3 scripts/golden/make_paired_golden.py  (needs scipy).
"""
import json
import os

import scipy
from scipy.stats import binomtest

mcnemar = []
for b, c in [(0, 0), (1, 0), (3, 3), (12, 1), (1, 12), (5, 0), (9, 2), (20, 7), (40, 25), (100, 80), (250, 200)]:
    n = b + c
    p = 1.0 if n == 0 else binomtest(min(b, c), n, 0.5).pvalue
    mcnemar.append({"b": b, "c": c, "p": p})

wilson = []
for k, n in [(0, 10), (10, 10), (19, 30), (8, 30), (1, 12), (6, 12), (2, 27), (120, 250), (1, 1)]:
    ci = binomtest(k, n).proportion_ci(0.95, method="wilson")
    wilson.append({"k": k, "n": n, "low": ci.low, "high": ci.high})

path = "Tests/EvaluationTests/Golden/paired.json"
os.makedirs(os.path.dirname(path), exist_ok=True)
with open(path, "w") as f:
    json.dump({"mcnemar": mcnemar, "wilson": wilson, "scipy": scipy.__version__}, f, indent=1)
print(path)
