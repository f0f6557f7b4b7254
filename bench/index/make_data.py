#!/usr/bin/python3
"""Writes the shared benchmark dataset: clustered unit vectors, queries and exact top-10.

Usage: make_data.py OUT_DIR N [N ...]   (Debian's /usr/bin/python3 with numpy)
Files: base_<N>.f32 (N x 384 float32), queries_<N>.f32 (1000 x 384), gt_<N>.i32
(1000 x 10, exact top-10 by inner product). Clusters: N/100 centres, points = centre +
0.05 * gaussian, normalised; queries are drawn the same way from the same centres.
"""
import os
import sys

import numpy as np

DIM = 384
QUERIES = 1000
NOISE = 0.05


def unit(x):
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def clustered(rng, centres, n):
    out = np.empty((n, DIM), dtype=np.float32)
    step = 100_000
    for start in range(0, n, step):
        m = min(step, n - start)
        assign = rng.integers(0, len(centres), size=m)
        out[start:start + m] = unit(centres[assign] + NOISE * rng.standard_normal((m, DIM), dtype=np.float32))
    return out


def main():
    out_dir = sys.argv[1]
    sizes = sorted(int(s) for s in sys.argv[2:])
    os.makedirs(out_dir, exist_ok=True)
    rng = np.random.default_rng(2026)
    centres = unit(rng.standard_normal((max(sizes) // 100, DIM), dtype=np.float32))
    for n in sizes:
        # Each size draws from its own first n/100 centres so density is comparable.
        base = clustered(np.random.default_rng(n), centres[: n // 100], n)
        base.tofile(os.path.join(out_dir, f"base_{n}.f32"))
        # Queries near the first n/100 centres for this size.
        q = clustered(np.random.default_rng(n + 1), centres[: n // 100], QUERIES)
        q.tofile(os.path.join(out_dir, f"queries_{n}.f32"))
        gt = np.empty((QUERIES, 10), dtype=np.int32)
        for s in range(0, QUERIES, 100):
            scores = q[s:s + 100] @ base.T
            top = np.argpartition(-scores, 10, axis=1)[:, :10]
            order = np.argsort(-np.take_along_axis(scores, top, axis=1), axis=1)
            gt[s:s + 100] = np.take_along_axis(top, order, axis=1)
        gt.tofile(os.path.join(out_dir, f"gt_{n}.i32"))
        print(f"wrote {n} vectors", flush=True)


if __name__ == "__main__":
    main()
