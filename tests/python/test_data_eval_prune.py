"""The ctypes binding's datasets, evaluator, dependency graph and pruner.
Run by meson with Debian's /usr/bin/python3 (NumPy); YOLOPR_LIBRARY names the
built library and YPR_TEST_DATA the tests/data folder."""
import gc
import os
import subprocess
import sys
import tempfile
import unittest

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
BINDING = os.path.join(HERE, "..", "..", "examples", "python")
sys.path.insert(0, BINDING)
import yolopr  # noqa: E402

# YPR_TEST_THREADS (tests/meson.build): the default thread count of the models
# made here; meson runs tests side by side, one per core (see test_util.h).
if os.environ.get("YPR_TEST_THREADS"):
    assert yolopr._c.ypr_set_num_threads(int(os.environ["YPR_TEST_THREADS"])) == 0

EINVAL, ERANGE, EFORMAT, ENOTFOUND, ESTATE, ECANCELED = -1, -3, -5, -7, -9, -10


def gt_detections(labels, conf=0.9, dx=0.0):
    """Ground-truth rows as detections (x1, y1, x2, y2, conf, class), shifted
    right by dx box widths."""
    d = np.zeros((len(labels), 6), np.float32)
    w = labels[:, 3] - labels[:, 1]
    d[:, 0] = labels[:, 1] + dx * w
    d[:, 2] = labels[:, 3] + dx * w
    d[:, 1] = labels[:, 2]
    d[:, 3] = labels[:, 4]
    d[:, 4] = conf
    d[:, 5] = labels[:, 0]
    return d


class DatasetTest(unittest.TestCase):
    def test_synth_deterministic(self):
        a, b = yolopr.Dataset.synth(3, 64, classes=5, seed=7), yolopr.Dataset.synth(3, 64, 5, 7)
        other = yolopr.Dataset.synth(3, 64, classes=5, seed=8)
        self.assertEqual(len(a), 3)
        self.assertEqual(a.num_classes, 5)
        self.assertEqual(len(a.class_names), 5)
        self.assertTrue(all(isinstance(n, str) and n for n in a.class_names))
        self.assertEqual(a.num_skipped, 0)
        self.assertEqual(a.image_path(0), "")
        differs = False
        for i in range(3):
            ia, ib = a.image(i), b.image(i)
            self.assertEqual(ia.shape, (64, 64, 3))
            self.assertEqual(ia.dtype, np.uint8)
            np.testing.assert_array_equal(ia, ib)
            la, lb = a.labels(i), b.labels(i)
            self.assertEqual(la.dtype, np.float32)
            self.assertEqual(la.shape[1], 6)
            np.testing.assert_array_equal(la, lb)
            differs |= not np.array_equal(ia, other.image(i))
        self.assertTrue(differs, "another seed gives other images")

    def test_labels_inside_image(self):
        ds = yolopr.Dataset.synth(6, 96, classes=8, seed=3)
        total = 0
        for i in range(len(ds)):
            h, w, _ = ds.image(i).shape
            lab = ds.labels(i)
            total += len(lab)
            self.assertTrue(np.all((lab[:, 0] >= 0) & (lab[:, 0] < ds.num_classes)))
            self.assertTrue(np.all(lab[:, 0] == np.floor(lab[:, 0])))
            self.assertTrue(np.all((lab[:, 1] >= 0) & (lab[:, 2] >= 0)))
            self.assertTrue(np.all((lab[:, 3] <= w) & (lab[:, 4] <= h)))
            self.assertTrue(np.all((lab[:, 1] < lab[:, 3]) & (lab[:, 2] < lab[:, 4])))
            self.assertTrue(np.all((lab[:, 5] == 0) | (lab[:, 5] == 1)))
        self.assertGreater(total, 0)

    def test_write_yolo_round_trip(self):
        ds = yolopr.Dataset.synth(4, 64, classes=6, seed=11)
        with tempfile.TemporaryDirectory() as d:
            ds.write_yolo(d)
            back = yolopr.Dataset.open(os.path.join(d, "data.yaml"), "val")
            self.assertEqual(len(back), len(ds))
            self.assertEqual(back.class_names, ds.class_names)
            for i in range(len(ds)):
                self.assertTrue(back.image_path(i).endswith("%06d.png" % i), back.image_path(i))
                np.testing.assert_array_equal(back.image(i), ds.image(i))   # PNG is lossless
                a, b = ds.labels(i), back.labels(i)
                self.assertEqual(a.shape, b.shape)
                np.testing.assert_allclose(b, a, atol=1e-4, rtol=0)
            with self.assertRaises(IndexError):
                back.image_path(len(back))

    def test_open_errors_and_skip(self):
        with tempfile.TemporaryDirectory() as d:
            yolopr.Dataset.synth(3, 64, classes=4, seed=1).write_yolo(d)
            with open(os.path.join(d, "labels", "val", "000001.txt"), "a") as f:
                f.write("not a label line\n")
            yaml = os.path.join(d, "data.yaml")
            with self.assertRaises(yolopr.YoloprError) as cm:
                yolopr.Dataset.open(yaml, "val")
            self.assertEqual(cm.exception.code, EFORMAT)
            self.assertIn("000001.txt", str(cm.exception))   # the file is named
            ds = yolopr.Dataset.open(yaml, "val", skip_bad=True)
            self.assertEqual(len(ds), 2)
            self.assertEqual(ds.num_skipped, 1)
            with self.assertRaises(yolopr.YoloprError) as cm:
                yolopr.Dataset.open(yaml, "no-such-split")
            self.assertEqual(cm.exception.code, ENOTFOUND)
        with self.assertRaises(yolopr.YoloprError) as cm:
            yolopr.Dataset.synth(0, 64)
        self.assertEqual(cm.exception.code, EINVAL)
        ds = yolopr.Dataset.synth(2, 64)
        with self.assertRaises(yolopr.YoloprError) as cm:
            ds.labels(2)
        self.assertEqual(cm.exception.code, ERANGE)
        ds.close()
        with self.assertRaises(ValueError):
            len(ds)


class EvaluatorTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.ds = yolopr.Dataset.synth(6, 96, classes=4, seed=5)
        cls.labels = [cls.ds.labels(i) for i in range(len(cls.ds))]

    def scored(self, make_dets, **settings):
        e = yolopr.Evaluator(None, self.ds, **settings)
        for i, lab in enumerate(self.labels):
            e.add_detections(i, make_dets(lab))
        return e.compute().get()

    def test_ground_truth_is_perfect(self):
        for metric in ("yolov7", "coco"):
            r = self.scored(gt_detections, metric=metric)
            self.assertEqual(r["map50"], 1.0, metric)
            self.assertEqual(r["map"], 1.0, metric)
            self.assertEqual(r["images"], len(self.ds))
            self.assertEqual(r["labels"], sum(len(x) for x in self.labels))
            self.assertAlmostEqual(r["r"], 1.0, places=6)

    def test_shifted_boxes_score_lower(self):
        quarter = self.scored(lambda lab: gt_detections(lab, dx=0.25))   # IoU 0.6
        self.assertLess(quarter["map"], 0.5)
        self.assertGreater(quarter["map"], 0.0)
        self.assertEqual(quarter["map50"], 1.0)
        whole = self.scored(lambda lab: gt_detections(lab, dx=1.0))      # IoU 0
        self.assertEqual(whole["map50"], 0.0)
        self.assertEqual(whole["map"], 0.0)

    def test_no_detections(self):
        e = yolopr.Evaluator(None, self.ds)
        r = e.compute().get()
        self.assertEqual((r["map50"], r["map"], r["p"], r["r"]), (0.0, 0.0, 0.0, 0.0))
        self.assertEqual(r["labels"], sum(len(x) for x in self.labels))
        # an empty array is "no detections" for that image too
        e2 = yolopr.Evaluator(None, self.ds)
        e2.add_detections(0, np.zeros((0, 6), np.float32))
        self.assertEqual(e2.compute().get()["map"], 0.0)

    def test_results_views(self):
        e = yolopr.Evaluator(None, self.ds)
        for i, lab in enumerate(self.labels):
            if i % 2 == 0:   # half the images: recall about one half
                e.add_detections(i, gt_detections(lab))
        e.compute()
        all_ = e.get()
        self.assertLess(all_["r"], 1.0)
        self.assertGreater(all_["r"], 0.0)
        rows = e.per_class()
        self.assertEqual([r["name"] for r in rows], self.ds.class_names)
        self.assertEqual(sum(r["labels"] for r in rows), all_["labels"])
        js = e.json()
        self.assertEqual(js["all"]["labels"], all_["labels"])
        self.assertAlmostEqual(js["all"]["map50"], all_["map50"], places=4)
        self.assertEqual(len(js["classes"]), self.ds.num_classes)
        table = e.table()
        self.assertIn("mAP@.5", table)
        self.assertIn(self.ds.class_names[0], table)
        self.assertEqual(len(e.speed()), 3)
        with tempfile.TemporaryDirectory() as d:
            out = os.path.join(d, "plots")
            e.save_plots(out)
            for name in ("PR_curve.png", "confusion_matrix.png"):
                self.assertGreater(os.path.getsize(os.path.join(out, name)), 100)

    def test_read_detections(self):
        with tempfile.TemporaryDirectory() as d:
            for i, lab in enumerate(self.labels):
                h, w, _ = self.ds.image(i).shape
                with open(os.path.join(d, "%06d.txt" % i), "w") as f:   # synthetic stems
                    for c, x1, y1, x2, y2, _ in lab:
                        f.write("%d %.7f %.7f %.7f %.7f 0.9\n" % (
                            c, (x1 + x2) / 2 / w, (y1 + y2) / 2 / h, (x2 - x1) / w, (y2 - y1) / h))
            r = yolopr.Evaluator(None, self.ds).read_detections(d).get()
            self.assertEqual(r["map50"], 1.0)
            self.assertGreater(r["map"], 0.99)
            with self.assertRaises(yolopr.YoloprError) as cm:
                yolopr.Evaluator(None, self.ds).read_detections(os.path.join(d, "none"))
            self.assertEqual(cm.exception.code, ENOTFOUND)

    def test_settings_and_errors(self):
        e = yolopr.Evaluator(None, self.ds, conf=0.1, metric="coco", size=320)
        self.assertEqual((e.conf, e.metric, e.size, e.iou), (0.1, "coco", 320, 0.65))
        e.iou = 0.5
        self.assertEqual(e.iou, 0.5)
        for name, value in (("conf", 2.0), ("size", 100), ("batch", 0), ("max_det", 0)):
            with self.assertRaises(yolopr.YoloprError) as cm:
                setattr(e, name, value)
            self.assertEqual(cm.exception.code, ERANGE, name)
        self.assertEqual(e.size, 320)   # a refused value is not recorded
        with self.assertRaises(ValueError):
            e.metric = "voc"
        with self.assertRaises(TypeError):
            yolopr.Evaluator(None, self.ds, confidence=0.5)
        with self.assertRaises(yolopr.YoloprError) as cm:
            e.get()
        self.assertEqual(cm.exception.code, ESTATE)   # nothing evaluated yet
        with self.assertRaises(yolopr.YoloprError) as cm:
            e.run()
        self.assertEqual(cm.exception.code, ESTATE)   # no model
        e.add_detections(0, gt_detections(self.labels[0]))
        with self.assertRaises(yolopr.YoloprError) as cm:
            e.add_detections(0, gt_detections(self.labels[0]))
        self.assertEqual(cm.exception.code, ESTATE)   # twice
        with self.assertRaises(yolopr.YoloprError) as cm:
            e.add_detections(len(self.ds), gt_detections(self.labels[0]))
        self.assertEqual(cm.exception.code, ERANGE)
        with self.assertRaises(ValueError):
            e.add_detections(1, np.zeros((2, 5), np.float32))
        m = yolopr.Model.from_cfg("yolov7-tiny", nc=self.ds.num_classes + 1, width_multiple=0.25)
        with self.assertRaises(yolopr.YoloprError) as cm:
            yolopr.Evaluator(m, self.ds)
        self.assertEqual(cm.exception.code, EINVAL)   # class counts disagree


