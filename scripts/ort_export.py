#!/usr/bin/python3
"""The PyTorch side of the ONNX Runtime anchor (scripts/bench_vs_ort.sh).

Takes one of our models, writes it back as YOLOv7 (.yaml + state_dict,
ypr_model_export_yolov7), builds that with our own PyTorch re-implementation
of YOLOv7's cfg semantics (tests/data/check_yolov7_export.py's builder), fuses
it the way YOLOv7's Model.fuse() does (Conv+BN folded, RepConv's three
branches merged into one 3x3 conv, IDetect's ImplicitA/ImplicitM folded into
the head convs) and exports it to ONNX at one input size. Also writes an
input and libyolopr's raw head outputs for it (the same model fused by
ypr_model_fuse), so the ONNX Runtime side can check that both compute the
same thing.

  --model NAME   a built-in cfg (yolov7, yolov7-tiny) built with --nc classes and
                 seed 0, then its BatchNorm statistics and implicit layers set to
                 seeded random values (a fresh model's BN is the identity, which would
                 leave fusion untested); --checkpoint is where that model is saved
  --model FILE   one of our checkpoints (.safetensors), used as it is

usage: YOLOPR_LIBRARY=build/lib/libyolopr.so /usr/bin/python3 scripts/ort_export.py \\
           --model yolov7 [--nc 20] [--checkpoint OUT.safetensors] [--size 640 --out DIR/stem]
           [--batch N]
--batch N (1 to 64) exports a graph for batches of N images (the first dimension is fixed).
Without --size and --out it only writes the checkpoint. Otherwise it writes
DIR/stem.onnx (checked by onnx.checker), DIR/stem.json (input/output names
and shapes), DIR/stem.in.bin and DIR/stem.out<level>.bin (float32,
little-endian), and prints the largest difference PyTorch-fused vs PyTorch-unfused and libyolopr-fused vs PyTorch-fused.
"""
import argparse
import json
import os
import struct
import sys
import tempfile
import warnings

import numpy as np
import onnx
import torch
import torch.nn as nn
import yaml

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
sys.path.insert(0, os.path.join(ROOT, "tests", "data"))
sys.path.insert(0, os.path.join(ROOT, "examples", "python"))
import yolopr  # noqa: E402
from check_yolov7_export import Conv, Head, RepConv, build, read_safetensors  # noqa: E402


