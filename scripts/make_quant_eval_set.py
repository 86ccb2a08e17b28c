#!/usr/bin/python3
"""A larger held-out set for measuring quantization (docs/quant.md): images
drawn exactly as tests/data/make_e2e_fixture.py draws its 40 (the shapes the
committed tests/data/e2e/mini_trained.safetensors was trained on), with other
seeds: OUT/images/{train,val}/, OUT/labels/{train,val}/, OUT/data.yaml.
The 40-image fixture scores mAP@0.5 within about ±2 points of noise, too
coarse to see a 1-point loss.

  /usr/bin/python3 scripts/make_quant_eval_set.py OUT [NVAL [NCALIB]]
"""
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "data"))
import make_e2e_fixture as fx  # noqa: E402


def write(out, split, n, seed):
    rng = np.random.default_rng(seed)
    for d in ("images", "labels"):
        os.makedirs(os.path.join(out, d, split), exist_ok=True)
    for k in range(n):
        w, h = fx.SIZE, fx.SIZE if k % 5 == 0 else int(rng.integers(48, fx.SIZE))
        if k % 2:
            w, h = h, w
        img, labels = fx.draw_image(rng, w, h)
        fx.write_png(os.path.join(out, "images", split, "%s%04d.png" % (split, k)), img)
        with open(os.path.join(out, "labels", split, "%s%04d.txt" % (split, k)), "w") as f:
            f.write(fx.label_text(labels, w, h))


def main():
    out = sys.argv[1]
    nval = int(sys.argv[2]) if len(sys.argv) > 2 else 400
    ncal = int(sys.argv[3]) if len(sys.argv) > 3 else 100
    write(out, "val", nval, 777)
    write(out, "train", ncal, 778)
    with open(os.path.join(out, "data.yaml"), "w") as f:
        f.write("train: %s\nval: %s\nnc: %d\nnames: [%s]\n" % (
            os.path.abspath(os.path.join(out, "images", "train")),
            os.path.abspath(os.path.join(out, "images", "val")), fx.NC,
            ", ".join("'%s'" % n for n in fx.NAMES)))


if __name__ == "__main__":
    main()
