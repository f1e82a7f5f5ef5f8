#!/usr/bin/env python3
"""Writes a corrupted copy of a GGUF file for the bad-input tests (tests/t_bad_model.sh).

usage: corrupt_gguf.py SRC DST MODE
MODE: truncate_header | truncate_tensors | magic | version | tensor_count | kv_count | string_len |
      tensor_type_unknown | tensor_type_unsupported | tensor_offset | pre_tokenizer | tensor_dims |
      architecture | tokenizer_model | extra_tensor | qwen2_no_bias
The walker below reads just enough of the GGUF layout (spec: ggml docs/gguf.md) to find the
fields it patches; it is independent of the C reader under test."""
import struct
import sys

SCALAR = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}


def skip_value(b, pos, t):
    if t == 8:
        (n,) = struct.unpack_from("<Q", b, pos)
        return pos + 8 + n
    if t == 9:
        et, n = struct.unpack_from("<IQ", b, pos)
        pos += 12
        for _ in range(n):
            pos = skip_value(b, pos, et)
        return pos
    return pos + SCALAR[t]


def walk(b):
    """Returns (kv entries [(key, key_pos, type_pos, value_pos)], tensor entries [(name, info_pos,
    type_pos, offset_pos)], data_start)."""
    _, _, n_t, n_kv = struct.unpack_from("<IIQQ", b, 0)
    pos = 24
    kvs = []
    for _ in range(n_kv):
        key_pos = pos
        (n,) = struct.unpack_from("<Q", b, pos)
        key = b[pos + 8:pos + 8 + n].decode()
        pos += 8 + n
        (t,) = struct.unpack_from("<I", b, pos)
        kvs.append((key, key_pos, pos, pos + 4))
        pos = skip_value(b, pos + 4, t)
    tensors = []
    for _ in range(n_t):
        info = pos
        (n,) = struct.unpack_from("<Q", b, pos)
        name = b[pos + 8:pos + 8 + n].decode()
        pos += 8 + n
        (nd,) = struct.unpack_from("<I", b, pos)
        pos += 4 + 8 * nd
        tensors.append((name, info, pos, pos + 4))
        pos += 12
    return kvs, tensors, pos


def main():
    src, dst, mode = sys.argv[1:4]
    b = bytearray(open(src, "rb").read())
    kvs, tensors, end = walk(b)
    by_name = {t[0]: t for t in tensors}
    if mode == "truncate_header":
        b = b[:1000]
    elif mode == "truncate_tensors":
        b = b[: len(b) // 2]
    elif mode == "magic":
        b[0:4] = b"GGML"
    elif mode == "version":
        struct.pack_into("<I", b, 4, 99)
    elif mode == "tensor_count":
        struct.pack_into("<Q", b, 8, 1 << 60)
    elif mode == "kv_count":
        struct.pack_into("<Q", b, 16, 0xFFFFFFFFFFFF)
    elif mode == "string_len":
        struct.pack_into("<Q", b, kvs[0][1], 1 << 62)
    elif mode == "tensor_type_unknown":
        struct.pack_into("<I", b, by_name["blk.0.attn_q.weight"][2], 99)
    elif mode == "tensor_type_unsupported":
        # IQ4_NL (id 20): a ggml type with 32-element blocks of 18 bytes that the runtime cannot
        # dequantise; patch a 1536-wide tensor (whole blocks; fewer bytes than Q4_1, so still in the file).
        struct.pack_into("<I", b, by_name["blk.0.ffn_down.weight"][2], 20)
    elif mode == "tensor_offset":
        struct.pack_into("<Q", b, by_name["blk.29.ffn_up.weight"][3], len(b) // 32 * 32)
    elif mode == "tensor_dims":
        struct.pack_into("<I", b, by_name["blk.3.attn_k.weight"][2] - 4 - 8 * 2, 7)
    elif mode in ("architecture", "tokenizer_model"):
        # general.architecture "llama" -> "xxxxx"; tokenizer.ggml.model "gpt2" -> "bert" (same lengths)
        key, new = ("general.architecture", b"xxxxx") if mode == "architecture" else ("tokenizer.ggml.model", b"bert")
        for k, _, _, vpos in kvs:
            if k == key:
                (n,) = struct.unpack_from("<Q", b, vpos)
                assert n == len(new), (key, n)
                b[vpos + 8:vpos + 8 + n] = new
    elif mode == "qwen2_no_bias":
        # The llama file relabelled qwen2: general.architecture "llama" -> "qwen2" and every "llama."
        # key prefix -> "qwen2." (same lengths, patched in place); it has no Q/K/V biases, which qwen2
        # requires.
        for k, kpos, _, vpos in kvs:
            if k == "general.architecture":
                b[vpos + 8:vpos + 13] = b"qwen2"
            if k.startswith("llama."):
                b[kpos + 8:kpos + 14] = b"qwen2."
    elif mode == "extra_tensor":
        # A tensor the llama architecture does not use (a Q bias, as Qwen2 has): one more tensor
        # entry, F32 [576] pointing at output_norm.weight's data. The tables grow, so the data
        # section moves to the next multiple of the alignment (32); tensor offsets are relative to it.
        assert not any(k == "general.alignment" for k, _, _, _ in kvs)
        data_start = (end + 31) // 32 * 32
        (norm_off,) = struct.unpack_from("<Q", b, by_name["output_norm.weight"][3])
        name = b"blk.0.attn_q.bias"
        info = struct.pack("<Q", len(name)) + name + struct.pack("<IQIQ", 1, 576, 0, norm_off)
        tables = bytearray(b[:end]) + info
        struct.pack_into("<Q", tables, 8, len(tensors) + 1)
        tables += b"\0" * ((-len(tables)) % 32)
        b = tables + b[data_start:]
    elif mode == "pre_tokenizer":
        for key, _, _, vpos in kvs:
            if key == "tokenizer.ggml.pre":
                (n,) = struct.unpack_from("<Q", b, vpos)
                b[vpos + 8:vpos + 8 + n] = b"x" * n
    else:
        sys.exit("unknown mode " + mode)
    open(dst, "wb").write(b)


main()