class EvaluatorRunTest(unittest.TestCase):
    def make(self, **settings):
        # temporaries on purpose: the evaluator must keep its model and dataset alive
        ds = yolopr.Dataset.synth(4, 64)
        e = yolopr.Evaluator(yolopr.Model.from_cfg("yolov7-tiny", nc=ds.num_classes,
                                                   width_multiple=0.25), ds, size=64, **settings)
        del ds
        gc.collect()
        return e

    def test_run_small_model(self):
        e = self.make()
        e.run()
        r = e.get()
        self.assertEqual(r["images"], 4)
        self.assertGreater(r["labels"], 0)
        for k in ("p", "r", "map50", "map"):
            self.assertGreaterEqual(r[k], 0.0, k)
            self.assertLessEqual(r[k], 1.0, k)
        inference, nms, total = e.speed()
        self.assertGreater(inference, 0.0)
        self.assertGreater(total, 0.0)
        self.assertAlmostEqual(total, inference + nms, places=9)
        self.assertIn("Speed:", e.table())
        # which plan ran: the float model's, on the active kernel set
        self.assertIn("\nplan: float (%s)\n" % yolopr.simd_active(), e.table())

    def test_matches_testpy_and_keeps_model(self):
        """The trained fixture scores what our PyTorch re-implementation of
        test.py gives (tests/data/make_e2e_fixture.py), and the model's
        detection settings are as before."""
        data = os.environ.get("YPR_TEST_DATA", os.path.join(HERE, "..", "data"))
        m = yolopr.Model.from_cfg(os.path.join(data, "model", "mini.yaml"))
        m.load_weights(os.path.join(data, "e2e", "mini_trained.safetensors"), strict=True)
        keys = [(k, k in (yolopr.CONF_THRESHOLD, yolopr.IOU_THRESHOLD)) for k in range(100, 106)]
        before = [m._setting(k, f) for k, f in keys]
        ds = yolopr.Dataset.open(os.path.join(data, "e2e"))
        with open(os.path.join(data, "e2e", "expected.txt")) as f:
            rows = [l.split() for l in f if not l.startswith("#")]
        for batch, cap, map50, map_ in (r for r in rows if r[0] == "3"):
            e = yolopr.Evaluator(m, ds, size=128, batch=int(batch), cap_canvas=cap == "1")
            self.assertEqual(e.cap_canvas, cap == "1")
            e.run()
            r = e.get()
            self.assertAlmostEqual(r["map50"], float(map50), delta=1e-4)
            self.assertAlmostEqual(r["map"], float(map_), delta=1e-4)
        self.assertEqual([m._setting(k, f) for k, f in keys], before)

    def test_progress_and_cancel(self):
        e = self.make()
        calls = []
        e.run(progress=lambda done, total: calls.append((done, total)))
        self.assertEqual(calls, [(1, 4), (2, 4), (3, 4), (4, 4)])
        calls.clear()
        with self.assertRaises(yolopr.YoloprError) as cm:
            e.run(progress=lambda done, total: calls.append(done) or done >= 2)
        self.assertEqual(cm.exception.code, ECANCELED)
        self.assertIn("cancel", str(cm.exception))
        self.assertEqual(calls, [1, 2])
        # an exception in the callback cancels the run and comes out as itself
        def boom(done, total):
            raise KeyError("from the callback")
        with self.assertRaises(KeyError):
            e.run(progress=boom)
        # the callback is not left installed: a plain run works afterwards
        e.max_images = 2
        e.run()
        self.assertEqual(e.get()["images"], 2)


