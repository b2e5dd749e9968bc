"""Golden values for saro's embedding analysis: PCA of a fixed random data set by numpy's SVD.

Writes Tests/EvaluationTests/Golden/pca.json: the data (60 x 8, three shifted clusters), the
projections on the first two principal components and their explained-variance shares. Sign
convention (as saro's): each component's largest-magnitude coordinate is positive.
Run from the repository root:  python3 scripts/golden/make_pca_golden.py  (needs numpy).
"""
import json
import os

import numpy as np

rng = np.random.default_rng(7)
centers = np.array([[3, 0, 0, 1, 0, 0, 0, 0], [0, 3, 0, 0, 1, 0, 0, 0], [0, 0, 3, 0, 0, 1, 0, 0]], dtype=np.float64)
x = np.concatenate([c + rng.normal(scale=[1.0, 0.8, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1], size=(20, 8)) for c in centers])
centered = x - x.mean(axis=0)
_, s, vt = np.linalg.svd(centered, full_matrices=False)
comps = vt[:2]
for i in range(2):
    if comps[i][np.argmax(np.abs(comps[i]))] < 0:
        comps[i] = -comps[i]
proj = centered @ comps.T
explained = (s[:2] ** 2) / (s ** 2).sum()
out = {"data": x.tolist(), "kinds": ["a"] * 20 + ["b"] * 20 + ["c"] * 20, "projections": proj.tolist(), "explained": explained.tolist(),
       "numpy": np.__version__}
path = "Tests/EvaluationTests/Golden/pca.json"
os.makedirs(os.path.dirname(path), exist_ok=True)
with open(path, "w") as f:
    json.dump(out, f)
print(path, "explained", explained)
