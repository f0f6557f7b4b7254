#!/usr/bin/python3
"""Baselines for the index benchmark: hnswlib and FAISS on the same vectors.

Usage: baseline.py DATA_DIR N [N ...] [--queries Q] [--skip-hnsw-above N] [--ef 128,64,256]
Single-threaded queries, one at a time (top-10), as the engine issues them; latencies
include the Python call overhead (a few microseconds). Prints one JSON line per run.
"""
import argparse
import json
import os
import time

import numpy as np

DIM = 384


def load(data, n, queries):
    base = np.fromfile(os.path.join(data, f"base_{n}.f32"), dtype=np.float32).reshape(n, DIM)
    q = np.fromfile(os.path.join(data, f"queries_{n}.f32"), dtype=np.float32).reshape(-1, DIM)
    gt = np.fromfile(os.path.join(data, f"gt_{n}.i32"), dtype=np.int32).reshape(-1, 10)
    return base, q[:queries], gt[:queries]


def measure(search, q, gt):
    lat = []
    cpu = []
    found = 0
    for i in range(len(q)):
        c0 = time.thread_time()
        t0 = time.perf_counter()
        ids = search(q[i:i + 1])
        lat.append(time.perf_counter() - t0)
        cpu.append(time.thread_time() - c0)
        found += len(set(int(x) for x in ids) & set(int(x) for x in gt[i]))
    lat = np.array(lat) * 1e6
    cpu = np.array(cpu) * 1e6
    return {"p50_us": float(np.percentile(lat, 50)), "p99_us": float(np.percentile(lat, 99)),
            "cpu_p50_us": float(np.percentile(cpu, 50)), "cpu_p99_us": float(np.percentile(cpu, 99)),
            "qps": float(len(q) / (lat.sum() / 1e6)), "recall_at_10": found / (10.0 * len(q))}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("data")
    ap.add_argument("sizes", nargs="+", type=int)
    ap.add_argument("--queries", type=int, default=1000)
    ap.add_argument("--build-threads", type=int, default=os.cpu_count())
    ap.add_argument("--skip-hnsw-above", type=int, default=10**9)
    ap.add_argument("--skip", default="", help="comma list of engines to skip")
    ap.add_argument("--ef", default="128", help="comma list of ef_search values (same graph)")
    args = ap.parse_args()
    skip = set(filter(None, args.skip.split(",")))
    efs = [int(e) for e in args.ef.split(",")]
    import faiss
    import hnswlib
    for n in args.sizes:
        base, q, gt = load(args.data, n, args.queries)
        if "faiss-flat" not in skip:
            faiss.omp_set_num_threads(1)
            flat = faiss.IndexFlatIP(DIM)
            flat.add(base)
            r = measure(lambda x: flat.search(x, 10)[1][0], q, gt)
            print(json.dumps({"engine": "faiss-flat", "n": n, **r}), flush=True)
            del flat
        if n > args.skip_hnsw_above:
            continue
        if "hnswlib" not in skip:
            index = hnswlib.Index(space="ip", dim=DIM)
            index.init_index(max_elements=n, M=16, ef_construction=200, random_seed=100)
            index.set_num_threads(args.build_threads)
            t0 = time.perf_counter()
            c0 = time.process_time()
            index.add_items(base, np.arange(n))
            build_cpu = time.process_time() - c0
            build = time.perf_counter() - t0
            index.set_num_threads(1)
            for ef in efs:
                index.set_ef(ef)
                r = measure(lambda x: index.knn_query(x, k=10)[0][0], q, gt)
                print(json.dumps({"engine": "hnswlib", "n": n, "ef": ef, "build_s": build,
                                  "build_cpu_s": build_cpu, **r}), flush=True)
            del index
        if "faiss-hnsw" not in skip:
            faiss.omp_set_num_threads(args.build_threads)
            hnsw = faiss.IndexHNSWFlat(DIM, 16, faiss.METRIC_INNER_PRODUCT)
            hnsw.hnsw.efConstruction = 200
            t0 = time.perf_counter()
            c0 = time.process_time()
            hnsw.add(base)
            build_cpu = time.process_time() - c0
            build = time.perf_counter() - t0
            faiss.omp_set_num_threads(1)
            for ef in efs:
                hnsw.hnsw.efSearch = ef
                r = measure(lambda x: hnsw.search(x, 10)[1][0], q, gt)
                print(json.dumps({"engine": "faiss-hnsw", "n": n, "ef": ef, "build_s": build,
                                  "build_cpu_s": build_cpu, **r}), flush=True)
            del hnsw


if __name__ == "__main__":
    main()