class QuantizerTest(unittest.TestCase):
    def test_quantize_mini(self):
        """Model.quantize returns a new model on the dpu grid that still
        detects; the source model is unchanged; the report and bad settings."""
        data = os.environ.get("YPR_TEST_DATA", os.path.join(HERE, "..", "data"))
        m = yolopr.Model.from_cfg(os.path.join(data, "model", "mini.yaml"))
        m.load_weights(os.path.join(data, "e2e", "mini_trained.safetensors"), strict=True)
        ds = yolopr.Dataset.open(os.path.join(data, "e2e"))
        before = {n: a.tobytes() for n, a in m.tensors().items()}
        q = m.quantize(ds, scheme="dpu", method="minmax", calib_images=4, size=128,
                       sqnr_images=0)
        self.assertNotEqual(q._h.value, m._h.value)
        ev = yolopr.Evaluator(q, ds, size=128, max_images=10).run().get()
        self.assertGreater(ev["map50"], 0.2)
        after = {n: a.tobytes() for n, a in m.tensors().items()}
        self.assertEqual(before, after)
        with yolopr.Quantizer(m, ds, scheme="per-channel", calib_images=2, size=128,
                              keep_float=["model.17.*"]) as qz:
            qm = qz.quantize()
            rep = qz.report(json_format=True)
            self.assertEqual(rep["scheme"], "per-channel")
            self.assertTrue(any(l["float"] for l in rep["layers"]))
            self.assertIn("local dB", qz.report())
            self.assertEqual(qz.get("calib_images"), 2)
            qm.close()
        with self.assertRaises(ValueError):
            yolopr.Quantizer(m, ds, scheme="int4")
        with self.assertRaises(TypeError):
            yolopr.Quantizer(m, ds, bits=4)
        with self.assertRaises(yolopr.YoloprError) as cm:
            yolopr.Quantizer(m, ds, size=100)
        self.assertEqual(cm.exception.code, yolopr.ERANGE)


    def test_qat_mini(self):
        """Model.quantize(qat=N): fine-tuned through the steps and converted;
        convert() refuses a model that is not one of the quantizer's."""
        data = os.environ.get("YPR_TEST_DATA", os.path.join(HERE, "..", "data"))
        m = yolopr.Model.from_cfg(os.path.join(data, "model", "mini.yaml"))
        m.load_weights(os.path.join(data, "e2e", "mini_trained.safetensors"), strict=True)
        ds = yolopr.Dataset.synth(8, 64, 3, seed=3)
        ptq = m.quantize(ds, scheme="dpu", calib_images=2, size=64, sqnr_images=0)
        qat = m.quantize(ds, qat=2, scheme="dpu", calib_images=2, size=64, sqnr_images=0,
                         qat_settings={"batch": 4, "size": 64, "augment": 0,
                                       "hyp": {"lr0": 0.02}})
        a, b = ptq.tensors(), qat.tensors()
        self.assertEqual(sorted(a), sorted(b))
        self.assertTrue(any((a[n] != b[n]).any() for n in a))
        self.assertEqual(len(qat.forward(np.zeros((1, 3, 64, 64), np.float32))),
                         qat.num_levels)
        with yolopr.Quantizer(m, ds, calib_images=2, size=64, sqnr_images=0) as qz:
            with self.assertRaises(yolopr.YoloprError) as cm:
                qz.convert(m)
            self.assertEqual(cm.exception.code, ESTATE)
            qz.quantize().close()
            with self.assertRaises(yolopr.YoloprError) as cm:
                qz.convert(m)
            self.assertEqual(cm.exception.code, EINVAL)
        ptq.close()
        qat.close()


