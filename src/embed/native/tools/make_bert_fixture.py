#!/usr/bin/python3
"""Writes small random-weight BERT sentence-transformer models plus reference embeddings.

Usage: make_bert_fixture.py OUT_DIR

For each variant (weights dtype, tensor-name prefix, pooling) OUT_DIR/<variant>/ gets
config.json, model.safetensors, vocab.txt, tokenizer_config.json,
sentence_bert_config.json, modules.json, 1_Pooling/config.json, and
OUT_DIR/<variant>/expected.json with the inputs, their token ids (from the Python BERT
tokenizer below) and the embeddings computed by an independent float64 numpy forward pass
over a zero-padded batch with an attention mask, the textbook formulation the C++ runtime
(packed, unpadded) must agree with. Only needs the Debian python3 + numpy.
"""
import json
import math
import os
import struct
import sys
import unicodedata

import numpy as np

HIDDEN, LAYERS, HEADS, INTER = 64, 2, 4, 128
MAX_POSITION, MAX_SEQ = 64, 40
EPS = 1e-12


# ---------------------------------------------------------------- vocabulary
def make_vocab():
    words = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    words += [chr(c) for c in range(33, 127) if not chr(c).isupper()]
    letters = "abcdefghijklmnopqrstuvwxyz"
    words += ["##" + c for c in letters + "0123456789"]
    common = ("the of and to in is was for on that with as by at from it be this are or an "
              "which not have has but were their they one all been more can also new other "
              "data context agent search index vector token model embed node query match "
              "update push route store cache batch thread quick brown fox jumps over lazy dog "
              "hello world cafe resume naive ecole deja vu fast slow bert word piece").split()
    words += common
    suffixes = ["ing", "ed", "er", "s", "ly", "tion", "ment", "ness", "able", "ize", "ization",
                "ers", "est", "ful", "less", "ous"]
    words += ["##" + s for s in suffixes]
    words += list("éàüñçøßæœ")
    words += [chr(c) for c in range(0x4E00, 0x4E00 + 200)]       # CJK ideographs
    words += [chr(c) for c in range(0x3041, 0x3041 + 40)]        # hiragana
    words += [chr(c) for c in range(0x0430, 0x0450)]             # cyrillic
    words += ["##" + chr(c) for c in range(0x0430, 0x0450)]
    rng = np.random.default_rng(7)
    while len(words) < 1000:  # pseudo-words to reach ~1k entries
        n = int(rng.integers(2, 6))
        w = "".join(rng.choice(list(letters), n))
        cand = w if rng.random() < 0.5 else "##" + w
        if cand not in words:
            words.append(cand)
    return words


# ---------------------------------------------------------------- tokenizer
def is_control(ch):
    if ch in "\t\n\r":
        return False
    return unicodedata.category(ch) in ("Cc", "Cf", "Co", "Cs")


def is_whitespace(ch):
    return ch in " \t\n\r\x0b\x0c\u2028\u2029" or unicodedata.category(ch) == "Zs"


def is_punct(ch):
    cp = ord(ch)
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return unicodedata.category(ch).startswith("P")


def is_cjk(cp):
    return (0x4E00 <= cp <= 0x9FFF or 0x3400 <= cp <= 0x4DBF or 0x20000 <= cp <= 0x2A6DF or
            0x2A700 <= cp <= 0x2B73F or 0x2B740 <= cp <= 0x2B81F or 0x2B820 <= cp <= 0x2CEAF or
            0xF900 <= cp <= 0xFAFF or 0x2F800 <= cp <= 0x2FA1F)


def basic_tokenize(text):
    out = []
    for ch in text:
        cp = ord(ch)
        if cp == 0 or cp == 0xFFFD or is_control(ch):
            continue
        if is_whitespace(ch):
            out.append(" ")
        elif is_cjk(cp):
            out.append(" " + ch + " ")
        else:
            out.append(ch)
    text = "".join(out).lower()
    text = "".join(c for c in unicodedata.normalize("NFD", text) if unicodedata.category(c) != "Mn")
    tokens = []
    for word in text.split():
        cur = ""
        for ch in word:
            if is_punct(ch):
                if cur:
                    tokens.append(cur)
                tokens.append(ch)
                cur = ""
            else:
                cur += ch
        if cur:
            tokens.append(cur)
    return tokens


def wordpiece(tokens, vocab):
    ids = []
    for tok in tokens:
        if len(tok) > 100:
            ids.append(vocab["[UNK]"])
            continue
        start, pieces = 0, []
        while start < len(tok):
            end, found = len(tok), None
            while start < end:
                sub = tok[start:end] if start == 0 else "##" + tok[start:end]
                if sub in vocab:
                    found = vocab[sub]
                    break
                end -= 1
            if found is None:
                pieces = [vocab["[UNK]"]]
                break
            pieces.append(found)
            start = end
        ids.extend(pieces)
    return ids


