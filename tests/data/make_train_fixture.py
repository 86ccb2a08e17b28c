#!/usr/bin/python3
"""Reference for one training step's autograd: the model of
tests/data/model/mini.yaml (the PyTorch modules of make_model_fixture.py)
with the weights of tests/data/model/mini.safetensors, in TRAIN mode
(BatchNorm on batch statistics, eps 1e-3, momentum 0.03: the normalization
uses the biased batch variance, running_var is updated with the unbiased
one), one fixed batch, YOLOv7's loss (ComputeLoss and ComputeLossOTA as
re-implemented in make_loss_fixture.py, hyp.scratch.p5 gains rescaled for
2 levels, nc 3 and image size 64), and the gradient of the total loss
(loss items · batch, what train.py backpropagates) w.r.t. every parameter.

Run with Debian's interpreter: /usr/bin/python3 tests/data/make_train_fixture.py

Writes into tests/data/train/:
  train.safetensors  float32 tensors:
    input                   [2, 3, 64, 64] the batch (seeded uniform [0, 1))
    targets                 [nt, 6] rows (image, class, x, y, w, h), normalized
    head.<l>                [2, na·no, H_l, W_l] raw head maps of the train-mode
                            forward (IDetect's conv output after the implicit
                            multiply), l = 0, 1
    ota<k>.head_grad.<l>    d total / d head.<l> (what ypr__loss_run gives), k = 0
                            for ComputeLoss, 1 for ComputeLossOTA
    ota<k>.grad.<name>      d total / d parameter for every state_dict parameter
                            <name> (requires_grad ones: conv weights and biases,
                            BatchNorm weight and bias, implicit vectors), k = 0
                            for ComputeLoss, 1 for ComputeLossOTA
    bn.<name>.running_mean  BatchNorm running statistics after that one forward
    bn.<name>.running_var   from the loaded weights (<name> the module path)
  manifest.json      the loss items [lbox, lobj, lcls, total] for ota 0 and 1,
                     the loss options, the parameter names, shapes

Each loss is evaluated on a fresh copy of the loaded model (one forward each),
so the running statistics are those after exactly one train-mode forward.
"""
import json
import os
import struct
import sys

import torch
import torch.nn as nn

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "train")
sys.path.insert(0, HERE)
import make_loss_fixture as lossref    # noqa: E402
import make_model_fixture as mini      # noqa: E402


def read_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, e in header.items():
        if name == "__metadata__":
            continue
        assert e["dtype"] == "F32"
        a, b = e["data_offsets"]
        out[name] = torch.frombuffer(bytearray(data[a:b]), dtype=torch.float32).view(e["shape"]).clone()
    return out


def load_model(sd):
    net = mini.Net()
    missing, unexpected = net.load_state_dict({k: v for k, v in sd.items() if "anchor" not in k},
                                              strict=False)
    assert not unexpected, unexpected
    assert all(k.endswith("num_batches_tracked") for k in missing), missing
    return net.train()


def main():
    sd = read_safetensors(os.path.join(HERE, "model", "mini.safetensors"))
    torch.manual_seed(20261202)
    x = torch.rand(2, 3, 64, 64)
    targets = torch.tensor([[0, 0, 0.30, 0.40, 0.20, 0.30], [0, 2, 0.70, 0.60, 0.40, 0.50],
                            [1, 1, 0.50, 0.50, 0.80, 0.70], [1, 0, 0.10, 0.85, 0.10, 0.12],
                            [1, 2, 0.62, 0.20, 0.05, 0.07]], dtype=torch.float32)
    nl, nc, na, img = 2, mini.NC, 3, 64
    strides = [4.0, 8.0]
    h = lossref.HYP
    o = dict(nc=nc, nl=nl, na=na, anchors=sd["model.17.anchors"].view(-1).tolist(), strides=strides,
             box=float(torch.tensor(h["box"] * 3.0 / nl)),
             cls=float(torch.tensor(h["cls"] * nc / 80.0 * 3.0 / nl)),
             obj=float(torch.tensor(h["obj"] * (img / 640) ** 2 * 3.0 / nl)),
             cls_pw=h["cls_pw"], obj_pw=h["obj_pw"], anchor_t=h["anchor_t"],
             label_smoothing=h["label_smoothing"], fl_gamma=h["fl_gamma"], img_h=img, img_w=img)
    tensors = {"input": x, "targets": targets}
    manifest = {"opts": o, "input": list(x.shape), "targets": list(targets.shape)}
    heads_seen = None
    for ota in (0, 1):
        net = load_model(sd)
        outs = net(x)    # [B, na, H, W, no] views of the maps
        maps = [y.permute(0, 1, 4, 2, 3).reshape(y.shape[0], na * (nc + 5), y.shape[2], y.shape[3])
                for y in outs]
        for m in maps:
            m.retain_grad()
        lbox, lobj, lcls, total = lossref.compute_loss(maps, targets, o, ota)
        total.backward()
        for l, m in enumerate(maps):
            tensors["ota%d.head_grad.%d" % (ota, l)] = m.grad.detach().clone()
        manifest["loss_ota%d" % ota] = [float(lbox), float(lobj), float(lcls), float(total)]
        print("ota", ota, manifest["loss_ota%d" % ota])
        names = []
        for name, p in net.named_parameters():
            tensors["ota%d.grad.%s" % (ota, name)] = p.grad.detach().clone()
            names.append(name)
        manifest["params"] = names
        heads = [m.detach().clone() for m in maps]
        if heads_seen is None:
            heads_seen = heads
            for l, m in enumerate(heads):
                tensors["head.%d" % l] = m
            bns = []
            for name, mod in net.named_modules():
                if isinstance(mod, nn.BatchNorm2d):
                    tensors["bn.%s.running_mean" % name] = mod.running_mean.detach().clone()
                    tensors["bn.%s.running_var" % name] = mod.running_var.detach().clone()
                    bns.append(name)
            manifest["batchnorms"] = bns
        else:
            assert all(torch.equal(a, b) for a, b in zip(heads_seen, heads))
    manifest["heads"] = [list(m.shape) for m in heads_seen]
    os.makedirs(OUT, exist_ok=True)
    mini.write_safetensors(os.path.join(OUT, "train.safetensors"), dict(sorted(tensors.items())))
    with open(os.path.join(OUT, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)


if __name__ == "__main__":
    main()