def write_safetensors(path, tensors):
    """A plain safetensors file (F32, no metadata) of {name: float32 array}."""
    header, blobs, off = {}, [], 0
    for name, a in tensors.items():
        b = np.ascontiguousarray(a, dtype="<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(a.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


def perturb(model, seed):
    """Seeded non-trivial BatchNorm statistics and implicit values, loaded
    into @p model through its own weight loader."""
    rng = np.random.default_rng(seed)
    t = model.tensors()
    new = {}
    for name in t:
        if name.endswith(".running_var"):
            p = name[: -len("running_var")]
            c = t[name].shape
            new[p + "weight"] = rng.uniform(0.8, 1.2, c)
            new[p + "bias"] = rng.normal(0, 0.1, c)
            new[p + "running_mean"] = rng.normal(0, 0.1, c)
            new[name] = rng.uniform(0.8, 1.25, c)
        elif name.endswith(".implicit"):
            mul = ".im." in name
            new[name] = (1.0 if mul else 0.0) + rng.normal(0, 0.05, t[name].shape)
    with tempfile.TemporaryDirectory() as d:
        f = os.path.join(d, "p.safetensors")
        t.update(new)
        write_safetensors(f, {k: v.astype(np.float32) for k, v in t.items()})
        model.load_weights(f, strict=True)


def bn_fold(bn):
    """(scale, shift) of an eval-mode BatchNorm2d."""
    s = bn.weight / torch.sqrt(bn.running_var + bn.eps)
    return s, bn.bias - bn.running_mean * s


def conv_with_bias(src, weight, bias):
    c = nn.Conv2d(src.in_channels, src.out_channels, src.kernel_size, src.stride, src.padding,
                  src.dilation, src.groups, bias=True)
    c.weight.data.copy_(weight)
    c.bias.data.copy_(bias)
    return c


class FusedRep(nn.Module):
    """RepConv after fuse_repvgg_block: one 3x3 conv with bias, then SiLU."""

    def __init__(self, conv, act):
        super().__init__()
        self.conv, self.act = conv, act

    def forward(self, x):
        return self.act(self.conv(x))


@torch.no_grad()
def fuse_repconv(m):
    dense, bn_d = m.rbr_dense[0], m.rbr_dense[1]
    one, bn_1 = m.rbr_1x1[0], m.rbr_1x1[1]
    s, b = bn_fold(bn_d)
    w = dense.weight * s.view(-1, 1, 1, 1)
    bias = b.clone()
    s, b = bn_fold(bn_1)
    w = w + nn.functional.pad(one.weight * s.view(-1, 1, 1, 1), [1, 1, 1, 1])
    bias = bias + b
    if m.rbr_identity is not None:
        s, b = bn_fold(m.rbr_identity)
        c = w.shape[0]
        eye = torch.zeros_like(w)
        eye[torch.arange(c), torch.arange(c), 1, 1] = 1.0
        w = w + eye * s.view(-1, 1, 1, 1)
        bias = bias + b
    return FusedRep(conv_with_bias(dense, w, bias), m.act)


@torch.no_grad()
def fuse(net):
    """YOLOv7's Model.fuse(), on the re-implementation's modules."""
    for i, mod in enumerate(net.model):
        if isinstance(mod, RepConv):
            net.model[i] = fuse_repconv(mod)
    for mod in net.modules():
        if isinstance(mod, Conv) and not isinstance(mod.bn, nn.Identity):
            s, b = bn_fold(mod.bn)
            mod.conv = conv_with_bias(mod.conv, mod.conv.weight * s.view(-1, 1, 1, 1), b)
            mod.bn = nn.Identity()
        elif isinstance(mod, Head) and mod.implicit:
            for i, c in enumerate(mod.m):
                o, k = c.weight.shape[:2]
                # ImplicitA before the conv: b += W·a; ImplicitM after it: (W, b) *= m
                c.bias += (c.weight.view(o, k) @ mod.ia[i].implicit.view(k, 1)).view(o)
                mm = mod.im[i].implicit.view(o)
                c.bias *= mm
                c.weight *= mm.view(o, 1, 1, 1)
            mod.implicit = False
            del mod.ia, mod.im
    return net


def worst_rel(a, b):
    """max |a - b| / max |b| (one output level)."""
    return float(np.max(np.abs(a - b)) / max(float(np.max(np.abs(b))), 1e-30))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--nc", type=int, default=20)
    ap.add_argument("--checkpoint")
    ap.add_argument("--size", type=int)
    ap.add_argument("--out")
    ap.add_argument("--opset", type=int, default=13)
    ap.add_argument("--batch", type=int, default=1)
    a = ap.parse_args()
    if a.batch < 1 or a.batch > 64:
        ap.error("--batch %d: give 1 to 64 images" % a.batch)
    torch.set_num_threads(2)
    warnings.filterwarnings("ignore")   # torch.onnx's tracer warnings on the head's views

    if a.model.endswith(".safetensors"):
        m = yolopr.Model.load(a.model)
    else:
        m = yolopr.Model.from_cfg(a.model, nc=a.nc, seed=0)
        perturb(m, 7)
        if a.checkpoint:
            m.save(a.checkpoint)
    if not a.size or not a.out:
        if not a.checkpoint:
            ap.error("nothing to do: give --size and --out, or --checkpoint")
        return
    with tempfile.TemporaryDirectory() as d:
        m.export_yolov7(os.path.join(d, "m.yaml"), os.path.join(d, "m.safetensors"))
        with open(os.path.join(d, "m.yaml")) as f:
            cfg = yaml.safe_load(f)
        net = build(cfg)
        net.load_state_dict(read_safetensors(os.path.join(d, "m.safetensors")), strict=True)

    x = np.random.default_rng(1).random((a.batch, 3, a.size, a.size), dtype=np.float32)
    xt = torch.from_numpy(x)
    with torch.no_grad():
        plain = [t.numpy() for t in net(xt)]
        fuse(net)
        fused = [t.numpy() for t in net(xt)]
    m.set_threads(2)
    m.fuse()
    ours = m.forward(x)
    names = ["out%d" % i for i in range(len(fused))]
    torch.onnx.export(net, xt, a.out + ".onnx", opset_version=a.opset, input_names=["images"],
                      output_names=names, do_constant_folding=True)
    onnx.checker.check_model(a.out + ".onnx")
    x.astype("<f4").tofile(a.out + ".in.bin")
    for i, o in enumerate(ours):
        o.astype("<f4").tofile(a.out + ".out%d.bin" % i)
    with open(a.out + ".json", "w") as f:
        json.dump({"input": "images", "shape": list(x.shape), "outputs": names,
                   "output_shapes": [list(o.shape) for o in ours]}, f)
    print("%s @%d: torch fused vs unfused %.2e, libyolopr fused vs torch fused %.2e "
          "(max |diff| / max |ref| over levels), output max |y| %.3g" %
          (a.model, a.size, max(worst_rel(p, q) for p, q in zip(fused, plain)),
           max(worst_rel(p, q) for p, q in zip(ours, fused)),
           max(float(np.max(np.abs(o))) for o in fused)))


if __name__ == "__main__":
    main()