def encode(text, vocab, max_tokens):
    ids = wordpiece(basic_tokenize(text), vocab)[: max_tokens - 2]
    return [vocab["[CLS]"]] + ids + [vocab["[SEP]"]]


def make_inputs():
    fixed = [
        "", " ", "hello", "hello world", "Hello, World!", "The quick brown fox jumps over the lazy dog.",
        "café résumé naïve école déjà vu", "CAFÉ RÉSUMÉ", "一丁七万丈三上下不与", "ぁあぃいぅ mixed 丁七",
        "привет мир", "data.context/agent?query=index&vector=1", "embedding tokenization searchers",
        "a" * 100, "b" * 101, "x" * 300 + " tail", "unknownwordzzzqqq", "🙂 emoji ☃",
        "tab\tnew\nline\r\x00 zero\u200bwidth", "...!!!???---", "1 2 3 4 5 6 7 8 9 0",
        " ".join(["the"] * 80),                                   # truncated at MAX_SEQ
        " ".join(["agent", "search", "index"] * 30),              # truncated
        "route push update store cache batch thread",
    ]
    rng = np.random.default_rng(11)
    pool = ("the of and to in is data context agent search index vector token model embed node "
            "query match update push route store cache batch thread quick brown fox hello world "
            "searching matched updates routing stored caches").split() + ["é", "丁", "ñ", "!", ","]
    while len(fixed) < 64:
        n = int(rng.integers(1, 60))
        fixed.append(" ".join(rng.choice(pool, n)))
    return fixed


# ---------------------------------------------------------------- weights
def make_weights(rng, vocab_size):
    def w(*shape, scale=0.08):
        return rng.normal(0.0, scale, size=shape)

    t = {
        "embeddings.word_embeddings.weight": w(vocab_size, HIDDEN, scale=0.5),
        "embeddings.position_embeddings.weight": w(MAX_POSITION, HIDDEN, scale=0.2),
        "embeddings.token_type_embeddings.weight": w(2, HIDDEN, scale=0.2),
        "embeddings.LayerNorm.weight": 1.0 + w(HIDDEN, scale=0.1),
        "embeddings.LayerNorm.bias": w(HIDDEN, scale=0.1),
    }
    for i in range(LAYERS):
        p = f"encoder.layer.{i}."
        for part in ("query", "key", "value"):
            t[p + f"attention.self.{part}.weight"] = w(HIDDEN, HIDDEN, scale=0.15)
            t[p + f"attention.self.{part}.bias"] = w(HIDDEN, scale=0.05)
        t[p + "attention.output.dense.weight"] = w(HIDDEN, HIDDEN, scale=0.12)
        t[p + "attention.output.dense.bias"] = w(HIDDEN, scale=0.05)
        t[p + "attention.output.LayerNorm.weight"] = 1.0 + w(HIDDEN, scale=0.1)
        t[p + "attention.output.LayerNorm.bias"] = w(HIDDEN, scale=0.1)
        t[p + "intermediate.dense.weight"] = w(INTER, HIDDEN, scale=0.12)
        t[p + "intermediate.dense.bias"] = w(INTER, scale=0.05)
        t[p + "output.dense.weight"] = w(HIDDEN, INTER, scale=0.09)
        t[p + "output.dense.bias"] = w(HIDDEN, scale=0.05)
        t[p + "output.LayerNorm.weight"] = 1.0 + w(HIDDEN, scale=0.1)
        t[p + "output.LayerNorm.bias"] = w(HIDDEN, scale=0.1)
    return t


