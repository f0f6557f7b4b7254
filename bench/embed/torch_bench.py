#!/usr/bin/python3
"""PyTorch (CPU, eager) baseline for the embedding runtime benchmark.

Usage: torch_bench.py MODEL_DIR THREADS [BATCH [PASSES [LATENCY_RUNS]]]

Loads MODEL_DIR/model.safetensors (written by make_minilm_random.py) into a plain PyTorch
BERT forward (the operations of transformers' BertModel: padded batch, additive attention
mask, exact-erf GELU, post-LayerNorm, mean pooling, L2 normalisation) and runs the same
token ids as the native benchmark: sentences/s over MODEL_DIR/inputs.json "throughput"
(length-sorted, batches of BATCH, default 32; median of PASSES, default 3) and batch-1
latency at 16 and 128 tokens (median of LATENCY_RUNS, default 100).
Prints one JSON object. Run with OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE unset.
"""
import json
import math
import statistics
import struct
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F


def load_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, meta in header.items():
        if name == "__metadata__":
            continue
        assert meta["dtype"] == "F32"
        a, b = meta["data_offsets"]
        out[name.removeprefix("bert.")] = torch.from_numpy(
            np.frombuffer(data[a:b], dtype=np.float32).reshape(meta["shape"]).copy())
    return out


class Bert:
    def __init__(self, t, cfg):
        self.t, self.cfg = t, cfg
        self.heads = cfg["num_attention_heads"]
        self.eps = cfg["layer_norm_eps"]

    def __call__(self, ids, mask):
        t, H = self.t, self.cfg["hidden_size"]
        B, L = ids.shape
        d = H // self.heads
        x = (F.embedding(ids, t["embeddings.word_embeddings.weight"]) +
             t["embeddings.position_embeddings.weight"][:L] +
             t["embeddings.token_type_embeddings.weight"][0])
        x = F.layer_norm(x, (H,), t["embeddings.LayerNorm.weight"], t["embeddings.LayerNorm.bias"], self.eps)
        ext = (1.0 - mask[:, None, None, :].to(x.dtype)) * torch.finfo(x.dtype).min
        for i in range(self.cfg["num_hidden_layers"]):
            p = f"encoder.layer.{i}."
            lin = lambda v, n: F.linear(v, t[p + n + ".weight"], t[p + n + ".bias"])
            split = lambda v: v.view(B, L, self.heads, d).transpose(1, 2)
            q = split(lin(x, "attention.self.query"))
            k = split(lin(x, "attention.self.key"))
            v = split(lin(x, "attention.self.value"))
            s = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(d) + ext
            c = torch.matmul(torch.softmax(s, dim=-1), v).transpose(1, 2).reshape(B, L, H)
            x = F.layer_norm(lin(c, "attention.output.dense") + x, (H,),
                             t[p + "attention.output.LayerNorm.weight"],
                             t[p + "attention.output.LayerNorm.bias"], self.eps)
            h = F.gelu(lin(x, "intermediate.dense"))
            x = F.layer_norm(lin(h, "output.dense") + x, (H,), t[p + "output.LayerNorm.weight"],
                             t[p + "output.LayerNorm.bias"], self.eps)
        m = mask.unsqueeze(-1).to(x.dtype)
        e = (x * m).sum(1) / m.sum(1)
        return F.normalize(e, p=2, dim=1)


def pad(batch):
    L = max(len(s) for s in batch)
    ids = torch.zeros((len(batch), L), dtype=torch.long)
    mask = torch.zeros((len(batch), L), dtype=torch.long)
    for i, s in enumerate(batch):
        ids[i, : len(s)] = torch.tensor(s)
        mask[i, : len(s)] = 1
    return ids, mask


def main():
    model_dir, threads = sys.argv[1], int(sys.argv[2])
    batch_size = int(sys.argv[3]) if len(sys.argv) > 3 else 32
    passes = int(sys.argv[4]) if len(sys.argv) > 4 else 3
    latency_runs = int(sys.argv[5]) if len(sys.argv) > 5 else 100
    torch.set_num_threads(threads)
    cfg = json.load(open(f"{model_dir}/config.json"))
    model = Bert(load_safetensors(f"{model_dir}/model.safetensors"), cfg)
    inputs = json.load(open(f"{model_dir}/inputs.json"))
    seqs = sorted(inputs["throughput"], key=len)
    batches = [pad(seqs[i:i + batch_size]) for i in range(0, len(seqs), batch_size)]
    result = {"runtime": "pytorch", "torch": torch.__version__, "threads": threads,
              "batch": batch_size, "blas": torch.__config__.show().count("OpenBLAS") > 0}
    with torch.inference_mode():
        for ids, mask in batches[:4]:
            model(ids, mask)
        rates, cpu_rates = [], []
        for _ in range(passes):
            c0, t0 = time.process_time(), time.perf_counter()
            for ids, mask in batches:
                model(ids, mask)
            rates.append(len(seqs) / (time.perf_counter() - t0))
            cpu_rates.append(len(seqs) / (time.process_time() - c0))
        result["sentences_per_s"] = statistics.median(rates)
        result["sentences_per_s_runs"] = rates
        result["sentences_per_cpu_s"] = statistics.median(cpu_rates)
        for n in ("16", "128"):
            ids, mask = pad([inputs["latency"][n]])
            for _ in range(10):
                model(ids, mask)
            times, cpu = [], []
            for _ in range(latency_runs):
                c0, t0 = time.process_time(), time.perf_counter()
                model(ids, mask)
                times.append((time.perf_counter() - t0) * 1e3)
                cpu.append((time.process_time() - c0) * 1e3)
            result[f"latency_ms_{n}"] = statistics.median(times)
            result[f"latency_cpu_ms_{n}"] = statistics.median(cpu)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