class DepGraphTest(unittest.TestCase):
    def test_groups(self):
        m = yolopr.Model.from_cfg("yolov7-tiny", nc=20)
        g = yolopr.DepGraph(m)
        n = len(g)
        self.assertEqual(n, 59)
        groups = [g.group(i) for i in range(n)]
        fixed = [i for i, (_, p) in enumerate(groups) if not p]
        # the image's channels and the three detect-head outputs
        self.assertEqual(len(fixed), 4)
        self.assertEqual(groups[0], (3, False))
        self.assertEqual(groups[1], (32, True))
        self.assertTrue(all(c > 0 for c, _ in groups))
        text = g.describe()
        self.assertIn("model.0.conv.weight", text)
        self.assertIn("model.77.m.0.weight", text)
        self.assertIn("the image's channels", g.describe(0))
        self.assertNotIn("group 2:", g.describe(1))
        self.assertIn("digraph", g.dot())
        with self.assertRaises(yolopr.YoloprError) as cm:
            g.group(n)
        self.assertEqual(cm.exception.code, ERANGE)

    def test_prune_group(self):
        m = yolopr.Model.from_cfg("yolov7-tiny", nc=3)
        g = yolopr.DepGraph(m)
        before = m.num_params
        with self.assertRaises(yolopr.YoloprError) as cm:
            g.prune_group(0, [0])
        self.assertEqual(cm.exception.code, EINVAL)   # the image's channels
        with self.assertRaises(yolopr.YoloprError) as cm:
            g.prune_group(1, [3, 3])
        self.assertEqual(cm.exception.code, EINVAL)   # duplicate
        with self.assertRaises(yolopr.YoloprError) as cm:
            g.prune_group(1, range(32))
        self.assertEqual(cm.exception.code, ERANGE)   # nothing left
        self.assertEqual(m.num_params, before)        # untouched
        g.prune_group(1, np.array([0, 5, 31]))
        self.assertEqual(g.group(1), (29, True))
        self.assertLess(m.num_params, before)
        outs = m.forward(np.full((1, 3, 64, 64), 0.5, np.float32))
        self.assertEqual(outs[0].shape[-1], 3 + 5)
        # a graph is refused once its model changed by other means
        m.fuse()
        with self.assertRaises(yolopr.YoloprError) as cm:
            len(g)
        self.assertEqual(cm.exception.code, ESTATE)
        m.close()
        with self.assertRaises(ValueError):
            g.group(0)


