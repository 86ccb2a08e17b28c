#!/usr/bin/python3
"""Write a tiny safetensors fixture shaped like a YOLOv7 state_dict, plus the
float32 values PyTorch itself computes for every floating tensor.

Run with Debian's interpreter (it has python3-torch 1.13 and python3-numpy):
    /usr/bin/python3 tests/data/make_safetensors_fixture.py

The `safetensors` package is not needed: the format is written here with
struct + json. Outputs (next to this script):
  yolo_fixture.safetensors   the checkpoint
  yolo_fixture_f32.bin       float32 little-endian values of the floating
                             tensors, concatenated in sorted-name order
                             (F16/BF16 converted by torch's .float())
Layout as the reference writer does it: JSON keys sorted by name with
"__metadata__" first, data sorted by (dtype size descending, name), header
padded with spaces so the data starts at a multiple of 8.
"""
import json
import os
import struct

import torch

HERE = os.path.dirname(os.path.abspath(__file__))

DTYPES = {
    torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16",
    torch.float64: "F64", torch.int64: "I64", torch.int32: "I32",
    torch.int16: "I16", torch.int8: "I8", torch.uint8: "U8", torch.bool: "BOOL",
}


def raw_bytes(t):
    t = t.contiguous()
    if t.dtype in (torch.float16, torch.bfloat16):
        t = t.view(torch.int16)        # numpy has no bfloat16
    return t.numpy().astype(t.numpy().dtype.newbyteorder("<")).tobytes()


def main():
    torch.manual_seed(20240607)
    sd = {
        "model.0.conv.weight": (torch.randn(4, 3, 3, 3) * 0.1).to(torch.float16),
        "model.0.bn.weight": (torch.rand(4) + 0.5).to(torch.bfloat16),
        "model.0.bn.running_var": torch.rand(4) * 2 + 0.01,
        "model.0.bn.num_batches_tracked": torch.tensor(1234, dtype=torch.int64),
        "model.105.anchors": torch.tensor(
            [[12, 16, 19, 36, 40, 28], [36, 75, 76, 55, 72, 146],
             [142, 110, 192, 243, 459, 401]], dtype=torch.float32).view(3, 3, 2) / 8,
        # F16 edge cases: 1, max, smallest subnormal, -0, inf, -inf, NaN,
        # smallest normal, largest subnormal, a rounding case
        "model.105.m.0.bias": torch.tensor(
            [1.0, 65504.0, 2.0 ** -24, -0.0, float("inf"), float("-inf"),
             float("nan"), 2.0 ** -14, 2.0 ** -14 - 2.0 ** -24, -0.1],
            dtype=torch.float32).to(torch.float16),
        "model.105.m.1.weight": torch.randn(2, 0, 3).to(torch.bfloat16),
        "model.105.ia.0.implicit": torch.randn(1, 4, 1, 1, dtype=torch.float64),
    }

    order = sorted(sd, key=lambda k: (-sd[k].element_size(), k))
    header = {"__metadata__": {"format": "pt", "source": "make_safetensors_fixture.py"}}
    data = b""
    for name in order:
        b = raw_bytes(sd[name])
        assert len(b) == sd[name].numel() * sd[name].element_size()
        header[name] = {"dtype": DTYPES[sd[name].dtype], "shape": list(sd[name].shape),
                        "data_offsets": [len(data), len(data) + len(b)]}
        data += b
    keys = ["__metadata__"] + sorted(sd)
    text = json.dumps({k: header[k] for k in keys}, separators=(",", ":")).encode()
    text += b" " * ((8 - (8 + len(text)) % 8) % 8)
    with open(os.path.join(HERE, "yolo_fixture.safetensors"), "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + data)

    expected = b""
    for name in sorted(sd):
        if sd[name].is_floating_point():
            expected += sd[name].float().numpy().astype("<f4").tobytes()
    with open(os.path.join(HERE, "yolo_fixture_f32.bin"), "wb") as f:
        f.write(expected)


if __name__ == "__main__":
    main()
