#!/usr/bin/python3
"""Rewrite a safetensors file with every F32 tensor stored as F16 (metadata and
other dtypes kept): halves a committed fixture. Usage: to_f16.py IN OUT"""
import json
import struct
import sys

import numpy as np

src, dst = sys.argv[1], sys.argv[2]
raw = open(src, "rb").read()
(n,) = struct.unpack("<Q", raw[:8])
header = json.loads(raw[8:8 + n])
body = raw[8 + n:]
out_header, chunks, at = {}, [], 0
for name, info in header.items():
    if name == "__metadata__":
        out_header[name] = info
        continue
    b, e = info["data_offsets"]
    data = body[b:e]
    dtype = info["dtype"]
    if dtype == "F32":
        data = np.frombuffer(data, dtype="<f4").astype("<f2").tobytes()
        dtype = "F16"
    out_header[name] = {"dtype": dtype, "shape": info["shape"],
                        "data_offsets": [at, at + len(data)]}
    chunks.append(data)
    at += len(data)
text = json.dumps(out_header, separators=(",", ":")).encode()
text += b" " * (-len(text) % 8)
with open(dst, "wb") as f:
    f.write(struct.pack("<Q", len(text)) + text + b"".join(chunks))
