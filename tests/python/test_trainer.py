"""The binding's Trainer: a tiny cfg trained for one epoch on a tiny synthetic
set (results, callback, checkpoints), a canceling callback (ECANCELED, the
model left as it was), settings and hyper-parameters by name, one step on a
caller's batch. Run by meson with Debian's /usr/bin/python3; YOLOPR_LIBRARY
names the built library, YPR_TEST_DATA the tests/data folder."""
import math
import os
import sys
import tempfile
import unittest

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "examples", "python"))
import yolopr  # noqa: E402

DATA = os.environ.get("YPR_TEST_DATA", os.path.join(HERE, "..", "data"))
CFG = os.path.join(DATA, "model", "mini.yaml")   # 3 classes, strides 4 and 8


def tiny_model():
    return yolopr.Model.from_cfg(CFG, nc=3, seed=1)


class TrainerTest(unittest.TestCase):
    def setUp(self):
        self.train = yolopr.Dataset.synth(8, 64, classes=3, seed=1)
        self.val = yolopr.Dataset.synth(2, 64, classes=3, seed=2)

    def test_one_epoch(self):
        m = tiny_model()
        calls = []
        with tempfile.TemporaryDirectory() as out:
            with yolopr.Trainer(m, self.train, self.val, output=out, epochs=1, batch=4, size=64,
                                workers=1, augment=False) as t:
                t.run(lambda e, n, i, k, v: calls.append((e, n, i, k, dict(v))))
                self.assertEqual(t.epochs_done, 1)
                res = t.results()
            self.assertEqual(len(res), 1)
            r = res[0]
            for k in ("box", "obj", "cls", "total"):
                self.assertTrue(math.isfinite(r[k]) and r[k] >= 0, (k, r[k]))
            self.assertAlmostEqual(r["total"], r["box"] + r["obj"] + r["cls"], places=5)
            for k in ("p", "r", "map50", "map"):
                self.assertTrue(0.0 <= r[k] <= 1.0, (k, r[k]))
            # fitness as documented: 0.1·mAP@0.5 + 0.9·mAP@0.5:0.95
            self.assertAlmostEqual(r["fitness"], 0.1 * r["map50"] + 0.9 * r["map"], places=9)
            self.assertGreater(r["seconds"], 0)
            # 8 images in batches of 4: batches 0 and 1, then the epoch's results
            self.assertEqual([(c[0], c[1], c[2], c[3]) for c in calls],
                             [(0, 1, 0, 2), (0, 1, 1, 2), (0, 1, 2, 2)])
            self.assertEqual(calls[-1][4]["map"], r["map"])
            self.assertTrue(math.isnan(calls[0][4]["map50"]))   # no evaluation mid-epoch
            for name in ("last.safetensors", "results.csv"):
                self.assertTrue(os.path.getsize(os.path.join(out, name)) > 0, name)
            with open(os.path.join(out, "results.csv")) as f:
                rows = [line for line in f.read().splitlines() if line]
            self.assertEqual(len(rows), 2)   # header and epoch 0
            with yolopr.Model.load(os.path.join(out, "last.safetensors")) as back:
                self.assertEqual(back.num_params, m.num_params)

    def test_cancel(self):
        m = tiny_model()
        before = m.tensors()
        t = yolopr.Trainer(m, self.train, None, epochs=2, batch=4, size=64, workers=1)
        with self.assertRaises(yolopr.YoloprError) as cm:
            t.run(lambda *args: True)
        self.assertEqual(cm.exception.code, yolopr.ECANCELED)
        self.assertEqual(t.epochs_done, 0)
        after = m.tensors()   # canceled in epoch 0: the starting weights
        for name, value in before.items():
            np.testing.assert_array_equal(after[name], value, err_msg=name)

        class Stop(Exception):
            pass

        def boom(*args):
            raise Stop()
        with self.assertRaises(Stop):   # an exception cancels and comes back out
            t.run(boom)
        t.close()

    def test_settings(self):
        m = tiny_model()
        with yolopr.Trainer(m, self.train, hyp={"lr0": 0.005}, loss="simple", epochs=3,
                            batch=2, sparsity=None, distill=0.5) as t:
            self.assertEqual(t.get("loss"), yolopr.LOSSES["simple"])
            self.assertEqual(t.get("epochs"), 3)
            self.assertEqual(t.get("batch"), 2)
            self.assertEqual(t.get("sparsity"), -1)
            self.assertEqual(t.get("distill"), 0.5)
            self.assertAlmostEqual(t.get_hyp("lr0"), 0.005)
            t.set("loss", "ota")
            self.assertEqual(t.get("loss"), 1)
            with self.assertRaises(yolopr.YoloprError) as cm:
                t.set("batch", 0)
            self.assertEqual(cm.exception.code, yolopr.ERANGE)
            with self.assertRaises(yolopr.YoloprError) as cm:
                t.set_hyp("no_such_key", 1.0)
            self.assertEqual(cm.exception.code, yolopr.ENOTFOUND)
            with self.assertRaises(ValueError):
                t.set("loss", "huber")
        with self.assertRaises(TypeError):
            yolopr.Trainer(m, self.train, epoch=1)   # a misspelt setting

    def test_step(self):
        m = tiny_model()
        rng = np.random.default_rng(0)
        x = rng.random((2, 3, 64, 64), dtype=np.float32)
        targets = np.array([[0, 1, 0.5, 0.5, 0.3, 0.2], [1, 2, 0.3, 0.6, 0.2, 0.4]], np.float32)
        with yolopr.Trainer(m, self.train, size=64, batch=2) as t:
            loss = t.step(x, targets)
            for k in ("box", "obj", "cls", "total"):
                self.assertTrue(math.isfinite(loss[k]) and loss[k] > 0, (k, loss[k]))
            with self.assertRaises(ValueError):
                t.step(x, targets[:, :5])
            with self.assertRaises(yolopr.YoloprError) as cm:
                t.step(x, np.array([[0, 7, 0.5, 0.5, 0.3, 0.2]], np.float32))   # class 7 of 3
            self.assertEqual(cm.exception.code, yolopr.EINVAL)
            mem = t.memory()
            self.assertGreater(mem["parameter_gradients"], 0)

    def test_closed_dataset(self):
        m = tiny_model()
        t = yolopr.Trainer(m, self.train)
        self.train.close()
        with self.assertRaises(ValueError):
            t.run()


if __name__ == "__main__":
    unittest.main(verbosity=2)
