#!/usr/bin/env python3
"""Golden values for GGUF reading and dequantization: a small GGUF file (written by the gguf
package, llama.cpp's own Python library) holding one tensor of random blocks for each type saro
decodes, plus "expected.<name>" F32 tensors with gguf.quants.dequantize's output, and metadata
of every value type. For the integer matmul kernel: "mm.<type>" weights (16 x 128; Q8_0, Q4_0,
Q4_1), activations "mm.x" (5 x 128) and "mm.expected.<type>" = x' W^T in float64, where x' is x
through ggml's Q8_0 quantizer and back (gguf.quants, as llama.cpp rounds activations for Q4
weights) and x itself for Q8_0 weights (saro rounds those activations to int16).

Writes Tests/ModelsTests/Golden/dequant.gguf. Run from the repository root:
python3 scripts/golden/make_dequant_golden.py   (needs numpy and gguf)
"""
import os

import numpy as np
import gguf
from gguf import GGMLQuantizationType as T
from gguf.quants import dequantize, quantize

OUT = os.path.join("Tests", "ModelsTests", "Golden", "dequant.gguf")
TYPES = [T.Q8_0, T.Q4_0, T.Q4_1, T.Q4_K, T.Q5_K, T.Q6_K, T.F16, T.BF16]


def random_blocks(qtype, rows, cols, rng):
    block_size, type_size = gguf.GGML_QUANT_SIZES[qtype]
    n_blocks = rows * cols // block_size
    raw = rng.integers(0, 256, size=(n_blocks, type_size), dtype=np.uint8)
    # Put finite, moderate f16 values where the block keeps its f16 scales.
    def f16(cols_at):
        for c in cols_at:
            raw[:, c:c + 2] = rng.uniform(-0.05, 0.05, size=n_blocks).astype(np.float16).view(np.uint8).reshape(n_blocks, 2)
    if qtype in (T.Q8_0, T.Q4_0):
        f16([0])
    elif qtype in (T.Q4_1, T.Q4_K, T.Q5_K):
        f16([0, 2])
    elif qtype == T.Q6_K:
        f16([208])
    elif qtype == T.F16:
        raw = rng.uniform(-2, 2, size=rows * cols).astype(np.float16).view(np.uint8).reshape(n_blocks, type_size)
    elif qtype == T.BF16:
        x = rng.uniform(-2, 2, size=rows * cols).astype(np.float32).view(np.uint32)
        raw = (x >> 16).astype(np.uint16).view(np.uint8).reshape(n_blocks, type_size)
    return raw.reshape(rows, -1)


def main():
    rng = np.random.default_rng(7)
    w = gguf.GGUFWriter(OUT, "llama")
    w.add_uint32("test.u32", 4000000000)
    w.add_int32("test.i32", -7)
    w.add_float32("test.f32", 0.25)
    w.add_float64("test.f64", -1.5)
    w.add_bool("test.bool", True)
    w.add_string("test.string", "héllo 😀")
    w.add_array("test.array", ["a", "bc", ""])
    w.add_uint64("test.u64", 1 << 40)
    w.add_int64("test.i64", -(1 << 40))
    w.add_uint8("test.u8", 200)
    w.add_int16("test.i16", -300)
    for qtype in TYPES:
        rows, cols = 3, 512
        raw = random_blocks(qtype, rows, cols, rng)
        expected = dequantize(raw, qtype).astype(np.float32)
        assert expected.shape == (rows, cols), expected.shape
        w.add_tensor(f"q.{qtype.name}", raw, raw_dtype=qtype)
        w.add_tensor(f"expected.{qtype.name}", expected)
    mm_rng = np.random.default_rng(11)
    x = mm_rng.standard_normal((5, 128)).astype(np.float32)
    x[:, 7] *= 20   # an outlier column, as real hidden states have
    w.add_tensor("mm.x", x)
    x_q8 = dequantize(quantize(x, T.Q8_0), T.Q8_0).astype(np.float64)
    for qtype in (T.Q8_0, T.Q4_0, T.Q4_1):
        raw = random_blocks(qtype, 16, 128, mm_rng)
        weights = dequantize(raw, qtype).astype(np.float64)
        activations = x.astype(np.float64) if qtype == T.Q8_0 else x_q8
        w.add_tensor(f"mm.{qtype.name}", raw, raw_dtype=qtype)
        w.add_tensor(f"mm.expected.{qtype.name}", (activations @ weights.T).astype(np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    print(OUT, os.path.getsize(OUT), "bytes")


if __name__ == "__main__":
    main()
