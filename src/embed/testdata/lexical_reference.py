#!/usr/bin/python3
"""Independent reference for contex/lexical-v1 (engine.md section 2.4).

Prints, for each golden text, the non-zero components of its vector as C++
initialisers for lexical_embedder_test.cpp. Run: /usr/bin/python3 lexical_reference.py
"""
import math
import struct
import unicodedata

DIM = 384
TEXTS = [
    "Hello, world! Hello again.",
    "The quick brown fox jumps over the lazy dog",
    "\uff26\uff55\uff4c\uff4c\uff57\uff49\uff44\uff54\uff48 ABC \u2460\u2461",
    "na\u00efve caf\u00e9 \u2014 r\u00e9sum\u00e9 2024",
    "\u65e5\u672c\u8a9e\u306e\u30c6\u30ad\u30b9\u30c8",
    "a a a b",
]


def fnv1a64(data: bytes) -> int:
    h = 14695981039346656037
    for b in data:
        h ^= b
        h = (h * 1099511628211) & 0xFFFFFFFFFFFFFFFF
    return h


def is_word(ch: str) -> bool:
    return unicodedata.category(ch)[0] in ("L", "N")


def tokens(text: str):
    text = unicodedata.normalize("NFKC", text).lower()
    out, cur = [], []
    for ch in text:
        if is_word(ch):
            cur.append(ch)
        elif cur:
            out.append("".join(cur))
            cur = []
    if cur:
        out.append("".join(cur))
    return out


def embed(text: str):
    tf = {}
    for t in tokens(text):
        tf[t] = tf.get(t, 0) + 1
    acc = [0.0] * DIM
    for w, n in tf.items():
        weight = 1.0 + math.log(n)
        feats = [("w:" + w, weight)]
        framed = "^" + w + "$"
        feats += [("g:" + framed[i:i + 3], 0.25 * weight) for i in range(len(framed) - 2)]
        for f, wt in feats:
            h = fnv1a64(f.encode("utf-8"))
            acc[h % DIM] += (-1.0 if h >> 63 else 1.0) * wt
    norm = math.sqrt(sum(x * x for x in acc))
    if norm == 0:
        return [0.0] * DIM
    return [struct.unpack("f", struct.pack("f", x / norm))[0] for x in acc]


if __name__ == "__main__":
    print("fnv1a64('w:hello') =", fnv1a64(b"w:hello"))
    for t in TEXTS:
        v = embed(t)
        nz = ", ".join("{%d, %.9gf}" % (i, x) for i, x in enumerate(v) if x != 0.0)
        print(repr(t))
        print("    {" + nz + "}")
