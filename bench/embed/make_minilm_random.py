#!/usr/bin/python3
"""Random-weight model of the exact all-MiniLM-L6-v2 shape, plus benchmark inputs.

Usage: make_minilm_random.py SHARED_MODEL_DIR OUT_DIR

Copies the real configuration files and vocabulary from SHARED_MODEL_DIR
(../shared/models/all-MiniLM-L6-v2), writes random F32 weights (BERT initialisation:
normal(0, 0.02), LayerNorm 1/0) as OUT_DIR/model.safetensors, and OUT_DIR/inputs.json:
1,000 token-id sequences of 8-64 tokens ([CLS] ids [SEP], ids drawn from the real
vocabulary's word pieces) and two latency inputs of 16 and 128 tokens. Deterministic.
"""
import json
import os
import shutil
import struct
import sys

import numpy as np


def main():
    src, out = sys.argv[1], sys.argv[2]
    os.makedirs(os.path.join(out, "1_Pooling"), exist_ok=True)
    for f in ["config.json", "vocab.txt", "tokenizer_config.json", "sentence_bert_config.json",
              "modules.json", "special_tokens_map.json", "1_Pooling/config.json"]:
        shutil.copyfile(os.path.join(src, f), os.path.join(out, f))
    cfg = json.load(open(os.path.join(src, "config.json")))
    h, inter, layers = cfg["hidden_size"], cfg["intermediate_size"], cfg["num_hidden_layers"]
    vocab, maxpos = cfg["vocab_size"], cfg["max_position_embeddings"]
    rng = np.random.default_rng(2024)

    def w(*shape):
        return rng.normal(0.0, 0.02, size=shape).astype(np.float32)

    t = {"embeddings.word_embeddings.weight": w(vocab, h),
         "embeddings.position_embeddings.weight": w(maxpos, h),
         "embeddings.token_type_embeddings.weight": w(cfg["type_vocab_size"], h),
         "embeddings.LayerNorm.weight": np.ones(h, np.float32),
         "embeddings.LayerNorm.bias": np.zeros(h, np.float32)}
    for i in range(layers):
        p = f"encoder.layer.{i}."
        for part in ("query", "key", "value"):
            t[p + f"attention.self.{part}.weight"] = w(h, h)
            t[p + f"attention.self.{part}.bias"] = w(h)
        t[p + "attention.output.dense.weight"] = w(h, h)
        t[p + "attention.output.dense.bias"] = w(h)
        t[p + "intermediate.dense.weight"] = w(inter, h)
        t[p + "intermediate.dense.bias"] = w(inter)
        t[p + "output.dense.weight"] = w(h, inter)
        t[p + "output.dense.bias"] = w(h)
        for ln in ("attention.output.LayerNorm", "output.LayerNorm"):
            t[p + ln + ".weight"] = np.ones(h, np.float32)
            t[p + ln + ".bias"] = np.zeros(h, np.float32)
    header, offset = {}, 0
    for name in sorted(t):
        n = t[name].nbytes
        header[name] = {"dtype": "F32", "shape": list(t[name].shape), "data_offsets": [offset, offset + n]}
        offset += n
    hj = json.dumps(header).encode()
    hj += b" " * ((8 - len(hj) % 8) % 8)
    with open(os.path.join(out, "model.safetensors"), "wb") as f:
        f.write(struct.pack("<Q", len(hj)))
        f.write(hj)
        for name in sorted(t):
            f.write(t[name].tobytes())

    # Word pieces of the real vocabulary: skip [PAD]/[unusedN]/specials (ids < 1000).
    def seq(n):
        return [101] + [int(x) for x in rng.integers(1000, vocab, n - 2)] + [102]

    lengths = rng.integers(8, 65, 1000)
    inputs = {"throughput": [seq(int(n)) for n in lengths],
              "latency": {"16": seq(16), "128": seq(128)}}
    with open(os.path.join(out, "inputs.json"), "w") as f:
        json.dump(inputs, f)


if __name__ == "__main__":
    main()