class PrunerTest(unittest.TestCase):
    def test_torch_pruning_figure(self):
        m = yolopr.Model.from_cfg("yolov7-tiny", nc=20)
        self.assertEqual(m.num_params, 6066402)
        p = yolopr.Pruner(yolopr.DepGraph(m), ratio=0.25, round_to=8, ignore=["model.77.m.*"])
        gc.collect()   # the pruner keeps its graph alive
        self.assertEqual(p.steps_done, 0)
        p.step()
        self.assertEqual(p.steps_done, 1)
        self.assertEqual(m.num_params, 3428250)   # Torch-Pruning 1.6, L2, local, round_to 8
        with self.assertRaises(yolopr.YoloprError) as cm:
            p.step()
        self.assertEqual(cm.exception.code, ESTATE)   # all steps done
        rep = p.report(json=True)
        self.assertEqual(rep["params_before"], 6066402)
        self.assertEqual(rep["params_after"], m.num_params)
        self.assertIn("Parameters", p.report())
        for c, prunable in (p.graph.group(i) for i in range(len(p.graph))):
            if prunable:
                self.assertEqual(c % 8, 0)
        outs = m.forward(np.full((1, 3, 64, 64), 0.25, np.float32))
        self.assertEqual(len(outs), 3)
        self.assertTrue(all(o.shape[-1] == 20 + 5 for o in outs))
        self.assertTrue(all(np.isfinite(o).all() for o in outs))

    def test_options(self):
        m = yolopr.Model.from_cfg("yolov7-tiny", nc=3)
        g = yolopr.DepGraph(m)
        p = yolopr.Pruner(g, ratio=0.3, importance="lamp", steps=2, layer_ratios={"model.0.*": 0.5})
        p.step().step()
        self.assertEqual(p.steps_done, 2)
        self.assertEqual(g.group(1), (16, True))   # model.0: 32 channels at its own ratio 0.5

    def test_errors(self):
        m = yolopr.Model.from_cfg("yolov7-tiny", nc=3)
        g = yolopr.DepGraph(m)
        for kwargs in ({"ratio": 1.0}, {"ratio": -0.1}, {"round_to": 0},
                       {"max_layer_ratio": 0.0}, {"layer_ratios": {"model.0.*": 1.0}}):
            with self.assertRaises(yolopr.YoloprError) as cm:
                yolopr.Pruner(g, **kwargs)
            self.assertEqual(cm.exception.code, ERANGE, kwargs)
        with self.assertRaises(ValueError):
            yolopr.Pruner(g, importance="magnitude")
        with self.assertRaises(yolopr.YoloprError) as cm:
            yolopr.Pruner(g, ignore="no.such.layer")
        self.assertEqual(cm.exception.code, ENOTFOUND)
        self.assertIn("no.such.layer", str(cm.exception))
        before = m.num_params
        p = yolopr.Pruner(g, ratio=0.5)
        m.fuse()   # the model changed behind the graph
        with self.assertRaises(yolopr.YoloprError) as cm:
            p.step()
        self.assertEqual(cm.exception.code, ESTATE)
        self.assertLessEqual(m.num_params, before)


