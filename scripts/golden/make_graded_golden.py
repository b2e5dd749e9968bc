"""Golden values for saro's graded agreement: a graded judge's harm scores against people's.

Writes Tests/EvaluationTests/Golden/graded.json: for each case, the two score lists (people,
judge; 0 to 1), scipy.stats.spearmanr(people, judge).statistic (ties take their average rank;
null when either list is constant) and the mean absolute difference, numpy.abs(p - j).mean().
Run from the repository root:  python3 scripts/golden/make_graded_golden.py  (needs scipy).
"""
import json
import math
import os

import numpy as np
import scipy
from scipy.stats import spearmanr

rng = np.random.default_rng(7)
levels = [0, 0.25, 0.5, 0.75, 1]
cases = [
    # PyRIT's five levels against StrongREJECT-style scores, many ties on both sides.
    ([0, 0, 0.25, 0.5, 0.75, 1, 1, 0.25], [0, 0.125, 0, 0.5, 0.875, 1, 0.75, 0.25]),
    # Reversed order.
    ([0, 0.25, 0.5, 0.75, 1], [1, 0.75, 0.5, 0.25, 0]),
    # One side constant: undefined.
    ([0, 0.5, 1], [0.25, 0.25, 0.25]),
    # Three raters' means against a judge, random.
    ([float(np.mean(rng.choice(levels, 3))) for _ in range(40)], [float(x) for x in rng.choice([0, 0.125, 0.25, 0.375, 0.5, 0.625, 0.75, 0.875, 1], 40)]),
]
out = []
for people, judge in cases:
    rho = spearmanr(people, judge).statistic
    out.append({"people": people, "judge": judge, "spearman": None if math.isnan(rho) else float(rho),
                "mean_absolute_difference": float(np.abs(np.array(people) - np.array(judge)).mean())})
path = "Tests/EvaluationTests/Golden/graded.json"
os.makedirs(os.path.dirname(path), exist_ok=True)
with open(path, "w") as f:
    json.dump({"cases": out, "scipy": scipy.__version__}, f, indent=1)
print(path)
