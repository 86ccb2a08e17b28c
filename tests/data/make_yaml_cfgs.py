#!/usr/bin/python3
"""YOLOv7-tiny cfgs as PyYAML writes them, for the model tests: a cfg that
YOLOv7's tools load with yaml.safe_load and dump again with yaml.safe_dump
comes back with sorted keys, block sequences at column 0 and, depending on
default_flow_style, flow lists only at the leaves or nowhere or everywhere.
The test builds each and requires the net of the built-in yolov7-tiny (same
tensor names and shapes, 6,066,402 parameters at nc 20).

The layer table is generated here from YOLOv7-tiny's published structure
(ELAN blocks of 1x1 + 3x3 LeakyReLU convs, MP down-sampling, the SP pyramid,
the PAN head, IDetect on P3-P5).

Writes into tests/data/yaml/:
  yolov7-tiny-leaves.yaml   default_flow_style=None (lists of scalars in flow style)
  yolov7-tiny-block.yaml    default_flow_style=False (everything block), None as null
  yolov7-tiny-flow.yaml     default_flow_style=True, explicit '---' and '...'

Run with Debian's interpreter: /usr/bin/python3 tests/data/make_yaml_cfgs.py
"""
import os

import yaml

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "yaml")
ACT = "nn.LeakyReLU(0.1)"


def tiny(none):
    rows = []

    def conv(src, c, k, s):
        rows.append([src, 1, "Conv", [c, k, s, none, 1, ACT]])
        return len(rows) - 1

    def elan(c, out):
        conv(-1, c, 1, 1)
        conv(-2, c, 1, 1)
        conv(-1, c, 3, 1)
        conv(-1, c, 3, 1)
        rows.append([[-1, -2, -3, -4], 1, "Concat", [1]])
        return conv(-1, out, 1, 1)

    def mp():
        rows.append([-1, 1, "MP", []])

    def up_merge(c, route):
        conv(-1, c, 1, 1)
        rows.append([-1, 1, "nn.Upsample", [none, 2, "nearest"]])
        conv(route, c, 1, 1)
        rows.append([[-1, -2], 1, "Concat", [1]])

    conv(-1, 32, 3, 2)
    conv(-1, 64, 3, 2)
    elan(32, 64)
    mp()
    p3 = elan(64, 128)
    mp()
    p4 = elan(128, 256)
    mp()
    elan(256, 512)
    nb = len(rows)
    conv(-1, 256, 1, 1)
    conv(-2, 256, 1, 1)
    for i, k in enumerate((5, 9, 13)):
        rows.append([-1 - i, 1, "SP", [k]])
    rows.append([[-1, -2, -3, -4], 1, "Concat", [1]])
    conv(-1, 256, 1, 1)
    rows.append([[-1, -7], 1, "Concat", [1]])
    h5 = conv(-1, 256, 1, 1)
    up_merge(128, p4)
    h4 = elan(64, 128)
    up_merge(64, p3)
    o3 = elan(32, 64)
    conv(-1, 128, 3, 2)
    rows.append([[-1, h4], 1, "Concat", [1]])
    o4 = elan(64, 128)
    conv(-1, 256, 3, 2)
    rows.append([[-1, h5], 1, "Concat", [1]])
    o5 = elan(128, 256)
    outs = [conv(o3, 128, 3, 1), conv(o4, 256, 3, 1), conv(o5, 512, 3, 1)]
    rows.append([outs, 1, "IDetect", ["nc", "anchors"]])
    return {
        "nc": 80,
        "depth_multiple": 1.0,
        "width_multiple": 1.0,
        "anchors": [[10, 13, 16, 30, 33, 23], [30, 61, 62, 45, 59, 119],
                    [116, 90, 156, 198, 373, 326]],
        "backbone": rows[:nb],
        "head": rows[nb:],
    }


def main():
    os.makedirs(HERE, exist_ok=True)
    variants = [
        ("yolov7-tiny-leaves.yaml", "None", dict(default_flow_style=None)),
        ("yolov7-tiny-block.yaml", None, dict(default_flow_style=False)),
        ("yolov7-tiny-flow.yaml", "None",
         dict(default_flow_style=True, explicit_start=True, explicit_end=True)),
    ]
    for name, none, opts in variants:
        cfg = tiny(none)
        text = yaml.safe_dump(cfg, **opts)
        assert yaml.safe_load(text) == cfg
        with open(os.path.join(HERE, name), "w") as f:
            f.write(text)
        print(name, len(text), "bytes,", len(cfg["backbone"]) + len(cfg["head"]), "layers")


if __name__ == "__main__":
    main()
