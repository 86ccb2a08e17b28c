"""The ctypes binding against the same PyTorch fixture the C tests use.
Run by meson with Debian's /usr/bin/python3 (NumPy); YOLOPR_LIBRARY names the
built library and YPR_TEST_DATA the tests/data folder."""
import math
import os
import sys
import tempfile
import unittest

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                                "examples", "python"))
import yolopr  # noqa: E402

DATA = os.environ.get("YPR_TEST_DATA", os.path.join(os.path.dirname(__file__), "..", "data"))


def fixture(name, dtype, shape):
    return np.fromfile(os.path.join(DATA, "model", name), dtype=dtype).reshape(shape)


class ModelTest(unittest.TestCase):
    def mini(self):
        m = yolopr.Model.from_cfg(os.path.join(DATA, "model", "mini.yaml"))
        m.load_weights(os.path.join(DATA, "model", "mini.safetensors"), strict=True)
        return m

    def test_builtin_counts(self):
        with yolopr.Model.from_cfg("yolov7-tiny", nc=20) as m:
            self.assertEqual(m.num_params, 6066402)
            self.assertEqual(m.num_classes, 20)
            self.assertAlmostEqual(m.macs(416) / 1e9, 2.785, places=2)

    def test_forward_matches_pytorch(self):
        m = self.mini()
        x = fixture("mini_input.bin", "<f4", (1, 3, 64, 64))
        outs = m.forward(x)
        self.assertEqual([o.shape for o in outs], [(1, 3, 16, 16, 8), (1, 3, 8, 8, 8)])
        for i, o in enumerate(outs):
            ref = fixture("mini_out%d.bin" % i, "<f4", o.shape)
            rel = np.abs(o - ref) / (np.abs(ref) + 1e-3)
            self.assertLess(rel.max(), 1e-4)

    def test_fuse_save_load(self):
        m = self.mini()
        x = fixture("mini_input.bin", "<f4", (1, 3, 64, 64))
        before = m.forward(x)
        m.fuse()
        after = m.forward(x)
        for a, b in zip(before, after):
            np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "fused.safetensors")
            m.save(path)
            back = yolopr.Model.load(path)
            self.assertEqual(back.num_params, m.num_params)
            for a, b in zip(after, back.forward(x)):
                np.testing.assert_array_equal(a, b)

    def test_detect(self):
        m = self.mini()
        img = fixture("mini_image.bin", np.uint8, (64, 64, 3))
        ref = np.fromfile(os.path.join(DATA, "model", "mini_dets.bin"), "<f4").reshape(-1, 6)
        dets = m.detect(img, conf=0.3, iou=0.45, size=64)
        self.assertEqual(dets.shape, ref.shape)
        order = lambda d: d[np.lexsort((d[:, 0], d[:, 5], -d[:, 4]))]
        np.testing.assert_allclose(order(dets), order(ref), atol=1e-3)

    def test_detect_keeps_settings(self):
        m = self.mini()
        img = fixture("mini_image.bin", np.uint8, (64, 64, 3))
        keys = [(yolopr.CONF_THRESHOLD, True), (yolopr.IOU_THRESHOLD, True),
                (yolopr.MAX_DET, False), (yolopr.MULTI_LABEL, False),
                (yolopr.AGNOSTIC_NMS, False), (yolopr.INPUT_SIZE, False)]
        settings = lambda: [m._setting(k, f) for k, f in keys]
        before = settings()
        self.assertEqual(before, [np.float32(0.25), np.float32(0.45), 300, 0, 0, 640])
        dets = m.detect(img, conf=0.3, iou=0.45, size=64, max_det=50)
        self.assertGreater(len(dets), 0)
        self.assertEqual(settings(), before)
        # a failing override (size 33) leaves the earlier ones undone too
        with self.assertRaises(yolopr.YoloprError):
            m.detect(img, conf=0.05, size=33)
        self.assertEqual(settings(), before)
        # None: the model's own settings
        m._set_setting(yolopr.CONF_THRESHOLD, True, 0.3)
        m._set_setting(yolopr.INPUT_SIZE, False, 64)
        np.testing.assert_array_equal(m.detect(img), m.detect(img, conf=0.3, size=64))
        np.testing.assert_array_equal(m.detect(img, max_det=50), dets)

    def test_errors(self):
        with self.assertRaises(yolopr.YoloprError) as cm:
            yolopr.Model.from_cfg("definitely-not-a-cfg.yaml")
        self.assertIn("definitely-not-a-cfg.yaml", str(cm.exception))
        self.assertEqual(cm.exception.code, -7)   # YPR_ENOTFOUND
        m = self.mini()
        with self.assertRaises(ValueError):
            m.forward(np.zeros((3, 64, 64), np.float32))
        with self.assertRaises(yolopr.YoloprError):
            m.forward(np.zeros((1, 3, 36, 36), np.float32))   # not a multiple of 8

    def test_version(self):
        self.assertRegex(yolopr.version(), r"^\d+\.\d+\.\d+$")
        self.assertIn(yolopr.simd_active(), ("scalar", "avx2", "avx512", "neon"))
        peak = yolopr.bench_peak(threads=1, seconds=0.02, isa="scalar")
        self.assertTrue(math.isfinite(peak) and peak > 0, peak)   # ran; never how fast
        with self.assertRaises(yolopr.YoloprError):
            yolopr.bench_peak(isa="nope")

    def test_tensor_info_quantized(self):
        """Model.tensor_info: dtypes, shapes, scales and values of a per-channel
        INT8 model; the float view is (values - zero_point) * scale; a saved
        and reloaded model gives the same tensors and outputs."""
        m = yolopr.Model.from_cfg(os.path.join(DATA, "model", "mini.yaml"))
        m.load_weights(os.path.join(DATA, "e2e", "mini_trained.safetensors"), strict=True)
        ds = yolopr.Dataset.open(os.path.join(DATA, "e2e"))
        q = m.quantize(ds, scheme="per-channel", calib_images=2, size=64, sqnr_images=0)
        f = m.tensor_info("model.0.conv.weight")
        self.assertEqual((f.dtype, f.scales, f.axis), ("F32", [], None))
        self.assertEqual(f.values.dtype, np.float32)
        np.testing.assert_array_equal(f.values, m.tensors()["model.0.conv.weight"])
        kinds = {}
        names = list(q.tensors())
        for i, name in enumerate(names):
            t = q.tensor_info(i)
            self.assertEqual(t.name, name)
            kinds[t.dtype] = kinds.get(t.dtype, 0) + 1
            if t.dtype == "F32":
                continue
            self.assertEqual(t.values.dtype, np.int8 if t.dtype == "I8" else np.int32)
            self.assertEqual(t.values.shape, t.shape)
            self.assertEqual(len(t.scales), t.shape[0])   # per channel on axis 0
            self.assertEqual(t.axis, 0)
            sc = np.array(t.scales, np.float64).reshape((-1,) + (1,) * (len(t.shape) - 1))
            zp = np.array(t.zero_points, np.int64).reshape(sc.shape)
            want = ((t.values.astype(np.int64) - zp) * sc).astype(np.float32)
            np.testing.assert_array_equal(t.floats, want)
            if t.dtype == "I8":
                self.assertLessEqual(int(np.abs(t.values).max()), 127)
        self.assertGreater(kinds.get("I8", 0), 2)
        self.assertEqual(kinds.get("I8"), kinds.get("I32"))   # each conv's weight and bias
        x = np.random.default_rng(1).random((1, 3, 64, 64), dtype=np.float32)
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "q.safetensors")
            q.save(path)
            r = yolopr.Model.load(path)
            for i in range(len(names)):
                a, b = q.tensor_info(i), r.tensor_info(i)
                self.assertEqual((a.dtype, a.scales, a.zero_points), (b.dtype, b.scales, b.zero_points))
                np.testing.assert_array_equal(a.values, b.values)
            for ya, yb in zip(q.forward(x), r.forward(x)):
                np.testing.assert_array_equal(ya, yb)
        with self.assertRaises(yolopr.YoloprError) as cm:
            q.tensor_info("no.such.tensor")
        self.assertEqual(cm.exception.code, yolopr.ENOTFOUND)
        with self.assertRaises(yolopr.YoloprError) as cm:
            q.tensor_info(len(names))
        self.assertEqual(cm.exception.code, yolopr.ERANGE)


if __name__ == "__main__":
    unittest.main(verbosity=2)