def to_dtype(a, dtype):
    """Returns (raw bytes, the float64 values the file really holds)."""
    a32 = np.ascontiguousarray(a, dtype=np.float32)
    if dtype == "F32":
        return a32.tobytes(), a32.astype(np.float64)
    if dtype == "F16":
        h = a32.astype(np.float16)
        return h.tobytes(), h.astype(np.float64)
    bits = a32.view(np.uint32)  # BF16: round to nearest even
    rounded = ((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16).astype(np.uint16)
    back = (rounded.astype(np.uint32) << 16).view(np.float32)
    return rounded.tobytes(), back.astype(np.float64)


def write_safetensors(path, tensors, dtype, prefix):
    header, blobs, offset, actual = {}, [], 0, {}
    for name in sorted(tensors):
        raw, vals = to_dtype(tensors[name], dtype)
        actual[name] = vals
        header[prefix + name] = {"dtype": dtype, "shape": list(tensors[name].shape),
                                 "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    header["__metadata__"] = {"format": "pt"}
    hj = json.dumps(header).encode()
    hj += b" " * ((8 - len(hj) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(hj)))
        f.write(hj)
        for b in blobs:
            f.write(b)
    return actual


# ---------------------------------------------------------------- reference forward
_erf = np.vectorize(math.erf)


def layer_norm(x, g, b):
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + EPS) * g + b


def forward(t, batch_ids, pooling):
    B = len(batch_ids)
    L = max(len(s) for s in batch_ids)
    ids = np.zeros((B, L), dtype=np.int64)
    mask = np.zeros((B, L))
    for i, s in enumerate(batch_ids):
        ids[i, : len(s)] = s
        mask[i, : len(s)] = 1.0
    x = (t["embeddings.word_embeddings.weight"][ids] +
         t["embeddings.position_embeddings.weight"][np.arange(L)][None] +
         t["embeddings.token_type_embeddings.weight"][0][None, None])
    x = layer_norm(x, t["embeddings.LayerNorm.weight"], t["embeddings.LayerNorm.bias"])
    d = HIDDEN // HEADS
    neg = (1.0 - mask)[:, None, None, :] * -1e30
    for i in range(LAYERS):
        p = f"encoder.layer.{i}."
        lin = lambda v, n: v @ t[p + n + ".weight"].T + t[p + n + ".bias"]
        def heads(v):
            return v.reshape(B, L, HEADS, d).transpose(0, 2, 1, 3)
        q = heads(lin(x, "attention.self.query"))
        k = heads(lin(x, "attention.self.key"))
        v = heads(lin(x, "attention.self.value"))
        s = q @ k.transpose(0, 1, 3, 2) / math.sqrt(d) + neg
        s = np.exp(s - s.max(-1, keepdims=True))
        s = s / s.sum(-1, keepdims=True)
        c = (s @ v).transpose(0, 2, 1, 3).reshape(B, L, HIDDEN)
        x = layer_norm(lin(c, "attention.output.dense") + x,
                       t[p + "attention.output.LayerNorm.weight"], t[p + "attention.output.LayerNorm.bias"])
        h = lin(x, "intermediate.dense")
        h = 0.5 * h * (1.0 + _erf(h / math.sqrt(2.0)))
        x = layer_norm(lin(h, "output.dense") + x,
                       t[p + "output.LayerNorm.weight"], t[p + "output.LayerNorm.bias"])
    if pooling == "mean":
        e = (x * mask[:, :, None]).sum(1) / mask.sum(1)[:, None]
    elif pooling == "cls":
        e = x[:, 0]
    else:
        e = np.where(mask[:, :, None] > 0, x, -np.inf).max(1)
    return e / np.linalg.norm(e, axis=1, keepdims=True)


# ---------------------------------------------------------------- files
def write_variant(out_dir, name, dtype, prefix, pooling, seed):
    d = os.path.join(out_dir, name)
    os.makedirs(os.path.join(d, "1_Pooling"), exist_ok=True)
    words = make_vocab()
    vocab = {w: i for i, w in enumerate(words)}
    with open(os.path.join(d, "vocab.txt"), "w", encoding="utf-8") as f:
        f.write("\n".join(words) + "\n")
    config = {"architectures": ["BertModel"], "hidden_act": "gelu", "hidden_size": HIDDEN,
              "intermediate_size": INTER, "layer_norm_eps": EPS,
              "max_position_embeddings": MAX_POSITION, "model_type": "bert",
              "num_attention_heads": HEADS, "num_hidden_layers": LAYERS,
              "position_embedding_type": "absolute", "type_vocab_size": 2,
              "vocab_size": len(words)}
    files = {
        "config.json": config,
        "tokenizer_config.json": {"do_lower_case": True, "tokenize_chinese_chars": True,
                                  "strip_accents": None},
        "sentence_bert_config.json": {"max_seq_length": MAX_SEQ, "do_lower_case": False},
        "modules.json": [
            {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
            {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
            {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"}],
        "1_Pooling/config.json": {"word_embedding_dimension": HIDDEN,
                                  "pooling_mode_cls_token": pooling == "cls",
                                  "pooling_mode_mean_tokens": pooling == "mean",
                                  "pooling_mode_max_tokens": pooling == "max",
                                  "pooling_mode_mean_sqrt_len_tokens": False},
    }
    for fname, obj in files.items():
        with open(os.path.join(d, fname), "w", encoding="utf-8") as f:
            json.dump(obj, f, indent=1)
    tensors = make_weights(np.random.default_rng(seed), len(words))
    actual = write_safetensors(os.path.join(d, "model.safetensors"), tensors, dtype, prefix)
    texts = make_inputs()
    ids = [encode(t, vocab, MAX_SEQ) for t in texts]
    emb = forward(actual, ids, pooling)
    cases = [{"text": t, "ids": i, "embedding": [float(v) for v in e]}
             for t, i, e in zip(texts, ids, emb)]
    with open(os.path.join(d, "expected.json"), "w", encoding="utf-8") as f:
        json.dump({"max_seq_tokens": MAX_SEQ, "hidden": HIDDEN, "pooling": pooling,
                   "cases": cases}, f)


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: make_bert_fixture.py OUT_DIR")
    out = sys.argv[1]
    write_variant(out, "f32_mean", "F32", "", "mean", 1)
    write_variant(out, "f16_cls_prefixed", "F16", "bert.", "cls", 2)
    write_variant(out, "bf16_max", "BF16", "", "max", 3)


if __name__ == "__main__":
    main()