class NoNumpyTest(unittest.TestCase):
    def test_importable_without_numpy(self):
        code = ("import sys; sys.modules['numpy'] = None; sys.path.insert(0, %r)\n"
                "import yolopr\n"
                "ds = yolopr.Dataset.synth(2, 64, classes=3)\n"
                "assert len(ds) == 2 and ds.num_classes == 3\n"
                "try:\n    ds.image(0)\nexcept RuntimeError:\n    pass\n"
                "else:\n    raise SystemExit('image without NumPy')\n"
                "e = yolopr.Evaluator(None, ds)\n"
                "e.add_detections(0, [(1, 1, 20, 20, 0.5, 0)])\n"
                "assert 0 <= e.compute().get()['map50'] <= 1\n"
                "print('ok')\n" % os.path.abspath(BINDING))
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             env=dict(os.environ), timeout=60)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertEqual(out.stdout.strip(), "ok")



class MoreTest(unittest.TestCase):
    def test_tensors_export_sensitivity(self):
        m = yolopr.Model.from_cfg("yolov7-tiny", nc=3, width_multiple=0.25, seed=1)
        t = m.tensors()
        self.assertEqual(t["model.0.conv.weight"].shape, (8, 3, 3, 3))
        self.assertEqual(sum(v.size for k, v in t.items()
                             if "running" not in k and "anchor" not in k), m.num_params)
        ds = yolopr.Dataset.synth(2, 64, classes=3, seed=2)
        g = yolopr.DepGraph(m)
        p = yolopr.Pruner(g, ratio=0.25, round_to=8)
        with tempfile.TemporaryDirectory() as d:
            table = p.sensitivity(ds, size=64, max_images=2, ratios=(0.5,),
                                  plot=os.path.join(d, "s.png"))
            self.assertIn("base_map50", table)
            self.assertGreater(len(table["groups"]), 10)
            self.assertTrue(os.path.getsize(os.path.join(d, "s.png")) > 100)
            p.step()
            p.plot(os.path.join(d, "p.png"))
            m.export_yolov7(os.path.join(d, "m.yaml"), os.path.join(d, "m.safetensors"))
            back = yolopr.Model.from_cfg(os.path.join(d, "m.yaml"))
            back.load_weights(os.path.join(d, "m.safetensors"), strict=True)
            x = np.random.default_rng(0).random((1, 3, 64, 64), dtype=np.float32)
            for a, b in zip(m.forward(x), back.forward(x)):
                np.testing.assert_array_equal(a, b)

if __name__ == "__main__":
    unittest.main(verbosity=2)
